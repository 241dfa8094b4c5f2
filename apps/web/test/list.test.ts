/**
 * The profile list in Chromium against a real node: onboarding on an empty node (create the
 * first profile; import with a per-profile report naming field and reason), live updates
 * (profiles created over HTTP appear without a reload), sort, keyset pages, server-side
 * search over prompt text with the place of the match, and duplicate.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { ADMIN, api, createProfile, dialogReady, eventually, nodeAndBrowser, shot, signedInPage, unlabeledControls, type TestNode } from './helpers.js';

let node: TestNode;
let browser: Browser;
let page: Page;

nodeAndBrowser((env) => ({ node, browser } = env));

const rowIds = (p: Page) => p.locator('[data-testid="profile-table"] tbody tr').evaluateAll((trs) => trs.map((t) => t.getAttribute('data-id') ?? ''));
const countText = (p: Page) => p.getByTestId('list-count').innerText();

/** Waits until the count line reads `expected`; the error says what it read last. */
async function countIs(p: Page, expected: string, timeout = 20_000): Promise<void> {
  let last = '';
  await eventually(async () => (last = await countText(p)) === expected, `the count "${expected}"`, timeout).catch((err: Error) => {
    throw new Error(`${err.message}; it reads "${last}"`);
  });
}

describe('profile list', () => {
  it('an empty node shows how to start: create the first profile', async () => {
    ({ page } = await signedInPage(browser, node.url, ADMIN, 'Operator'));
    const onboarding = page.getByTestId('onboarding');
    await onboarding.waitFor();
    await expect(onboarding.innerText()).resolves.toContain('This node has no profiles yet');
    await shot(page, 'profiles-onboarding');
    expect(await unlabeledControls(page)).toEqual([]);
    await onboarding.getByRole('button', { name: 'Create your first profile' }).click();
    await dialogReady(page, 'create-dialog');
    await page.keyboard.type('First bot');
    await page.keyboard.press('Tab');
    await page.keyboard.type('gpt-4o');
    await page.keyboard.press('Enter');
    await page.waitForURL(/#\/profiles\/first-bot/);
    const created = (await api(node.url, 'GET', '/api/profiles')).body.profiles;
    expect(created.map((p: any) => [p.name, p.modelId])).toEqual([['First bot', 'gpt-4o']]);
  });

  it('import reports every profile, and for a refused one the field and the reason', async () => {
    // back to an empty list: delete the first profile, so onboarding shows again (its import)
    await api(node.url, 'DELETE', `/api/profiles/${(await api(node.url, 'GET', '/api/profiles')).body.profiles[0].id}`);
    await page.goto(`${node.url}/#/profiles`);
    await page.getByTestId('onboarding').waitFor();
    const file = join(mkdtempSync(join(tmpdir(), 'ps-web-import-')), 'import.json');
    writeFileSync(
      file,
      JSON.stringify({
        format: 'profilesync-export/v1',
        profiles: [
          { id: 'good-one', name: 'Good one', modelId: 'gpt-4o', systemMessage: 'You are precise.' },
          { id: 'too-hot', name: 'Too hot', modelId: 'gpt-4o', parameters: { temperature: 7 } },
          { name: 'No id', modelId: 'gpt-4o' },
        ],
      }),
    );
    await page.getByLabel('Import a JSON export (choose a file)').setInputFiles(file);
    const report = page.getByTestId('import-report');
    await report.waitFor();
    await expect(report.innerText()).resolves.toContain('1 created, 0 updated, 0 unchanged, 2 rejected.');
    const rows = await report.locator('tbody tr').evaluateAll((trs) => trs.map((t) => [...t.querySelectorAll('td')].map((td) => (td.textContent ?? '').trim())));
    expect(rows[0]).toEqual(['good-one', 'created', '', '']);
    expect(rows[1]!.slice(0, 3)).toEqual(['too-hot', '✖ rejected', 'parameters.temperature']);
    expect(rows[1]![3]).toMatch(/^PROFILE_INVALID: .*temperature/);
    expect(rows[2]!.slice(0, 3)).toEqual(['(item 3)', '✖ rejected', 'id']);
    expect(rows[2]![3]).toMatch(/^PROFILE_INVALID_ID: /);
    await expect(page.getByTestId('alert').innerText()).resolves.toContain('1 created, 0 updated, 0 unchanged, 2 rejected.');
    // the list replaces the onboarding once something exists
    await page.getByTestId('profile-table').waitFor();
    expect(await rowIds(page)).toEqual(['good-one']);
    await shot(page, 'profiles-import-report');
    expect(await unlabeledControls(page)).toEqual([]);
    expect((await api(node.url, 'GET', '/api/profiles/too-hot')).status).toBe(404); // a refused profile changes nothing
  });

  it('profiles created over HTTP appear live, without a reload', async () => {
    await page.getByRole('button', { name: 'Close report' }).click();
    await countIs(page, '1–1 of 1 profiles');
    const marker = await page.evaluate(() => ((window as any).__noReload = 'still-here'));
    const names = Array.from({ length: 150 }, (_, i) => `live-${String(i).padStart(3, '0')}`);
    for (let i = 0; i < names.length; i += 15) {
      await Promise.all(names.slice(i, i + 15).map((id, k) => createProfile(node.url, id, { name: `Live ${id.slice(5)}`, modelId: (i + k) % 2 ? 'claude-3' : 'gpt-4o' })));
    }
    await countIs(page, '1–50 of 151 profiles', 30_000);
    expect(await page.evaluate(() => (window as any).__noReload)).toBe(marker);
    expect(await page.getByTestId('feed').getAttribute('data-mode')).toBe('live'); // from the change feed, not polling
    // and a deletion elsewhere disappears too
    await api(node.url, 'DELETE', '/api/profiles/good-one');
    await countIs(page, '1–50 of 150 profiles', 30_000);
  });

  it('a node without the change feed is polled instead, and still updates the list', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.route('**/api/changes*', (r) => r.fulfill({ status: 404, contentType: 'application/json', body: JSON.stringify({ error: { code: 'ROUTE_NOT_FOUND', message: 'no feed' } }) }));
    const p = await context.newPage();
    await p.goto(node.url);
    await p.getByLabel('API token').fill(ADMIN);
    await p.keyboard.press('Enter');
    await countIs(p, '1–50 of 150 profiles');
    await p.getByTestId('feed').filter({ hasText: 'Refreshing every 5 s' }).waitFor();
    expect(await p.getByTestId('feed').getAttribute('data-mode')).toBe('polling');
    await createProfile(node.url, 'polled-1');
    await countIs(p, '1–50 of 151 profiles', 30_000);
    await api(node.url, 'DELETE', '/api/profiles/polled-1');
    await context.close();
  });

  it('a reload asks for the first page once (the inline script of index.html asks early and the list takes its answer)', async () => {
    const asked: string[] = [];
    const onRequest = (r: { url(): string }) => {
      if (r.url().includes('/api/profiles?')) asked.push(r.url().slice(r.url().indexOf('/api/')));
    };
    const refused: string[] = [];
    const onConsole = (m: { type(): string; text(): string }) => {
      if (/Content Security Policy/i.test(m.text())) refused.push(m.text());
    };
    page.on('request', onRequest);
    page.on('console', onConsole);
    await page.reload();
    await countIs(page, '1–50 of 150 profiles');
    await page.getByTestId('feed').filter({ hasText: 'Live' }).waitFor();
    page.off('request', onRequest);
    page.off('console', onConsole);
    expect(asked).toEqual(['/api/profiles?facets=true&limit=50&order=asc&sort=name']);
    expect(refused).toEqual([]); // the inline script ran: the node's CSP allows it by its hash
    expect(await page.evaluate(() => 'sessionStorage' in window && (window as any).__psPrimed === undefined)).toBe(true); // taken by the list
  });

  it('sorts on the node, pages with Next / Previous, and the page size is a choice', async () => {
    await eventually(async () => (await rowIds(page))[0] === 'live-000', 'name order');
    await page.getByRole('button', { name: 'Next page →' }).click();
    await eventually(async () => (await rowIds(page))[0] === 'live-050', 'the second page');
    await expect(countText(page)).resolves.toBe('51–100 of 150 profiles');
    await page.getByRole('button', { name: 'Next page →' }).click();
    await countIs(page, '101–150 of 150 profiles');
    expect(await page.getByRole('button', { name: 'Next page →' }).isDisabled()).toBe(true);
    await page.getByRole('button', { name: '← Previous page' }).click();
    await eventually(async () => (await rowIds(page))[0] === 'live-050', 'back to the second page');

    await createProfile(node.url, 'zz-newest', { name: 'Newest', modelId: 'a-model' });
    await page.getByLabel('Sort by').selectOption({ label: 'Recently updated' });
    await eventually(async () => (await rowIds(page))[0] === 'zz-newest', 'newest first (and back on page 1)');
    // each wait names two rows: the first row alone is zz-newest in all three orders, so it
    // would pass before the list has re-sorted
    const firstTwo = async (): Promise<string> => (await rowIds(page)).slice(0, 2).join(' ');
    await page.getByLabel('Sort by').selectOption({ label: 'Model (A–Z)' });
    await eventually(async () => (await firstTwo()) === 'zz-newest live-001', 'a-model first, then claude-3 by name');
    await page.getByLabel('Sort by').selectOption({ label: 'Name (Z–A)' });
    await eventually(async () => (await firstTwo()) === 'zz-newest live-149', 'Newest, then Live 149, when reversed');
    await page.getByLabel('Rows per page').selectOption('200');
    await countIs(page, '1–151 of 151 profiles');
    await page.getByLabel('Sort by').selectOption({ label: 'Name (A–Z)' });
    await page.getByLabel('Rows per page').selectOption('50');
    expect(await unlabeledControls(page)).toEqual([]);
  });

  it('searches prompt text on the node and says where each profile matched', async () => {
    await createProfile(node.url, 'refunds', { name: 'Refund desk', systemMessage: 'You handle refunds for the Acme store. Be kind.' });
    await createProfile(node.url, 'reviewer', { name: 'Reviewer', systemMessage: 'Review code.', templates: { pr: 'Check the ACME style guide before you approve.' } });
    await page.getByLabel('Search').fill('acme');
    await eventually(async () => JSON.stringify(await rowIds(page)) === JSON.stringify(['refunds', 'reviewer']), 'the two prompt-text matches');
    const snippets = await page.locator('[data-testid="profile-table"] .match').allInnerTexts();
    expect(snippets).toEqual(['in system message: You handle refunds for the Acme store. Be kind.', 'in template pr: Check the ACME style guide before you approve.']);
    expect(await page.locator('[data-testid="profile-table"] .match mark').allInnerTexts()).toEqual(['Acme', 'ACME']);
    await expect(countText(page)).resolves.toBe('1–2 of 2 profiles matching “acme”');
    await page.getByLabel('Search').fill('acme kind');
    await eventually(async () => JSON.stringify(await rowIds(page)) === JSON.stringify(['refunds']), 'every word must match');
    await shot(page, 'profiles-search');
    await page.getByLabel('Search').fill('no such words anywhere');
    await countIs(page, 'No profiles match.');
    await page.getByLabel('Search').fill('');
    await countIs(page, '1–50 of 153 profiles');
  });

  it('duplicates a profile under a new name and id (content copied, labels not), with the keyboard', async () => {
    const src = (await api(node.url, 'GET', '/api/profiles/refunds')).body;
    await api(node.url, 'PUT', '/api/profiles/refunds/labels/production', { version: src.version });
    await api(node.url, 'POST', '/api/profiles', { id: 'refunds-copy', name: 'Taken', modelId: 'x' }); // the first suggestion is taken
    await page.getByLabel('Search').fill('refund desk');
    await eventually(async () => JSON.stringify(await rowIds(page)) === JSON.stringify(['refunds']), 'the source row');
    await page.getByRole('button', { name: 'Duplicate Refund desk' }).focus();
    await page.keyboard.press('Enter');
    await dialogReady(page, 'duplicate-dialog');
    const dialog = page.getByTestId('duplicate-dialog');
    await expect(dialog.getByLabel('Name of the copy').inputValue()).resolves.toBe('Copy of Refund desk');
    await eventually(async () => (await dialog.getByLabel('Id of the copy').inputValue()) === 'refunds-copy-2', 'a free id suggested');
    expect(await unlabeledControls(page)).toEqual([]);
    await page.keyboard.press('Enter');
    await page.waitForURL(/#\/profiles\/refunds-copy-2$/);
    const copy = (await api(node.url, 'GET', '/api/profiles/refunds-copy-2')).body;
    expect(copy).toMatchObject({ name: 'Copy of Refund desk', modelId: src.modelId, systemMessage: src.systemMessage, templates: src.templates, parameters: src.parameters, meta: src.meta, labels: {} });
    await page.getByTestId('status').filter({ hasText: 'Duplicated Refund desk as Copy of Refund desk (refunds-copy-2).' }).waitFor();
  });
});
