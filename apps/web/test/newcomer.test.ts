/**
 * What a newcomer ran into (a walk through the dashboard with only README.md and docs/web.md):
 * a token revoked while its editor is open (the badge and the sign-in screen say why, in
 * words), a bad profile id (the dialog names the allowed characters, nothing is created), a
 * message added with the keyboard (its editor takes the focus), the token dialog's wording,
 * and the list while the node is down (the error in words, then the list is back).
 */
import { describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { api, createProfile, dialogReady, editorText, eventually, nodeAndBrowser, signedInPage, waitForSync, type TestNode } from './helpers.js';

let node: TestNode;
let browser: Browser;

nodeAndBrowser((env) => ({ node, browser } = env));

async function editorToken(name: string): Promise<{ id: string; token: string }> {
  const r = await api<{ id: string; token: string }>(node.url, 'POST', '/api/tokens', { role: 'editor', name, displayName: name });
  expect(r.status).toBe(201);
  return r.body;
}

describe('a newcomer to the dashboard', () => {
  it('a token revoked while its editor is open: the badge says why (the code once), the sign-in screen too', async () => {
    const id = 'nc-revoked';
    await createProfile(node.url, id, { systemMessage: 'Stay polite.' });
    const bob = await editorToken('bob');
    const { context, page } = await signedInPage(browser, node.url, bob.token, 'Bob');
    try {
      await page.goto(`${node.url}/#/profiles/${id}`);
      await waitForSync(page, ['connected', 'saved']);

      expect((await api(node.url, 'DELETE', `/api/tokens/${bob.id}`)).status).toBeLessThan(300);
      await waitForSync(page, ['closed']);
      const badge = await page.getByTestId('sync-state').innerText();
      expect(badge).toMatch(/^Disconnected · AUTH_UNAUTHORIZED: /);
      expect(badge).not.toMatch(/AUTH_UNAUTHORIZED: AUTH_UNAUTHORIZED/);
      expect(badge).toMatch(/sign in again/);

      // the next request answers 401: the tab is signed out, and the sign-in screen says why
      await page.getByRole('link', { name: 'Profiles' }).click();
      await page.getByLabel('API token').waitFor();
      const alert = page.getByRole('alert');
      await expect(alert.innerText()).resolves.toMatch(/^AUTH_UNAUTHORIZED: the node no longer accepts this token/);
      expect(await page.evaluate(() => sessionStorage.getItem('profilesync.token'))).toBeNull();
    } finally {
      await context.close();
    }
  });

  it('a bad id in "New profile" is refused in words inside the dialog, and nothing is created', async () => {
    const { context, page } = await signedInPage(browser, node.url, (await editorToken('ann')).token, 'Ann');
    try {
      const before = (await api(node.url, 'GET', '/api/profiles?limit=1')).body.total as number;
      await page.getByRole('button', { name: 'New profile' }).click();
      await dialogReady(page, 'create-dialog');
      const dialog = page.getByTestId('create-dialog');
      await page.getByLabel('Name (required)').fill('Billing bot');
      await page.getByLabel('Model id (required)').fill('gpt-4o');
      const idField = page.getByLabel('Id (optional; generated from the name)');
      await expect(idField.evaluate((el) => document.getElementById(el.getAttribute('aria-describedby') ?? '')?.textContent)).resolves.toMatch(/letters, digits/);
      // Enter submits only while the Create button is enabled (it is disabled while a submit runs)
      const idle = () => expect.poll(() => dialog.getByRole('button', { name: 'Create' }).isEnabled()).toBe(true);
      for (const bad of ['Bad Id!', 'x'.repeat(129), '-starts-with-dash']) {
        await idle();
        await idField.fill(bad);
        await page.keyboard.press('Enter');
        await expect(dialog.getByRole('alert').innerText()).resolves.toMatch(/^PROFILE_INVALID_ID: the id may use letters, digits and \. _ : -/);
      }
      await idle();
      expect((await api(node.url, 'GET', '/api/profiles?limit=1')).body.total).toBe(before);
      await idField.fill('billing-bot');
      await page.keyboard.press('Enter');
      await page.getByTestId('create-dialog').waitFor({ state: 'detached' });
      await eventually(async () => (await api(node.url, 'GET', '/api/profiles/billing-bot')).status === 200, 'the profile to be created');
    } finally {
      await context.close();
    }
  });

  it('"Add message" with the keyboard puts the focus into the new message, so typing goes there', async () => {
    const id = 'nc-keyboard';
    await createProfile(node.url, id, { messages: [{ role: 'user', content: 'First.' }] });
    const { context, page } = await signedInPage(browser, node.url, (await editorToken('kim')).token, 'Kim');
    try {
      await page.goto(`${node.url}/#/profiles/${id}`);
      await waitForSync(page, ['connected', 'saved']);
      await page.getByLabel('New message role').focus();
      await page.keyboard.press('Tab');
      expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Add message');
      await page.keyboard.press('Enter');
      await page.waitForFunction(() => document.activeElement?.closest('[data-testid="text-message-1"]') != null);
      await page.keyboard.type('Second, typed right away.');
      expect(await editorText(page, 'text-message-1')).toBe('Second, typed right away.');
      await waitForSync(page, ['saved']);
      const v = (await api(node.url, 'GET', `/api/profiles/${id}`)).body;
      expect(v.messages.map((m: { content: string }) => m.content)).toEqual(['First.', 'Second, typed right away.']);
    } finally {
      await context.close();
    }
  });

  it('the created-token dialog says "an editor" / "a viewer"', async () => {
    const { context, page } = await signedInPage(browser, node.url, (await api(node.url, 'POST', '/api/tokens', { role: 'admin', name: 'root2' })).body.token, 'Root');
    try {
      await page.goto(`${node.url}/#/tokens`);
      for (const [role, article] of [['editor', 'an'], ['viewer', 'a']] as const) {
        await page.getByLabel("Person's name").fill(`Pat ${role}`);
        await page.getByLabel('Token name (required)').fill(`pat-${role}`);
        await page.getByRole('radio', { name: new RegExp(`^\\s*${role}:`) }).check();
        await page.getByRole('button', { name: 'Create token' }).click();
        await dialogReady(page, 'token-created-dialog');
        await expect(page.getByTestId('token-created-dialog').innerText()).resolves.toContain(`it signs in as ${article} ${role}.`);
        await page.keyboard.press('Escape');
        await page.getByTestId('token-created-dialog').waitFor({ state: 'detached' });
      }
    } finally {
      await context.close();
    }
  });

  // last: it stops the node
  it('the list while the node is down says so in words (no "TypeError"), and comes back with the node', async () => {
    await createProfile(node.url, 'nc-list-1');
    const { context, page } = await signedInPage(browser, node.url, (await editorToken('lee')).token, 'Lee');
    try {
      await page.goto(`${node.url}/#/profiles/nc-list-1/history`);
      await page.getByRole('heading', { name: /History of/ }).waitFor();
      await node.halt();
      await page.getByRole('link', { name: 'Profiles' }).click();
      const error = page.getByRole('main').getByRole('alert');
      await expect(error.innerText()).resolves.toBe('NETWORK_ERROR: the node cannot be reached');
      await node.restart();
      await page.getByRole('link', { name: /^Profile nc-list-1$/ }).waitFor({ timeout: 30_000 });
      expect(await error.count()).toBe(0);
    } finally {
      await context.close();
    }
  });
});
