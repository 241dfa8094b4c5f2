/**
 * A viewer token gets a read-only editor: typing changes nothing in the page or on the node,
 * inputs are disabled and the screen says so; an editor's live changes still reach the viewer.
 */
import { describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { ADMIN, api, createProfile, createToken, editorText, eventually, nodeAndBrowser, shot, signedInPage, startNode, waitForSync, type TestNode } from './helpers.js';

let node: TestNode;
let browser: Browser;

nodeAndBrowser((env) => ({ node, browser } = env));

describe('viewer tokens', () => {
  it('cannot type: editor content and the node view stay unchanged', async () => {
    const id = 'view-1';
    await createProfile(node.url, id, { systemMessage: 'Read me.' });
    const before = await api(node.url, 'GET', `/api/profiles/${id}`);
    const historyBefore = (await api(node.url, 'GET', `/api/profiles/${id}/history`)).body.versions.length;
    const viewerToken = await createToken(node.url, 'viewer', 'vera');
    const { page } = await signedInPage(browser, node.url, viewerToken, 'Vera');
    await page.goto(`${node.url}/#/profiles/${id}`);
    await waitForSync(page, ['connected']);
    await expect(page.getByTestId('readonly-note').innerText()).resolves.toContain('Read-only');

    const content = page.locator('[data-testid="text-systemMessage"] .cm-content');
    await expect(content.getAttribute('contenteditable')).resolves.toBe('false');
    await expect(content.getAttribute('aria-readonly')).resolves.toBe('true');
    await content.click();
    await page.keyboard.press('Control+End');
    await page.keyboard.type('typed by a viewer');
    await page.keyboard.press('Backspace');
    await page.keyboard.press('Enter');
    await content.focus();
    await page.keyboard.type('again');
    await page.keyboard.press('Control+a');
    await page.keyboard.press('Delete');
    expect(await editorText(page, 'text-systemMessage')).toBe('Read me.');

    // every form input is disabled, and no write control is offered
    await expect(page.getByTestId('params-form').getByLabel('Temperature').isDisabled()).resolves.toBe(true);
    await expect(page.getByRole('button', { name: 'Save parameters' }).count()).resolves.toBe(0);
    await expect(page.getByRole('button', { name: 'Add template' }).count()).resolves.toBe(0);
    await page.evaluate(() => window.scrollTo(0, 0));
    await shot(page, 'editor-viewer-readonly');

    // nothing reached the node
    await new Promise((r) => setTimeout(r, 500));
    const after = await api(node.url, 'GET', `/api/profiles/${id}`);
    expect(after.body.systemMessage).toBe('Read me.');
    expect(after.body.version).toBe(before.body.version);
    expect((await api(node.url, 'GET', `/api/profiles/${id}/history`)).body.versions.length).toBe(historyBefore);

    // the viewer still sees others' changes live
    await api(node.url, 'PATCH', `/api/profiles/${id}`, { systemMessage: 'Read me, updated.' });
    await eventually(async () => (await editorText(page, 'text-systemMessage')) === 'Read me, updated.', 'the update to reach the viewer');
    // and the list offers no create/delete/import to a viewer
    await page.goto(`${node.url}/#/profiles`);
    await page.getByTestId('profile-table').waitFor();
    await expect(page.getByRole('button', { name: 'New profile' }).count()).resolves.toBe(0);
    await expect(page.getByRole('button', { name: /^Delete/ }).count()).resolves.toBe(0);
  });
});

describe('a node without the live endpoint', () => {
  it('the editor says /yjs is unreachable instead of connecting forever (node started with sync: false)', async () => {
    const bare = await startNode({ sync: false });
    try {
      await createProfile(bare.url, 'no-sync');
      const { page, context } = await signedInPage(browser, bare.url, ADMIN, 'Nobody');
      await page.goto(`${bare.url}/#/profiles/no-sync`);
      await page.getByTestId('sync-state').filter({ hasText: 'YJS_UNREACHABLE' }).waitFor({ timeout: 20_000 });
      await expect(page.getByTestId('sync-state').getAttribute('data-state')).resolves.toBe('offline');
      await context.close();
    } finally {
      await bare.stop();
    }
  });
});
