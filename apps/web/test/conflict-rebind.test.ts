/**
 * Issue 13 in the browser: a conflict found when a Yjs client reconnects after offline work,
 * resolved over HTTP while the dashboard's editor is open. A resolution replaces the field's
 * Y.Text (so concurrent resolutions converge); the open editor must follow the new text and
 * keep typing into it, not into the replaced one.
 */
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import type { Browser } from 'playwright-core';
import { ADMIN, api, createProfile, editorText, eventually, nodeAndBrowser, signedInPage, waitForSync, offlineYjsClient, type TestNode } from './helpers.js';

let node: TestNode;
let browser: Browser;

nodeAndBrowser((env) => ({ node, browser } = env));

describe('conflicts and the live editor', () => {
  it('the editor follows a resolution (a new Y.Text) and its typing lands in the profile', async () => {
    const id = 'rebind-1';
    await createProfile(node.url, id, { systemMessage: 'You write clean code.' });
    const { page, context } = await signedInPage(browser, node.url, ADMIN, 'Rita');
    await page.goto(`${node.url}/#/profiles/${id}`);
    await waitForSync(page, ['connected']);
    const sys = page.locator('[data-testid="text-systemMessage"] .cm-content');
    await sys.waitFor();

    // a stock Yjs client works offline while Rita edits live in the dashboard
    const { doc, p } = await offlineYjsClient(node.url, id);
    try {
      const t = doc.getMap('profile').get('systemMessage') as Y.Text;
      t.insert(0, 'Offline: ');
      await sys.click();
      await page.keyboard.press('Control+End');
      await page.keyboard.type(' Live.');
      await eventually(async () => (await api(node.url, 'GET', `/api/profiles/${id}`)).body.systemMessage === 'You write clean code. Live.', 'the live edit to be stored');
      p.connect();
      await eventually(async () => (await api(node.url, 'GET', `/api/profiles/${id}`)).body.conflicts === 1, 'the reconnect to record a conflict');
    } finally {
      p.destroy();
    }
    const list = await api(node.url, 'GET', `/api/profiles/${id}/conflicts`);
    const c = list.body.conflicts[0];
    expect(c).toMatchObject({ field: 'systemMessage', status: 'open' });
    const resolved = await api(node.url, 'POST', `/api/profiles/${id}/conflicts/${c.id}/resolve`, { keep: 'value', value: 'You write clean, tested code.' });
    expect(resolved.status).toBe(200);

    // the editor shows the new text, and typing goes into it
    await eventually(async () => (await editorText(page, 'text-systemMessage')) === 'You write clean, tested code.', 'the editor to show the resolution');
    await sys.click();
    await page.keyboard.press('Control+End');
    await page.keyboard.type(' Always.');
    await eventually(async () => (await api(node.url, 'GET', `/api/profiles/${id}`)).body.systemMessage === 'You write clean, tested code. Always.', 'typing after the resolution to be stored');
    expect((await api(node.url, 'GET', `/api/profiles/${id}`)).body.conflicts).toBe(0);
    await context.close();
  });
});
