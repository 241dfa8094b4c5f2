/**
 * A second newcomer trial of the dashboard: the console stays clean (no 404 for an icon, no
 * JSON Schema compiler dump per keystroke under the page's CSP), names sort as people read
 * them, search marks words in the name, the created-token dialog has nothing to cancel, and
 * the label dialog says only what is wrong with an invalid name.
 */
import { describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { ADMIN, api, createProfile, dialogReady, eventually, nodeAndBrowser, signedInPage, waitForSync, type TestNode } from './helpers.js';

let node: TestNode;
let browser: Browser;

nodeAndBrowser((env) => ({ node, browser } = env));

const rowIds = (p: Page) => p.locator('[data-testid="profile-table"] tbody tr').evaluateAll((trs) => trs.map((t) => t.getAttribute('data-id') ?? ''));

/** Everything the page printed to its console as a warning or error, and every 4xx/5xx it loaded. */
function watchConsole(page: Page): { messages: string[]; failed: string[] } {
  const out = { messages: [] as string[], failed: [] as string[] };
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') out.messages.push(`${m.type()}: ${m.text().slice(0, 300)}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400) out.failed.push(`${r.status()} ${new URL(r.url()).pathname}`);
  });
  return out;
}

describe('a second newcomer trial', () => {
  it('the page links an icon the node serves, and editing tool schemas prints nothing to the console', async () => {
    const id = 'trial-tools';
    await createProfile(node.url, id);
    const { context, page } = await signedInPage(browser, node.url, ADMIN, 'Tess');
    const seen = watchConsole(page);
    try {
      // the icon: linked from the page and served (an SVG), so nothing asks for /favicon.ico
      const icon = await page.evaluate(async () => {
        const link = document.querySelector<HTMLLinkElement>('link[rel="icon"]');
        if (!link) return undefined;
        const r = await fetch(link.href);
        return { path: new URL(link.href).pathname, status: r.status, type: r.headers.get('content-type'), body: await r.text() };
      });
      expect(icon).toMatchObject({ path: '/favicon.svg', status: 200, type: expect.stringMatching(/^image\/svg\+xml/), body: expect.stringContaining('<svg') });

      await page.goto(`${node.url}/#/profiles/${id}`);
      await waitForSync(page, ['connected', 'saved']);
      const form = page.getByTestId('params-form');
      await form.getByLabel('Add parameter').fill('tools');
      await form.getByRole('button', { name: 'Add', exact: true }).click();
      const field = form.getByLabel('tools', { exact: true });
      // a person typing a schema: every keystroke runs the node's parameter rules in the page
      await field.click();
      await page.keyboard.type('[{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}}]', { delay: 0 });
      await field.fill('[{"type": "function", "function": {"name": "lookup", "parameters": {"type": 12}}}]');
      // the schema check the page cannot compile under its CSP is left to the node: its answer appears beside the field
      await form.getByRole('button', { name: 'Save parameters' }).click();
      await form.locator('#err-p-tools').filter({ hasText: 'PROFILE_INVALID' }).waitFor();
      expect((await api(node.url, 'GET', `/api/profiles/${id}`)).body.parameters.tools).toBeUndefined();
      await field.fill('[{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]');
      await form.getByRole('button', { name: 'Save parameters' }).click();
      await page.getByTestId('status').filter({ hasText: 'Parameters saved.' }).waitFor();
      expect((await api(node.url, 'GET', `/api/profiles/${id}`)).body.parameters.tools[0].function.name).toBe('lookup');

      // the node's refusal above is the one expected 4xx; nothing else failed, nothing was printed but its console line
      expect(seen.failed).toEqual([`422 /api/profiles/${id}`]);
      expect(seen.messages.filter((m) => !m.includes('the server responded with a status of 422'))).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('sorts names with numbers by their value and marks search words in the name, id and model', async () => {
    for (const n of [0, 105, 35, 70, 9]) await createProfile(node.url, `sortcheck-${n}`, { name: `Sortcheck ${n}`, systemMessage: 'Numbers.' });
    await createProfile(node.url, 'billing', { name: 'Billing', modelId: 'gpt-4o-billing', systemMessage: 'You handle refunds for the store.' });
    const { context, page } = await signedInPage(browser, node.url, ADMIN, 'Tess');
    try {
      await page.getByLabel('Sort by').selectOption({ label: 'Name (A–Z)' });
      await page.getByLabel('Search').fill('sortcheck');
      const numeric = ['sortcheck-0', 'sortcheck-9', 'sortcheck-35', 'sortcheck-70', 'sortcheck-105'];
      await eventually(async () => JSON.stringify(await rowIds(page)) === JSON.stringify(numeric), 'the names in numeric order');
      // the HTTP list answers the same order, on one page and page by page
      const one = (await api(node.url, 'GET', '/api/profiles?q=sortcheck&sort=name&limit=10')).body.profiles.map((p: { id: string }) => p.id);
      expect(one).toEqual(numeric);
      const paged: string[] = [];
      let cursor = '';
      do {
        const r = (await api(node.url, 'GET', `/api/profiles?q=sortcheck&sort=name&limit=2${cursor ? `&cursor=${cursor}` : ''}`)).body;
        paged.push(...r.profiles.map((p: { id: string }) => p.id));
        cursor = r.nextCursor ?? '';
      } while (cursor);
      expect(paged).toEqual(numeric);
      await page.getByLabel('Sort by').selectOption({ label: 'Name (Z–A)' });
      await eventually(async () => JSON.stringify(await rowIds(page)) === JSON.stringify([...numeric].reverse()), 'the names in reverse numeric order');

      // "refunds billing": refunds is in the system message (the snippet), billing in the name, id and model
      await page.getByLabel('Search').fill('refunds billing');
      await eventually(async () => JSON.stringify(await rowIds(page)) === JSON.stringify(['billing']), 'the one match');
      const row = page.locator('[data-testid="profile-table"] tbody tr[data-id="billing"]');
      await expect(row.locator('.match mark').allInnerTexts()).resolves.toEqual(['refunds']);
      const cells = row.locator('td');
      await expect(cells.nth(0).locator('a mark').allInnerTexts()).resolves.toEqual(['Billing']);
      await expect(cells.nth(1).locator('mark').allInnerTexts()).resolves.toEqual(['billing']);
      await expect(cells.nth(2).locator('mark').allInnerTexts()).resolves.toEqual(['billing']);
      await expect(cells.nth(2).innerText()).resolves.toBe('gpt-4o-billing');
      // the link's name is still the whole name
      await page.getByRole('link', { name: 'Billing', exact: true }).waitFor();
      // no search: nothing marked
      await page.getByLabel('Search').fill('');
      await eventually(async () => (await rowIds(page)).length > 1, 'the whole list');
      expect(await page.locator('[data-testid="profile-table"] tbody mark').count()).toBe(0);
    } finally {
      await context.close();
    }
  });

  it('the created-token dialog has only "Done" (the token exists: there is nothing to cancel)', async () => {
    const { context, page } = await signedInPage(browser, node.url, ADMIN, 'Tess');
    try {
      await page.goto(`${node.url}/#/tokens`);
      await page.getByLabel("Person's name").fill('Quinn');
      await page.getByLabel('Token name (required)').fill('quinn-laptop');
      await page.getByRole('radio', { name: /^\s*viewer:/ }).check();
      await page.getByRole('button', { name: 'Create token' }).click();
      await dialogReady(page, 'token-created-dialog');
      const dialog = page.getByTestId('token-created-dialog');
      const buttons = await dialog.getByRole('button').allInnerTexts();
      expect(buttons.map((b) => b.trim())).toEqual(['Copy', 'Done, I have stored it']);
      await dialog.getByRole('button', { name: 'Done, I have stored it' }).click();
      await dialog.waitFor({ state: 'detached' });
      const tokens = (await api(node.url, 'GET', '/api/tokens')).body.tokens as { name: string }[];
      expect(tokens.filter((t) => t.name === 'quinn-laptop')).toHaveLength(1);
    } finally {
      await context.close();
    }
  });

  it('the label dialog shows only the error while the name is invalid, and the preview once it is valid', async () => {
    const id = 'trial-label';
    await createProfile(node.url, id);
    await api(node.url, 'PATCH', `/api/profiles/${id}`, { description: 'second' });
    await api(node.url, 'POST', `/api/profiles/${id}/versions`, { message: 'second' });
    const { context, page } = await signedInPage(browser, node.url, ADMIN, 'Tess');
    try {
      await page.goto(`${node.url}/#/profiles/${id}/history`);
      const latest = (await api(node.url, 'GET', `/api/profiles/${id}/history`)).body.versions.find((v: { open?: boolean }) => !v.open) as { seq: number };
      await page.locator(`[data-testid="timeline"] li[data-seq="${latest.seq}"]`).getByRole('button', { name: `Move a label to version ${latest.seq}` }).click();
      await dialogReady(page, 'label-dialog');
      const dialog = page.getByTestId('label-dialog');
      const move = dialog.getByRole('button', { name: 'Move label' });
      await dialog.getByLabel('Other:').check();
      await dialog.getByLabel('Other label name').fill('bad label!');
      await expect(dialog.getByRole('alert').innerText()).resolves.toBe('LABEL_INVALID: label names use a-z, 0-9, _ . - (not "latest")');
      expect(await dialog.innerText()).not.toContain('is not set yet');
      expect(await move.isDisabled()).toBe(true);
      await dialog.getByLabel('Other label name').press('Enter');
      await dialog.getByLabel('Other label name').fill('latest');
      await dialog.getByRole('alert').waitFor();
      expect(await dialog.innerText()).not.toContain('is not set yet');

      await dialog.getByLabel('Other label name').fill('canary');
      await dialog.getByText(`canary is not set yet; it will point at version @${latest.seq}`).waitFor();
      expect(await dialog.getByRole('alert').count()).toBe(0);
      await move.click();
      await dialog.waitFor({ state: 'detached' });
      await eventually(async () => (await api(node.url, 'GET', `/api/profiles/${id}?label=canary`)).status === 200, 'the canary label');
      // the invalid name never reached the node
      expect((await api(node.url, 'GET', `/api/profiles/${id}`)).body.labels).toEqual({ canary: expect.any(String) });
    } finally {
      await context.close();
    }
  });
});
