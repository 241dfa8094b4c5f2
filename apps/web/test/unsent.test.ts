/**
 * "Nothing lost" in the live editor, in Chromium against a real node that is stopped and
 * restarted: edits typed while the node is down reach it after the editor is left inside the
 * app (the live doc stays alive in the background; reopening the editor shows them) and after
 * a reload of the tab (this tab's copy in sessionStorage; leaving the page asks first); the
 * header says what is not sent yet. An editor opened while the node is down retries and opens
 * once the node answers. The parameters form's "Not saved" goes once the fields are right,
 * and never covers a field. A stored copy is sent only by the person who made it (after a
 * sign-out by the node, someone else signing in gets a notice, and nothing is sent under
 * their name) and only into the profile it was made on (not into one created again under the
 * same id on a reset node). The editor's code is loaded after sign-in and retried when its
 * load fails, so an editor opened while the node is down (or its code did not load) opens
 * once the node answers.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
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

async function editorToken(name: string): Promise<{ id: string; token: string }> {
  const r = await api<{ id: string; token: string }>(node.url, 'POST', '/api/tokens', { role: 'editor', name: `${name}-${Date.now()}`, displayName: name });
  expect(r.status).toBe(201);
  return r.body;
}

async function signInHere(page: Page, token: string, name: string): Promise<void> {
  await page.getByLabel('API token').fill(token);
  await page.getByLabel('Your name (shown to others while editing)').fill(name);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
}

/**
 * Reloads while the node is down: the reload fails and Chromium then commits its own error page
 * (chrome-error://chromewebdata/), which can land after the failed reload's promise settled.
 */
async function reloadWhileDown(page: Page): Promise<void> {
  await page.reload().catch(() => undefined);
  await page.waitForURL(/^chrome-error:/, { timeout: 10_000 }).catch(() => undefined);
}

