/**
 * Every screen in a real browser against a real node, with screenshots: sign-in (bad token,
 * good token, sign-out), profiles (search, filters, create with the keyboard, delete with a
 * confirmation, export and import JSON), audit (filters; denied attempts stand out), caches
 * (stats, chart, clear with confirmation). Peers and tokens: peers.test.ts, tokens.test.ts.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { ADMIN, api, createProfile, eventually, nodeAndBrowser, shot, signedInPage, unlabeledControls, dialogReady, type TestNode } from './helpers.js';

let node: TestNode;
let browser: Browser;
let page: Page;

nodeAndBrowser((env) => ({ node, browser } = env));

beforeAll(async () => {
  await createProfile(node.url, 'support-bot', { name: 'Support bot', modelId: 'gpt-4o', meta: { tags: ['support'] } });
  await createProfile(node.url, 'summarizer', { name: 'Summarizer', modelId: 'claude-3-haiku', meta: { tags: ['batch'] } });
  await createProfile(node.url, 'translator', { name: 'Translator', modelId: 'gpt-4o', meta: { tags: ['batch', 'i18n'] } });
  const v = (await api(node.url, 'GET', '/api/profiles/support-bot')).body.version;
  await api(node.url, 'PUT', '/api/profiles/support-bot/labels/production', { version: v });
});

const rows = async (p: Page) => (await p.locator('[data-testid="profile-table"] tbody tr').allInnerTexts()).filter((t) => !t.startsWith('No profiles'));

describe('screens', () => {
  it('sign-in refuses a bad token, accepts a good one, keeps it for the tab only, signs out', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const p = await context.newPage();
    await p.goto(node.url);
    await shot(p, 'sign-in');
    expect(await unlabeledControls(p)).toEqual([]);
    await p.getByLabel('API token').fill('not-a-valid-token-at-all');
    await p.keyboard.press('Enter');
    await expect(p.getByRole('alert').filter({ hasText: 'AUTH_UNAUTHORIZED' }).innerText()).resolves.toContain('not valid');
    await p.getByLabel('API token').fill(ADMIN);
    await p.keyboard.press('Enter');
    await p.getByRole('navigation', { name: 'Main' }).waitFor();
    expect(await p.evaluate(() => [sessionStorage.getItem('profilesync.token'), localStorage.length, document.cookie])).toEqual([ADMIN, 0, '']);
    await p.reload();
    await p.getByRole('navigation', { name: 'Main' }).waitFor(); // same tab: still signed in
    await p.getByRole('button', { name: 'Sign out' }).click();
    await p.getByLabel('API token').waitFor();
    expect(await p.evaluate(() => sessionStorage.getItem('profilesync.token'))).toBeNull();
    await context.close();
  });

  it('profiles: search, filter, create with the keyboard, delete with a confirmation, export and import', async () => {
    ({ page } = await signedInPage(browser, node.url, ADMIN, 'Operator'));
    await page.getByTestId('profile-table').waitFor();
    await eventually(async () => (await rows(page)).length === 3, 'three rows');
    await page.getByLabel('Search').fill('summ');
    await eventually(async () => (await rows(page)).length === 1, 'the search (on the node)');
    await page.getByLabel('Search').fill('');
    await eventually(async () => (await rows(page)).length === 3, 'every row again');
    await page.getByLabel('Model').selectOption('gpt-4o');
    await eventually(async () => (await rows(page)).length === 2, 'model filter');
    await page.getByLabel('Model').selectOption('');
    await page.getByLabel('Tag').selectOption('batch');
    await eventually(async () => (await rows(page)).length === 2, 'tag filter');
    await page.getByLabel('Tag').selectOption('');
    await page.getByLabel('Label').selectOption('production');
    await eventually(async () => (await rows(page)).length === 1, 'label filter');
    await page.getByLabel('Label').selectOption('');
    await eventually(async () => (await rows(page)).length === 3, 'no filter');
    await shot(page, 'profiles');
    expect(await unlabeledControls(page)).toEqual([]);

    // create: the dialog opens focused on its first field; Enter submits
    await page.getByRole('button', { name: 'New profile' }).click();
    const dialog = page.getByTestId('create-dialog');
    await dialogReady(page, 'create-dialog');
    await expect(page.evaluate(() => document.activeElement?.id)).resolves.toBe('new-name');
    await page.keyboard.type('Code reviewer');
    await page.keyboard.press('Tab');
    await page.keyboard.type('gpt-4.1');
    await page.keyboard.press('Tab');
    await page.keyboard.type('code-reviewer');
    await page.keyboard.press('Enter');
    await dialog.waitFor({ state: 'detached' });
    await page.waitForURL(/#\/profiles\/code-reviewer$/);
    expect((await api(node.url, 'GET', '/api/profiles/code-reviewer')).body.modelId).toBe('gpt-4.1');
    // a taken id: the node's code is shown inside the dialog, and Escape closes it
    await page.goto(`${node.url}/#/profiles`);
    await page.getByRole('button', { name: 'New profile' }).click();
    await dialog.getByLabel('Name (required)').fill('Again');
    await dialog.getByLabel('Model id (required)').fill('m');
    await dialog.getByLabel(/^Id/).fill('code-reviewer');
    await dialog.getByRole('button', { name: 'Create' }).click();
    await expect(dialog.getByRole('alert').innerText()).resolves.toContain('PROFILE_EXISTS');
    await dialogReady(page, 'create-dialog');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });

    // export (a download of the listed profiles)
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export JSON' }).click()]);
    const dir = mkdtempSync(join(tmpdir(), 'ps-web-export-'));
    const file = join(dir, 'export.json');
    await download.saveAs(file);
    const exported = JSON.parse(readFileSync(file, 'utf8'));
    expect(exported.format).toBe('profilesync-export/v1');
    expect(exported.profiles.map((p: any) => p.id).sort()).toEqual(['code-reviewer', 'summarizer', 'support-bot', 'translator']);

    // import: one changed, one new, one invalid
    const items = exported.profiles.filter((p: any) => p.id === 'summarizer').map((p: any) => ({ ...p, description: 'Imported description' }));
    items.push({ id: 'imported-1', name: 'Imported', modelId: 'gpt-4o', systemMessage: 'hi' });
    items.push({ id: 'bad one', name: 'Bad', modelId: 'x' });
    writeFileSync(file, JSON.stringify({ format: 'profilesync-export/v1', profiles: items }));
    await page.locator('input[type=file]').setInputFiles(file);
    await page.getByTestId('alert').filter({ hasText: 'Import:' }).waitFor();
    await expect(page.getByTestId('alert').innerText()).resolves.toMatch(/1 created, 1 updated, 0 unchanged, 1 rejected\./);
    const rejected = page.getByTestId('import-table').locator('tr[data-outcome="rejected"]');
    await expect(rejected.innerText()).resolves.toMatch(/bad one\s+✖ rejected\s+id\s+PROFILE_INVALID_ID/);
    await page.getByRole('button', { name: 'Close report' }).click();
    expect((await api(node.url, 'GET', '/api/profiles/summarizer')).body.description).toBe('Imported description');
    expect((await api(node.url, 'GET', '/api/profiles/imported-1')).status).toBe(200);

    // delete: Cancel keeps it, Delete tombstones it
    await page.getByRole('button', { name: 'Delete Imported' }).click();
    const del = page.getByTestId('delete-dialog');
    await dialogReady(page, 'delete-dialog');
    await page.keyboard.press('Escape');
    await del.waitFor({ state: 'detached' });
    // focus back on the opener (the dialog's unmount effect runs after the DOM is gone: wait for it)
    await page.waitForFunction(() => document.activeElement?.getAttribute('aria-label') === 'Delete Imported', undefined, { timeout: 5000 });
    expect((await api(node.url, 'GET', '/api/profiles/imported-1')).status).toBe(200);
    await page.getByRole('button', { name: 'Delete Imported' }).click();
    await shot(page, 'profiles-delete-confirm');
    expect(await unlabeledControls(page)).toEqual([]);
    await del.getByRole('button', { name: 'Delete' }).click();
    await del.waitFor({ state: 'detached' });
    expect((await api(node.url, 'GET', '/api/profiles/imported-1')).body.error.code).toBe('PROFILE_DELETED');
    await eventually(async () => !(await rows(page)).some((r) => r.includes('imported-1')), 'the deleted row to go');
  });

  it('audit: filters, and denied attempts stand out in text and style', async () => {
    await fetch(`${node.url}/api/profiles`, { headers: { authorization: 'Bearer wrong-token-0123456789' } });
    await page.goto(`${node.url}/#/audit`);
    const table = page.getByTestId('audit-table');
    await table.waitFor();
    const denied = table.locator('tr[data-outcome="denied"]').first();
    await denied.waitFor();
    await expect(denied.innerText()).resolves.toContain('DENIED');
    await expect(denied.getAttribute('class')).resolves.toBe('denied');
    await page.getByLabel('Profile id').fill('summarizer');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await eventually(async () => {
      const profiles = await table.locator('tbody tr td:nth-child(4)').allInnerTexts();
      return profiles.length > 0 && profiles.every((p) => p === 'summarizer');
    }, 'profile filter');
    await page.getByLabel('Profile id').fill('');
    await page.getByLabel('Only denied / rejected').check();
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await eventually(async () => {
      const outcomes = await table.locator('tbody tr').evaluateAll((trs) => trs.map((t) => t.getAttribute('data-outcome')));
      return outcomes.length > 0 && outcomes.every((o) => o !== 'ok');
    }, 'denied filter');
    await page.getByLabel('Only denied / rejected').uncheck();
    await page.getByLabel('Actor').fill('admin');
    await page.getByLabel('Since').fill('2000-01-01T00:00');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await eventually(async () => {
      const actors = await table.locator('tbody tr td:nth-child(5)').allInnerTexts();
      return actors.length > 0 && actors.every((a) => a === 'admin');
    }, 'actor filter');
    await page.getByLabel('Actor').fill('');
    await page.getByLabel('Since').fill('');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await table.locator('tr[data-outcome="denied"]').first().waitFor();
    await shot(page, 'audit');
    expect(await unlabeledControls(page)).toEqual([]);
  });

  it('caches: stats, a hit-rate chart over time, clear one cache after a confirmation', async () => {
    for (let i = 0; i < 5; i++) await api(node.url, 'GET', '/api/profiles/support-bot');
    await page.goto(`${node.url}/#/cache`);
    const table = page.getByTestId('cache-table');
    await table.waitFor();
    const names = await table.locator('tbody tr').evaluateAll((trs) => trs.map((t) => t.getAttribute('data-cache')));
    const stats = (await api(node.url, 'GET', '/api/cache/stats')).body.caches as { name: string }[];
    expect(names.sort()).toEqual(stats.map((c) => c.name).sort());
    // two polls at least -> a line per cache
    await eventually(async () => (await page.locator('[data-testid="hit-rate-chart"] path').count()) === stats.length && (await page.locator('figure.chart').getAttribute('data-tick')) !== '1', 'the chart to have samples', 15_000);
    const target = stats[0]!.name;
    await table.getByRole('button', { name: `Clear cache ${target}` }).click();
    const dialog = page.getByTestId('clear-dialog');
    await dialogReady(page, 'clear-dialog');
    await expect(dialog.innerText()).resolves.toContain(target);
    await page.keyboard.press('Enter');
    await dialog.waitFor({ state: 'detached' });
    await page.getByTestId('status').filter({ hasText: `Cleared: ${target}` }).waitFor();
    const audit = (await api(node.url, 'GET', '/api/audit?action=cache.clear')).body.records;
    expect(audit[0].details.caches).toEqual([target]);
    await shot(page, 'cache');
    expect(await unlabeledControls(page)).toEqual([]);
  });
});
