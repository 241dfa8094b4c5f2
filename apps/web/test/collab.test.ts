/**
 * Two people (two isolated browser contexts, two editor tokens) type into the same
 * systemMessage at the same time through the stock y-websocket provider; both end with the
 * same merged text holding both edits, and the node's view and history show it.
 */
import { describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { ADMIN, api, createProfile, createToken, editorText, eventually, nodeAndBrowser, shot, signedInPage, waitForSync, type TestNode } from './helpers.js';

let node: TestNode;
let browser: Browser;

nodeAndBrowser((env) => ({ node, browser } = env));

describe('live collaborative editing', () => {
  it('concurrent typing into systemMessage merges, both browsers converge, the node stores it', async () => {
    const id = 'collab-1';
    await createProfile(node.url, id, { systemMessage: 'You are a helpful assistant.' });
    const aliceToken = await createToken(node.url, 'editor', 'alice');
    const bobToken = await createToken(node.url, 'editor', 'bob');
    const alice = await signedInPage(browser, node.url, aliceToken, 'Alice');
    const bob = await signedInPage(browser, node.url, bobToken, 'Bob');
    for (const p of [alice.page, bob.page]) {
      await p.goto(`${node.url}/#/profiles/${id}`);
      await waitForSync(p, ['connected']);
      await p.locator('[data-testid="text-systemMessage"] .cm-content').waitFor();
    }
    // presence: each sees the other
    for (const p of [alice.page, bob.page]) {
      await eventually(async () => (await p.locator('[data-testid="presence"] li').count()) === 2, 'two people in presence');
    }
    await expect(alice.page.locator('[data-testid="presence"]').innerText()).resolves.toContain('Bob');
    await expect(bob.page.locator('[data-testid="presence"]').innerText()).resolves.toContain('Alice');

    // Alice at the end, Bob at the start; both type at once (keystrokes interleave)
    const sys = (p: typeof alice.page) => p.locator('[data-testid="text-systemMessage"] .cm-content');
    await sys(alice.page).click();
    await alice.page.keyboard.press('Control+End');
    await sys(bob.page).click();
    await bob.page.keyboard.press('Control+Home');
    await Promise.all([alice.page.keyboard.type(' Alice was here.', { delay: 25 }), bob.page.keyboard.type('Bob: ', { delay: 30 })]);

    const merged = 'Bob: You are a helpful assistant. Alice was here.';
    await eventually(async () => (await editorText(alice.page, 'text-systemMessage')) === merged && (await editorText(bob.page, 'text-systemMessage')) === merged, 'both editors to show the merged text');
    await waitForSync(alice.page, ['saved']);
    await waitForSync(bob.page, ['saved', 'connected']);

    const view = await api(node.url, 'GET', `/api/profiles/${id}`);
    expect(view.body.systemMessage).toBe(merged);
    // people editing together live see each other's keystrokes: that is never a conflict (issue 13)
    expect(view.body.conflicts).toBe(0);
    const raw = await api(node.url, 'GET', `/api/profiles/${id}/history?entries=raw`);
    const edits = raw.body.entries.filter((v: any) => v.origin.startsWith('yjs:'));
    expect(new Set(edits.map((v: any) => v.actor))).toEqual(new Set(['alice', 'bob']));
    // live co-editing in one room is one run: one version with both actors, not one per keystroke
    const history = await api(node.url, 'GET', `/api/profiles/${id}/history`);
    const runs = history.body.versions.filter((v: any) => v.reason !== 'create');
    expect(runs).toHaveLength(1);
    expect(new Set(runs[0].actors)).toEqual(new Set(['alice', 'bob']));
    expect(edits.every((v: any) => v.summary.includes('systemMessage'))).toBe(true);

    // remote cursors: Alice selects "helpful"; Bob sees her selection and caret with her name
    await sys(alice.page).click();
    await alice.page.keyboard.press('Control+Home');
    for (let i = 0; i < 'Bob: You are a '.length; i++) await alice.page.keyboard.press('ArrowRight');
    for (let i = 0; i < 'helpful'.length; i++) await alice.page.keyboard.press('Shift+ArrowRight');
    await bob.page.locator('[data-testid="text-systemMessage"] .cm-ySelectionCaret').waitFor();
    await expect(bob.page.locator('[data-testid="text-systemMessage"] .cm-ySelectionInfo').innerText()).resolves.toBe('Alice');
    await expect(bob.page.locator('[data-testid="text-systemMessage"] .cm-ySelection').count()).resolves.toBeGreaterThan(0);
    await sys(bob.page).click();
    await bob.page.keyboard.press('Control+End');
    await alice.page.locator('[data-testid="text-systemMessage"] .cm-ySelectionInfo').waitFor();
    await shot(bob.page, 'editor-two-cursors');
    await shot(alice.page, 'editor-two-cursors-alice');

    // a template is live too, and reloading shows the stored text (nothing only in memory)
    const tpl = (p: typeof alice.page) => p.locator('[data-testid="text-template-greet"] .cm-content');
    await tpl(alice.page).click();
    await alice.page.keyboard.press('Control+End');
    await alice.page.keyboard.type(', welcome!');
    await eventually(async () => (await editorText(bob.page, 'text-template-greet')) === 'Hello {{name}}, welcome!', 'template edit to reach Bob');
    await waitForSync(alice.page, ['saved']);
    await bob.page.reload();
    await waitForSync(bob.page, ['connected']);
    expect(await editorText(bob.page, 'text-systemMessage')).toBe(merged);
    expect((await api(node.url, 'GET', `/api/profiles/${id}`)).body.templates.greet).toBe('Hello {{name}}, welcome!');

    // an API write reaches open editors live
    await api(node.url, 'PATCH', `/api/profiles/${id}`, { description: 'Changed through the API' });
    await eventually(async () => (await editorText(alice.page, 'text-description')) === 'Changed through the API', 'API change to reach the browser');
    await alice.context.close();
    await bob.context.close();
  });

  it('offline: the badge says so, edits are kept and reach the node when it is back', async () => {
    const id = 'offline-1';
    await createProfile(node.url, id, { systemMessage: 'Draft.' });
    const { page, context } = await signedInPage(browser, node.url, ADMIN, 'Olga');
    await page.goto(`${node.url}/#/profiles/${id}`);
    await waitForSync(page, ['connected']);
    await node.halt();
    await waitForSync(page, ['offline']);
    await expect(page.getByTestId('sync-state').innerText()).resolves.toContain('Offline');
    await page.locator('[data-testid="text-systemMessage"] .cm-content').click();
    await page.keyboard.press('Control+End');
    await page.keyboard.type(' Written offline.');
    await shot(page, 'editor-offline');
    await node.restart();
    await waitForSync(page, ['saved'], 30_000);
    expect((await api(node.url, 'GET', `/api/profiles/${id}`)).body.systemMessage).toBe('Draft. Written offline.');
    await context.close();
  });
});
