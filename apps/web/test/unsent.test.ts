/**
 * "Nothing lost" in the live editor, in Chromium against a real node that is stopped and
 * restarted: edits typed while the node is down reach it after the editor is left inside the
 * app (the live doc stays alive in the background; reopening the editor shows them) and after
 * a reload of the tab (this tab's copy in sessionStorage; leaving the page asks first); the
 * header says what is not sent yet. An editor opened while the node is down retries and opens
 * once the node answers. The parameters form's "Not saved" goes once the fields are right,
 * and never covers a field.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { ADMIN, api, createProfile, editorText, eventually, nodeAndBrowser, shot, signedInPage, waitForSync, type TestNode } from './helpers.js';

let node: TestNode;
let browser: Browser;

nodeAndBrowser((env) => ({ node, browser } = env));

// each test that stops the node starts it again, even when it fails (the next test needs it)
let down = false;
const halt = async () => {
  await node.halt();
  down = true;
};
const restart = async () => {
  await node.restart();
  down = false;
};
afterEach(async () => {
  if (down) await restart();
});

const systemMessage = async (id: string): Promise<string> => (await api(node.url, 'GET', `/api/profiles/${id}`)).body.systemMessage;

async function typeAtEnd(page: Page, testId: string, text: string): Promise<void> {
  await page.locator(`[data-testid="${testId}"] .cm-content`).click();
  await page.keyboard.press('Control+End');
  await page.keyboard.type(text);
}

const copies = (page: Page) => page.evaluate(() => Object.keys(sessionStorage).filter((k) => k.startsWith('profilesync.unsent.')));

describe('nothing lost in the live editor', () => {
  it('"Not saved" beside the buttons goes once the field is right, and covers no field', async () => {
    const id = 'h-form';
    await createProfile(node.url, id);
    const { context, page } = await signedInPage(browser, node.url, ADMIN, 'Hana');
    try {
      await page.goto(`${node.url}/#/profiles/${id}`);
      await waitForSync(page, ['connected']);
      const form = page.getByTestId('params-form');
      await form.getByLabel('Add parameter').fill('tools');
      await form.getByRole('button', { name: 'Add', exact: true }).click();
      const tools = form.getByLabel('tools', { exact: true });
      await tools.fill('[{"type": "function"');
      await form.getByRole('button', { name: 'Save parameters' }).click();
      const notSaved = form.locator('#params-not-saved');
      await expect(notSaved.innerText()).resolves.toBe('Not saved: 1 field(s) need attention.');
      // nothing pinned over the page: with the tools field at the top of the window, the
      // point at its top edge is the field itself
      await tools.evaluate((el) => el.scrollIntoView({ block: 'start' }));
      const onTop = await tools.evaluate((el) => {
        const r = el.getBoundingClientRect();
        return document.elementFromPoint(r.left + 10, r.top + 4) === el;
      });
      expect(onTop).toBe(true);
      expect(await page.getByTestId('alert').innerText()).not.toContain('Not saved');
      await shot(page, 'editor-not-saved');
      // corrected (not saved yet): the message goes
      await tools.fill('[{"type": "function", "function": {"name": "lookup"}}]');
      await notSaved.waitFor({ state: 'detached' });
      await form.getByRole('button', { name: 'Save parameters' }).click();
      await page.getByTestId('status').filter({ hasText: 'Parameters saved.' }).waitFor();
      expect((await api(node.url, 'GET', `/api/profiles/${id}`)).body.parameters.tools[0].function.name).toBe('lookup');
    } finally {
      await context.close();
    }
  });

  it('edits typed offline reach the node after the editor is left inside the app; reopened meanwhile, it shows them', async () => {
    const id = 'a-leave';
    await createProfile(node.url, id, { systemMessage: 'Draft.' });
    const { context, page } = await signedInPage(browser, node.url, ADMIN, 'Olga');
    try {
      await page.goto(`${node.url}/#/profiles/${id}`);
      await waitForSync(page, ['connected']);
      await halt();
      await waitForSync(page, ['offline']);
      await typeAtEnd(page, 'text-systemMessage', ' Written offline.');
      await page.getByRole('link', { name: 'History' }).click();
      const unsent = page.getByTestId('unsent');
      await unsent.filter({ hasText: `${id} (node offline)` }).waitFor();
      await page.getByRole('link', { name: 'Profiles' }).click();
      await expect(unsent.innerText()).resolves.toContain(id);
      // the way back: the header's link reopens the same live doc, offline, with the edit
      await unsent.getByRole('link', { name: id }).click();
      await waitForSync(page, ['offline']);
      expect(await editorText(page, 'text-systemMessage')).toBe('Draft. Written offline.');
      await typeAtEnd(page, 'text-systemMessage', ' Twice.');
      await page.getByRole('link', { name: 'Profiles' }).click();
      await shot(page, 'unsent-header');

      await restart();
      await eventually(async () => (await systemMessage(id)) === 'Draft. Written offline. Twice.', 'the offline edits to reach the node', 30_000);
      await unsent.waitFor({ state: 'detached', timeout: 30_000 });
      expect(await copies(page)).toEqual([]);
      // nothing unsent: closing the page asks nothing
      const dialogs: string[] = [];
      page.on('dialog', (d) => void (dialogs.push(d.type()), d.dismiss()));
      await page.close({ runBeforeUnload: true });
      await eventually(() => page.isClosed(), 'the page to close');
      expect(dialogs).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('a reload while the node is down asks first, and keeps the edits (this tab\'s copy): sent once the node is back', async () => {
    const id = 'a-reload';
    await createProfile(node.url, id, { systemMessage: 'Draft.' });
    const { context, page } = await signedInPage(browser, node.url, ADMIN, 'Rui');
    try {
      await page.goto(`${node.url}/#/profiles/${id}`);
      await waitForSync(page, ['connected']);
      await halt();
      await waitForSync(page, ['offline']);
      await typeAtEnd(page, 'text-systemMessage', ' Survives a reload.');
      await eventually(async () => (await copies(page)).includes(`profilesync.unsent.${id}`), "the tab's copy");

      // leaving asks: dismissed, the page stays with the edit
      const asked: string[] = [];
      page.once('dialog', (d) => void (asked.push(d.type()), d.dismiss()));
      await page.close({ runBeforeUnload: true });
      await eventually(() => asked.length === 1, 'the beforeunload question');
      expect(asked).toEqual(['beforeunload']);
      expect(page.isClosed()).toBe(false);
      expect(await editorText(page, 'text-systemMessage')).toBe('Draft. Survives a reload.');

      // reloaded anyway (the node is down: the browser's error page), then the node is back
      page.once('dialog', (d) => void d.accept());
      await page.reload().catch(() => undefined);
      await restart();
      await page.goto(`${node.url}/#/profiles`);
      await eventually(async () => (await systemMessage(id)) === 'Draft. Survives a reload.', 'the edit to reach the node after the reload', 30_000);
      await eventually(async () => (await copies(page)).length === 0, 'the copy to be dropped once stored');
      await page.getByTestId('unsent').waitFor({ state: 'detached' });
      expect((await api(node.url, 'GET', `/api/profiles/${id}`)).body.conflicts).toBe(0);
    } finally {
      await context.close();
    }
  });

  it('an editor opened while the node is down retries, and opens the profile once the node answers', async () => {
    await createProfile(node.url, 'b-first', { systemMessage: 'First.' });
    await createProfile(node.url, 'b-later', { systemMessage: 'Opened later.' });
    const { context, page } = await signedInPage(browser, node.url, ADMIN, 'Bo');
    try {
      // the editor's code is loaded (one editor opened), then the node goes down
      await page.goto(`${node.url}/#/profiles/b-first`);
      await waitForSync(page, ['connected']);
      await page.getByRole('link', { name: 'Profiles' }).click();
      await halt();
      await page.evaluate(() => (location.hash = '#/profiles/b-later'));
      const retry = page.getByTestId('editor-retry');
      await retry.waitFor();
      await expect(page.getByRole('main').getByRole('alert').innerText()).resolves.toBe('NETWORK_ERROR: the node cannot be reached');
      await expect(retry.innerText()).resolves.toMatch(/Retrying|The editor opens by itself/);
      await retry.getByRole('button', { name: 'Retry now' }).click();
      await retry.waitFor(); // still down: still retrying
      await restart();
      await waitForSync(page, ['connected'], 30_000);
      expect(await editorText(page, 'text-systemMessage')).toBe('Opened later.');
      expect(await retry.count()).toBe(0);
    } finally {
      await context.close();
    }
  });
});