/** page.goto, again when a navigation still under way (the browser's error page) interrupts it. */
async function gotoAfterErrorPage(page: Page, url: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await page.goto(url);
      return;
    } catch (err) {
      if (attempt >= 20 || !/interrupted by another navigation/.test(String((err as Error).message))) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/**
 * `who` types an edit while the node is down and the tab is reloaded (the copy stays in
 * sessionStorage); the node comes back and revokes `who`'s token; the tab, opened again,
 * is signed out by the node (401). Returns the page on the sign-in screen.
 */
async function copyLeftBySignedOut(id: string, who: { id: string; token: string }, name: string): Promise<{ context: BrowserContext; page: Page }> {
  await createProfile(node.url, id, { systemMessage: 'Draft.' });
  const { context, page } = await signedInPage(browser, node.url, who.token, name);
  await page.goto(`${node.url}/#/profiles/${id}`);
  await waitForSync(page, ['connected']);
  await halt();
  await waitForSync(page, ['offline']);
  await typeAtEnd(page, 'text-systemMessage', ` By ${name}.`);
  await eventually(async () => (await copies(page)).includes(`profilesync.unsent.${id}`), "the tab's copy");
  page.once('dialog', (d) => void d.accept());
  await reloadWhileDown(page);
  await restart();
  expect((await api(node.url, 'DELETE', `/api/tokens/${who.id}`)).status).toBeLessThan(300);
  await gotoAfterErrorPage(page, `${node.url}/#/profiles`);
  await page.getByLabel('API token').waitFor();
  await expect(page.getByRole('alert').innerText()).resolves.toMatch(/^AUTH_UNAUTHORIZED: the node no longer accepts this token/);
  expect(await copies(page)).toEqual([`profilesync.unsent.${id}`]);
  return { context, page };
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
      await reloadWhileDown(page);
      await restart();
      await gotoAfterErrorPage(page, `${node.url}/#/profiles`);
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

  it("after a sign-out by the node, someone else signing in does not send the previous person's stored edits: discarded with a notice", async () => {
    const id = 'c-other';
    const ana = await editorToken('ana');
    const { context, page } = await copyLeftBySignedOut(id, ana, 'Ana');
    try {
      const bea = await editorToken('bea');
      await signInHere(page, bea.token, 'Bea');
      const notice = page.getByTestId('unsent-notice');
      await notice.waitFor();
      await expect(notice.innerText()).resolves.toContain(`UI_UNSENT_NOT_YOURS: edits to ${id} kept in this tab were made by ana, not by you`);
      expect(await copies(page)).toEqual([]);
      expect(await page.getByTestId('unsent').count()).toBe(0);
      // Bea's editor shows the node's text, not Ana's edit, and her session sends nothing of it
      await page.goto(`${node.url}/#/profiles/${id}`);
      await waitForSync(page, ['connected']);
      expect(await editorText(page, 'text-systemMessage')).toBe('Draft.');
      const p = (await api(node.url, 'GET', `/api/profiles/${id}`)).body;
      expect([p.systemMessage, p.updatedBy]).toEqual(['Draft.', 'admin']);
      await shot(page, 'unsent-not-yours');
      await notice.getByRole('button', { name: 'Dismiss' }).click();
      await notice.waitFor({ state: 'detached' });
    } finally {
      await context.close();
    }
  });

  it('after a sign-out by the node, the same person signing in again (a new token) sends the stored edits under their name', async () => {
    const id = 'c-same';
    const ana = await editorToken('ann');
    const { context, page } = await copyLeftBySignedOut(id, ana, 'Ann');
    try {
      await signInHere(page, (await editorToken('ann')).token, 'Ann');
      await eventually(async () => (await systemMessage(id)) === 'Draft. By Ann.', 'the stored edit to reach the node', 30_000);
      expect((await api(node.url, 'GET', `/api/profiles/${id}`)).body.updatedBy).toBe('ann');
      await eventually(async () => (await copies(page)).length === 0, 'the copy to be dropped once stored');
      expect(await page.getByTestId('unsent-notice').count()).toBe(0);
    } finally {
      await context.close();
    }
  });

  it('a stored copy is not sent into a profile created again under the same id (a reset node): discarded with a notice', async () => {
    const id = 'c-replaced';
    await createProfile(node.url, id, { systemMessage: 'Draft.' });
    const { context, page } = await signedInPage(browser, node.url, ADMIN, 'Ivo');
    try {
      await page.goto(`${node.url}/#/profiles/${id}`);
      await waitForSync(page, ['connected']);
      await halt();
      await waitForSync(page, ['offline']);
      await typeAtEnd(page, 'text-systemMessage', ' Old edit.');
      await eventually(async () => (await copies(page)).includes(`profilesync.unsent.${id}`), "the tab's copy");
      page.once('dialog', (d) => void d.accept());
      await reloadWhileDown(page);
      // the node is reset and the id taken again by another profile
      node.wipe();
      await restart();
      await createProfile(node.url, id, { systemMessage: 'Recreated.' });
      await gotoAfterErrorPage(page, `${node.url}/#/profiles`);
      const notice = page.getByTestId('unsent-notice');
      await notice.waitFor();
      await expect(notice.innerText()).resolves.toContain(`UI_UNSENT_PROFILE_REPLACED: edits to ${id} kept in this tab were made on an earlier profile with this id`);
      expect(await copies(page)).toEqual([]);
      await page.getByTestId('unsent').waitFor({ state: 'detached' });
      const p = (await api(node.url, 'GET', `/api/profiles/${id}`)).body;
      expect([p.systemMessage, p.conflicts]).toEqual(['Recreated.', 0]);
      expect((await api(node.url, 'GET', `/api/profiles/${id}/history`)).body.versions).toHaveLength(1);
    } finally {
      await context.close();
    }
  });

  it("the editor's code is loaded after sign-in: an editor first opened while the node is down retries, and opens once the node answers", async () => {
    await createProfile(node.url, 'd-first-open', { systemMessage: 'Never opened before.' });
    const { context, page } = await signedInPage(browser, node.url, ADMIN, 'Eli');
    try {
      // no editor opened in this tab: its code arrives in the background after the sign-in
      await eventually(() => page.evaluate(() => performance.getEntriesByType('resource').some((e) => /\/assets\/Editor-[^/]*\.js$/.test(e.name))), "the editor's code");
      await halt();
      await page.evaluate(() => (location.hash = '#/profiles/d-first-open'));
      const retry = page.getByTestId('editor-retry');
      await retry.waitFor();
      await expect(page.getByRole('main').getByRole('alert').innerText()).resolves.toBe('NETWORK_ERROR: the node cannot be reached');
      await restart();
      await waitForSync(page, ['connected'], 30_000);
      expect(await editorText(page, 'text-systemMessage')).toBe('Never opened before.');
    } finally {
      await context.close();
    }
  });

  it("the editor's code failing to load is retried (UI_LOAD_FAILED with Retry now), and the editor opens once it loads", async () => {
    await createProfile(node.url, 'd-chunk', { systemMessage: 'Loaded at last.' });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    try {
      const page = await context.newPage();
      // every load of the editor's code fails (the preload after sign-in too) until unrouted
      const chunk = /\/assets\/Editor-[^/]*\.js$/;
      await context.route(chunk, (r) => r.abort('connectionrefused'));
      await page.goto(node.url);
      await signInHere(page, ADMIN, 'Uma');
      await page.evaluate(() => (location.hash = '#/profiles/d-chunk'));
      const retry = page.getByTestId('editor-load-retry');
      await retry.waitFor();
      await expect(page.getByRole('main').getByRole('alert').innerText()).resolves.toMatch(/^UI_LOAD_FAILED: the editor could not be loaded/);
      await retry.getByRole('button', { name: 'Retry now' }).click();
      await retry.getByText(/Retrying/).waitFor(); // still failing: still retrying
      await context.unroute(chunk);
      await retry.getByRole('button', { name: 'Retry now' }).click();
      await waitForSync(page, ['connected'], 30_000);
      expect(await editorText(page, 'text-systemMessage')).toBe('Loaded at last.');
      expect(await retry.count()).toBe(0);
    } finally {
      await context.close();
    }
  });
});
