/**
 * Issue 13.3 in the browser: a profile with an open conflict is marked in the list (and found by
 * "Only with open conflicts"); its editor shows ours, theirs and the merged text side by side
 * (what the merge dropped struck out, what it added marked) and resolves it with a click; the
 * resolution reaches the node (a new version, conflicts 0) and the list mark goes away.
 */
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import type { Browser } from 'playwright-core';
import { ADMIN, api, createProfile, eventually, nodeAndBrowser, signedInPage, offlineYjsClient, shot, type TestNode } from './helpers.js';

let node: TestNode;
let browser: Browser;

nodeAndBrowser((env) => ({ node, browser } = env));

/** A stock Yjs client edits offline while the API edits the same text; its reconnect merges apart work: one open conflict. */
async function conflicted(id: string): Promise<void> {
  await createProfile(node.url, id, { systemMessage: 'You write clean code.' });
  const { doc, p } = await offlineYjsClient(node.url, id);
  try {
    const t = doc.getMap('profile').get('systemMessage') as Y.Text;
    t.delete(t.length - 'clean code.'.length, 'clean code.'.length);
    t.insert(t.length, 'tested code.');
    expect((await api(node.url, 'PATCH', `/api/profiles/${id}`, { systemMessage: 'You write clean code. Always add tests.' })).status).toBe(200);
    p.connect();
    await eventually(async () => (await api(node.url, 'GET', `/api/profiles/${id}`)).body.conflicts === 1, 'the reconnect to record a conflict');
  } finally {
    p.destroy();
  }
}

describe('conflicts in the dashboard', () => {
  it('the list marks the profile, the editor shows both sides and the merge, and "Keep theirs" resolves it', async () => {
    const id = 'ui-conflict-1';
    await conflicted(id);
    const [c] = (await api(node.url, 'GET', `/api/profiles/${id}/conflicts`)).body.conflicts;
    expect(c).toMatchObject({ field: 'systemMessage', kind: 'text', status: 'open' });
    const merged = (await api(node.url, 'GET', `/api/profiles/${id}`)).body.systemMessage;
    expect(merged).toBe(c.merged);

    const { page, context } = await signedInPage(browser, node.url, ADMIN, 'Rita');
    // the list: the row says it, and the filter finds it
    await page.goto(`${node.url}/#/profiles`);
    const row = page.locator(`tr[data-id="${id}"]`);
    await row.waitFor();
    await expect(row.getAttribute('class')).resolves.toContain('has-conflicts');
    expect(await row.innerText()).toContain('1 open conflict');
    await page.locator('#f-conflicts').check();
    await eventually(async () => (await page.locator('tbody tr[data-id]').count()) === 1 && (await row.count()) === 1, 'the filter to list only the conflicted profile');

    // the editor: ours, theirs, merged side by side
    await page.goto(`${node.url}/#/profiles/${id}`);
    const panel = page.locator('[data-testid="conflicts"]');
    await panel.waitFor();
    // the panel shows its title before the conflicts are loaded: wait for them
    await eventually(async () => (await panel.locator('#conflicts-title').innerText()).includes('1 open conflict'), 'the open conflict in the panel title');
    const item = panel.locator(`li.conflict[data-conflict="${c.id}"]`);
    const sides = item.locator('.conflict-side');
    expect(await sides.count()).toBe(3);
    const text = async (i: number) => (await sides.nth(i).locator('pre').innerText()).replace(/\s+/g, ' ').trim();
    // each side shows its own text against the merge: every character of the side, nothing else lost
    expect(await sides.nth(0).locator('h4').innerText()).toContain('Ours');
    expect(await sides.nth(2).locator('h4').innerText()).toContain('Merged');
    expect(await text(2)).toBe(merged.replace(/\s+/g, ' ').trim());
    const ourSide = c.ours as string;
    const theirSide = c.theirs as string;
    expect([ourSide, theirSide].sort()).toEqual(['You write clean code. Always add tests.', 'You write tested code.'].sort());
    // what the merge dropped from a side is struck out, what it added from the other side is marked
    const dropped = await item.locator('.conflict-side del').allInnerTexts();
    const added = await item.locator('.conflict-side ins').allInnerTexts();
    expect(dropped.length + added.length).toBeGreaterThan(0);

    await item.scrollIntoViewIfNeeded();
    await shot(page, 'conflict');

    // resolve with a click: keep theirs
    await item.getByRole('button', { name: /Keep their/ }).click();
    await eventually(async () => (await api(node.url, 'GET', `/api/profiles/${id}`)).body.conflicts === 0, 'the resolution to reach the node');
    const after = await api(node.url, 'GET', `/api/profiles/${id}`);
    expect(after.body.systemMessage).toBe(theirSide);
    const record = (await api(node.url, 'GET', `/api/profiles/${id}/conflicts`)).body.conflicts[0];
    expect(record).toMatchObject({ id: c.id, status: 'resolved', resolution: { keep: 'theirs' } });
    const history = await api(node.url, 'GET', `/api/profiles/${id}/history`);
    expect(history.body.versions.some((v: { reason: string }) => v.reason === 'resolve')).toBe(true);
    // the panel says so, the resolved one folded away
    await eventually(async () => (await panel.locator('#conflicts-title').innerText()).trim() === 'Conflicts', 'the panel to show no open conflict');
    expect(await panel.locator('details summary').innerText()).toContain('Resolved (1)');
    // and the list mark is gone
    await page.goto(`${node.url}/#/profiles`);
    await page.locator(`tr[data-id="${id}"]`).waitFor();
    await eventually(async () => !((await page.locator(`tr[data-id="${id}"]`).getAttribute('class')) ?? '').includes('has-conflicts'), 'the list mark to go');
    await context.close();
  });
});
