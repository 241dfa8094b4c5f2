/**
 * History from the UI: an edit closed into a version ("Save version"), its diff side by side,
 * a revert (confirmed), label moves (confirmed) reflected in GET ?label= (and not versions),
 * and parameters saved with typed inputs, including the node's validation error shown next
 * to its field.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { api, createProfile, editorText, eventually, nodeAndBrowser, shot, signedInPage, ADMIN, unlabeledControls, dialogReady, waitForSync, type TestNode } from './helpers.js';

let node: TestNode;
let browser: Browser;
let page: Page;

nodeAndBrowser((env) => ({ node, browser } = env));

beforeAll(async () => {
  page = (await signedInPage(browser, node.url, ADMIN, 'Operator')).page;
});

const timelineItem = (seq: number) => page.locator(`[data-testid="timeline"] li[data-seq="${seq}"]`);

describe('history, diff, revert, labels', () => {
  it('edit in the editor, see the diff, revert from the UI, move labels', async () => {
    const id = 'hist-1';
    await createProfile(node.url, id, { systemMessage: 'Answer briefly.' });
    await page.goto(`${node.url}/#/profiles/${id}`);
    await waitForSync(page, ['connected']);
    await page.locator('[data-testid="text-systemMessage"] .cm-content').click();
    await page.keyboard.press('Control+End');
    await page.keyboard.type(' Cite sources.');
    await waitForSync(page, ['saved']);
    expect(await editorText(page, 'text-systemMessage')).toBe('Answer briefly. Cite sources.');

    await page.getByRole('link', { name: 'History' }).click();
    await page.locator('[data-testid="timeline"] li').first().waitFor();
    // the typing is still an open run (no version yet: labels and revert need a closed one); close it
    await page.getByRole('button', { name: 'Save version…' }).click();
    await dialogReady(page, 'checkpoint-dialog');
    await page.keyboard.type('cite sources');
    await page.keyboard.press('Enter');
    await page.getByTestId('status').filter({ hasText: 'Saved version @2: cite sources' }).waitFor();
    const versions = (await api(node.url, 'GET', `/api/profiles/${id}/history`)).body.versions as { version: string; seq: number; actors: string[]; fields: string[]; message?: string; open?: boolean }[];
    await eventually(async () => (await page.locator('[data-testid="timeline"] li').count()) === versions.length, 'the timeline to list every version');
    const created = versions[versions.length - 1]!;
    const edited = versions[0]!;
    expect((await api(node.url, 'GET', `/api/profiles/${id}/history?entries=raw`)).body.entries[0].origin).toMatch(/^yjs:/);
    expect(edited).toMatchObject({ seq: 2, message: 'cite sources', actors: ['admin'], fields: ['systemMessage'] });
    expect(edited.open).toBeUndefined();

    // compare the creation with the edit: the insertion is marked on the "after" side
    await page.getByLabel(`Compare from version ${created.seq}`, { exact: true }).check();
    await page.getByLabel(`Compare to version ${edited.seq}`, { exact: true }).check();
    const row = page.locator('[data-testid="diff"] tr[data-path="systemMessage"]');
    await row.waitFor();
    await expect(row.locator('td.after ins').innerText()).resolves.toBe(' Cite sources.');
    await expect(row.locator('td.before').innerText()).resolves.toBe('Answer briefly.');
    await page.evaluate(() => window.scrollTo(0, 0));
    await shot(page, 'history-diff');
    expect(await unlabeledControls(page)).toEqual([]);

    // label production -> the edited version (confirmation dialog, confirmed with Enter)
    await timelineItem(edited.seq).getByRole('button', { name: `Move a label to version ${edited.seq}` }).click();
    const dialog = page.getByTestId('label-dialog');
    await dialogReady(page, 'label-dialog');
    await expect(dialog.innerText()).resolves.toContain('production');
    await page.keyboard.press('Enter');
    await dialog.waitFor({ state: 'detached' });
    await eventually(async () => (await api(node.url, 'GET', `/api/profiles/${id}?label=production`)).status === 200, 'the production label');
    expect((await api(node.url, 'GET', `/api/profiles/${id}?label=production`)).body.systemMessage).toBe('Answer briefly. Cite sources.');

    // staging -> the creation; Escape first cancels and changes nothing
    await timelineItem(created.seq).getByRole('button', { name: `Move a label to version ${created.seq}` }).click();
    await dialogReady(page, 'label-dialog');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    expect((await api(node.url, 'GET', `/api/profiles/${id}?label=staging`)).body.error.code).toBe('LABEL_NOT_FOUND');
    await timelineItem(created.seq).getByRole('button', { name: `Move a label to version ${created.seq}` }).click();
    await dialog.getByLabel('staging').check();
    await dialog.getByRole('button', { name: 'Move label' }).click();
    await dialog.waitFor({ state: 'detached' });
    expect((await api(node.url, 'GET', `/api/profiles/${id}?label=staging`)).body.systemMessage).toBe('Answer briefly.');
    await expect(page.locator('[data-testid="timeline"] .chip.label').allInnerTexts()).resolves.toEqual(expect.arrayContaining(['staging']));

    // revert to the creation (confirmation), as a new version
    await timelineItem(created.seq).getByRole('button', { name: `Revert to version ${created.seq}` }).click();
    const revert = page.getByTestId('revert-dialog');
    await revert.waitFor();
    await revert.getByRole('button', { name: 'Revert' }).click();
    await revert.waitFor({ state: 'detached' });
    await page.getByTestId('status').filter({ hasText: 'Reverted' }).waitFor();
    const after = (await api(node.url, 'GET', `/api/profiles/${id}/history`)).body.versions;
    expect(after.length).toBe(versions.length + 1); // the revert; label moves are not versions
    expect(after[0]).toMatchObject({ reason: 'revert' });
    expect((await api(node.url, 'GET', `/api/profiles/${id}`)).body.systemMessage).toBe('Answer briefly.');
    // production still points at the edit (labels are pointers, not reverted)
    expect((await api(node.url, 'GET', `/api/profiles/${id}?label=production`)).body.systemMessage).toBe('Answer briefly. Cite sources.');
    // the default diff (previous -> current) now shows the revert's deletion
    await eventually(async () => (await page.locator('[data-testid="diff"] tr[data-path="systemMessage"] td.before del').count()) > 0, 'the revert diff');
    await expect(page.locator('[data-testid="diff"] tr[data-path="systemMessage"] td.before del').innerText()).resolves.toBe(' Cite sources.');
    await page.getByRole('link', { name: 'Open editor' }).click();
    await waitForSync(page, ['connected']);
    expect(await editorText(page, 'text-systemMessage')).toBe('Answer briefly.');
  });

  it('parameters: typed inputs save through PATCH; client and node validation show next to the field', async () => {
    const id = 'params-1';
    await createProfile(node.url, id);
    await page.goto(`${node.url}/#/profiles/${id}`);
    await waitForSync(page, ['connected']);
    const form = page.getByTestId('params-form');
    await form.getByLabel('Temperature').fill('5');
    await form.getByRole('button', { name: 'Save parameters' }).click();
    await expect(form.locator('#err-p-temperature').innerText()).resolves.toContain('at most 2');
    await expect(form.getByLabel('Temperature').getAttribute('aria-invalid')).resolves.toBe('true');
    expect((await api(node.url, 'GET', `/api/profiles/${id}`)).body.parameters.temperature).toBe(0.7);

    await form.getByLabel('Temperature').fill('1.25');
    await form.getByLabel('Max tokens', { exact: false }).first().fill('');
    await form.getByLabel('Add parameter').fill('stop');
    await form.getByRole('button', { name: 'Add', exact: true }).click();
    await form.getByLabel('stop', { exact: true }).fill('["###", "END"]');
    await form.getByLabel('Tags (comma separated)').fill('test, support');
    await form.getByRole('button', { name: 'Save parameters' }).click();
    await page.getByTestId('status').filter({ hasText: 'Parameters saved' }).waitFor();
    const v = (await api(node.url, 'GET', `/api/profiles/${id}`)).body;
    expect(v.parameters).toEqual({ temperature: 1.25, stop: ['###', 'END'] });
    expect(v.meta.tags).toEqual(['test', 'support']);

    // the node's own rule (a tag longer than 64 characters): its code and message next to the field
    await form.getByLabel('Tags (comma separated)').fill(`ok, ${'x'.repeat(65)}`);
    await form.getByRole('button', { name: 'Save parameters' }).click();
    const err = form.locator('#err-p-tags');
    await err.waitFor();
    await expect(err.innerText()).resolves.toMatch(/^⚠?\s*PROFILE_(INVALID|TOO_LARGE): /);
    expect((await api(node.url, 'GET', `/api/profiles/${id}`)).body.meta.tags).toEqual(['test', 'support']);
    await shot(page, 'editor-validation');
    expect(await unlabeledControls(page)).toEqual([]);

    // templates: a bad name is refused next to the field; a good one becomes a live editor; removal is confirmed
    await page.getByLabel('New template name').fill('bad name');
    await page.getByRole('button', { name: 'Add template' }).click();
    await page.locator('#new-template-error').filter({ hasText: 'Template names use' }).waitFor();
    await page.getByLabel('New template name').fill('farewell');
    await page.getByRole('button', { name: 'Add template' }).click();
    await page.locator('[data-testid="text-template-farewell"] .cm-content').click();
    await page.keyboard.type('Goodbye {{name}}');
    await waitForSync(page, ['saved']);
    expect((await api(node.url, 'GET', `/api/profiles/${id}`)).body.templates.farewell).toBe('Goodbye {{name}}');
    await page.getByRole('button', { name: 'Remove template farewell' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Remove' }).click();
    await page.locator('[data-testid="text-template-farewell"]').waitFor({ state: 'detached' });
    expect((await api(node.url, 'GET', `/api/profiles/${id}`)).body.templates).toEqual({ greet: 'Hello {{name}}' });
  });
});
