/**
 * Profile model v2 in the editor, in Chromium against a real node: messages (add, type live
 * with a second person watching, change a role, move, delete), parameters as JSON (typed
 * values saved as their type, refusals beside the field: not JSON, out of range, unknown key
 * with a suggestion, an invalid tool schema from the node), the render preview (variables,
 * missing ones, a template, the exact request body), versions ("Save version" with a message,
 * the person who made it) and a 200-character typing session that makes one or two versions.
 */
import { describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { ADMIN, api, createToken, dialogReady, editorText, eventually, nodeAndBrowser, shot, signedInPage, unlabeledControls, waitForSync, type TestNode } from './helpers.js';

let node: TestNode;
let browser: Browser;
let page: Page;

// a short idle gap so a typing session closes into a version quickly (default 5 s)
nodeAndBrowser((env) => ({ node, browser } = env), { versions: { idleMs: 1500 } });

const view = async (id: string) => (await api(node.url, 'GET', `/api/profiles/${id}`)).body;
const history = async (id: string) => (await api(node.url, 'GET', `/api/profiles/${id}/history`)).body.versions as any[];

async function openEditor(p: Page, id: string): Promise<void> {
  await p.goto(`${node.url}/#/profiles/${id}`);
  await p.getByTestId('messages').waitFor();
  await waitForSync(p, ['connected', 'saved']);
}

describe('profile model v2 in the editor', () => {
  it('messages: add, type live (seen by a second person), change the role, move, delete', async () => {
    expect((await api(node.url, 'POST', '/api/profiles', { id: 'chat', name: 'Chat', modelId: 'gpt-4o', systemMessage: 'You are brief.', messages: [{ role: 'user', content: 'First question' }] })).status).toBe(201);
    const bobToken = await createToken(node.url, 'editor', 'bob');
    ({ page } = await signedInPage(browser, node.url, ADMIN, 'Ada'));
    const bob = await signedInPage(browser, node.url, bobToken, 'Bob');
    await openEditor(page, 'chat');
    await openEditor(bob.page, 'chat');
    await expect(editorText(page, 'text-message-0')).resolves.toBe('First question');

    // add an assistant message and type into it; Bob sees every character arrive
    await page.getByLabel('New message role').selectOption('assistant');
    await page.getByRole('button', { name: 'Add message' }).click();
    await page.getByTestId('text-message-1').waitFor();
    await page.locator('[data-testid="text-message-1"] .cm-content').click();
    await page.keyboard.type('A short answer.');
    await eventually(async () => (await editorText(bob.page, 'text-message-1')) === 'A short answer.', 'Bob to see the new message');
    await waitForSync(page, ['saved']);
    expect((await view('chat')).messages.map((m: any) => [m.role, m.content])).toEqual([
      ['user', 'First question'],
      ['assistant', 'A short answer.'],
    ]);

    // Bob changes the role of the first message; Ada moves the answer up; both are kept
    await bob.page.getByLabel('Role of message 1').selectOption('developer');
    await page.getByRole('button', { name: 'Move message 2 up' }).click();
    await eventually(async () => JSON.stringify((await view('chat')).messages.map((m: any) => [m.role, m.content])) === JSON.stringify([['assistant', 'A short answer.'], ['developer', 'First question']]), 'the move and the role change on the node');
    await eventually(async () => (await editorText(bob.page, 'text-message-0')) === 'A short answer.', 'Bob to see the new order');
    await shot(page, 'editor-messages');
    expect(await unlabeledControls(page)).toEqual([]);

    // delete the developer message (now second)
    await page.getByRole('button', { name: 'Delete message 2' }).click();
    await eventually(async () => (await view('chat')).messages.length === 1, 'the deletion on the node');
    await eventually(async () => (await bob.page.locator('[data-testid="messages"] li.message').count()) === 1, 'Bob to see it go');
    await bob.context.close();
  });

  it('parameters are JSON: typed values are saved as their type, anything else is refused beside the field', async () => {
    const form = page.getByTestId('params-form');
    // logit_bias was saved as the string '{"50256": -100}' by the old form: now it is an object
    await form.getByLabel('Add parameter').fill('logit_bias');
    await form.getByRole('button', { name: 'Add', exact: true }).click();
    await form.getByLabel('logit_bias', { exact: true }).fill('{"50256": -100}');
    await form.getByLabel('Add parameter').fill('reasoning_effort');
    await form.getByRole('button', { name: 'Add', exact: true }).click();
    await form.getByLabel('reasoning_effort', { exact: true }).fill('medium');
    await form.locator('#err-p-reasoning_effort').filter({ hasText: 'not valid JSON' }).waitFor();
    await expect(form.locator('#err-p-reasoning_effort').innerText()).resolves.toContain('double quotes');
    await form.getByLabel('reasoning_effort', { exact: true }).fill('"ultra"');
    await form.locator('#err-p-reasoning_effort').filter({ hasText: 'must be one of' }).waitFor();
    // Save refuses while a field is wrong, and nothing reaches the node
    await form.getByRole('button', { name: 'Save parameters' }).click();
    await form.locator('#params-not-saved').filter({ hasText: 'Not saved' }).waitFor();
    expect((await view('chat')).parameters.logit_bias).toBeUndefined();
    await form.getByLabel('reasoning_effort', { exact: true }).fill('"high"');
    await form.getByLabel('Temperature (0 to 2)').fill('0.4');
    await form.getByRole('button', { name: 'Save parameters' }).click();
    await page.getByTestId('status').filter({ hasText: 'Parameters saved.' }).waitFor();
    expect((await view('chat')).parameters).toMatchObject({ logit_bias: { '50256': -100 }, reasoning_effort: 'high', temperature: 0.4 });

    // a typo: the name is refused with the node's suggestion
    await form.getByLabel('Add parameter').fill('temprature');
    await form.getByRole('button', { name: 'Add', exact: true }).click();
    await expect(form.locator('#err-new').innerText()).resolves.toMatch(/temperature/);

    // a tool whose JSON Schema is invalid: refused beside the field (checked here or by the node)
    await form.getByLabel('Add parameter').fill('tools');
    await form.getByRole('button', { name: 'Add', exact: true }).click();
    await form.getByLabel('tools', { exact: true }).fill('[{"type": "function", "function": {"name": "lookup", "parameters": {"type": 12}}}]');
    await form.getByRole('button', { name: 'Save parameters' }).click();
    await form.locator('#err-p-tools').filter({ hasText: 'PROFILE_INVALID' }).waitFor();
    expect((await view('chat')).parameters.tools).toBeUndefined();
    await form.getByLabel('tools', { exact: true }).fill('[{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}}]');
    await form.getByRole('button', { name: 'Save parameters' }).click();
    // the status may still say so from the save above: wait for the node to hold the tool
    await eventually(async () => (await view('chat')).parameters.tools !== undefined, 'the tool on the node');
    await page.getByTestId('status').filter({ hasText: 'Parameters saved.' }).waitFor();
    expect((await view('chat')).parameters.tools[0].function.parameters.properties.q.type).toBe('string');
    await shot(page, 'editor-json-parameters');
    expect(await unlabeledControls(page)).toEqual([]);
  });

  it('render preview: variables as inputs, missing ones named, the exact request body', async () => {
    await api(node.url, 'PATCH', '/api/profiles/chat', { systemMessage: 'You help {{customer}}.', templates: { followup: 'Ask about {{topic}}.' } });
    const preview = page.getByTestId('render-preview');
    await preview.getByLabel('{{customer}}').waitFor();
    await preview.getByText('Fill in {{customer}}').waitFor();
    await preview.getByLabel('{{customer}}').fill('Ada');
    await eventually(async () => (await preview.getByTestId('render-body').count()) === 1 && (await preview.getByTestId('render-body').innerText()).includes('You help Ada.'), 'the rendered body');
    await preview.getByLabel('Append template').selectOption('followup');
    await preview.getByLabel('{{topic}}').fill('refunds');
    await eventually(async () => (await preview.getByTestId('render-body').innerText()).includes('Ask about refunds.'), 'the template rendered');
    const shown = JSON.parse(await preview.getByTestId('render-body').innerText());
    const fromNode = (await api(node.url, 'POST', '/api/profiles/chat/render', { variables: { customer: 'Ada', topic: 'refunds' }, template: 'followup' })).body.request;
    expect(shown).toEqual(fromNode);
    expect(shown).toMatchObject({ model: 'gpt-4o', temperature: 0.4, reasoning_effort: 'high', logit_bias: { '50256': -100 } });
    expect(shown.messages[0]).toEqual({ role: 'system', content: 'You help Ada.' });
    await shot(page, 'editor-render-preview');
    expect(await unlabeledControls(page)).toEqual([]);
    // a placeholder typed wrong goes out as typed: the preview says so and where
    await api(node.url, 'PATCH', '/api/profiles/chat', { templates: { followup: 'Ask about {{ topic name }}.' } });
    await preview.getByTestId('render-status').filter({ hasText: '{{ topic name }} in templates.followup is not a variable' }).waitFor();
  });

  it('"Save version" closes a version with a message; history shows versions, messages and who', async () => {
    await page.locator('[data-testid="text-systemMessage"] .cm-content').click();
    await page.keyboard.press('End');
    await page.keyboard.type(' Be kind.');
    await waitForSync(page, ['saved']);
    await page.getByRole('button', { name: 'Save version…' }).click();
    await dialogReady(page, 'checkpoint-dialog');
    await page.keyboard.type('kinder system message');
    await page.keyboard.press('Enter');
    await page.getByTestId('status').filter({ hasText: /Saved version @\d+: kinder system message/ }).waitFor();
    const v = (await history('chat')).find((x) => x.message === 'kinder system message');
    expect(v.reason).toBe('checkpoint');
    expect(v.open).toBeUndefined();
    expect(v.fields).toContain('systemMessage');

    await page.getByRole('link', { name: 'History' }).click();
    const timeline = page.getByTestId('timeline');
    const item = timeline.locator(`li[data-seq="${v.seq}"]`);
    await item.waitFor();
    await expect(item.innerText()).resolves.toMatch(/saved version[\s\S]*“kinder system message”[\s\S]*systemMessage[\s\S]*admin/);
    await shot(page, 'history-versions');
    expect(await unlabeledControls(page)).toEqual([]);
  });

  it('a 200-character typing session makes one or two versions, not hundreds', async () => {
    await openEditor(page, 'chat');
    const closed = async () => (await history('chat')).filter((x) => !x.open).length;
    await eventually(async () => !(await history('chat')).some((x) => x.open), 'no open run before typing');
    const before = await closed();
    const auditBefore = (await api(node.url, 'GET', '/api/audit?profile=chat&limit=1000')).body.records.length;
    await page.locator('[data-testid="text-description"] .cm-content').click();
    const text = 'The quick brown fox jumps over the lazy dog; '.repeat(5).slice(0, 200);
    expect(text).toHaveLength(200);
    await page.keyboard.type(text, { delay: 5 });
    await waitForSync(page, ['saved']);
    expect((await view('chat')).description.endsWith(text)).toBe(true);
    // the run closes after the idle gap: no open run, and one or two new versions
    await eventually(async () => !(await history('chat')).some((x) => x.open), 'the typing run to close into a version', 30_000);
    const made = (await closed()) - before;
    expect(made).toBeGreaterThanOrEqual(1);
    expect(made).toBeLessThanOrEqual(2);
    const audit = (await api(node.url, 'GET', '/api/audit?profile=chat&limit=1000')).body.records.slice(0, (await api(node.url, 'GET', '/api/audit?profile=chat&limit=1000')).body.records.length - auditBefore);
    expect(audit.filter((r: any) => r.action === 'profile.edit').length).toBeLessThanOrEqual(2);
  });
});
