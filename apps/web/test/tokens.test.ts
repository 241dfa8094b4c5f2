/**
 * Tokens page in Chromium against a real node: create a per-person token (the person's name
 * and email, role, profile globs), the secret shown once with a copy button and gone after
 * the dialog, the token works with exactly its grants and its changes carry the person's name
 * (history, updatedBy), bad input refused next to the field, change, revoke after a confirmation.
 */
import { describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { ADMIN, api, createProfile, dialogReady, eventually, nodeAndBrowser, shot, signedInPage, unlabeledControls, waitForSync, type TestNode } from './helpers.js';

let node: TestNode;
let browser: Browser;
let page: Page;

nodeAndBrowser((env) => ({ node, browser } = env));

describe('tokens', () => {
  it('creates a per-person token shown once, which works within its grants, then revokes it', async () => {
    await createProfile(node.url, 'team-a.bot');
    await createProfile(node.url, 'team-b.bot');
    ({ page } = await signedInPage(browser, node.url, ADMIN, 'Operator'));
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: node.url });
    await page.getByRole('link', { name: 'Tokens' }).click();
    const table = page.getByTestId('tokens-table');
    await table.waitFor();
    await expect(table.locator('tbody tr').first().innerText()).resolves.toContain('this session');

    // a glob with a character no profile id has is refused next to the field
    await page.getByLabel('Token name (required)').fill('ada-laptop');
    await page.getByLabel('editor').check();
    await page.getByLabel('Profiles (optional)').fill('team-a.* bad/glob');
    await page.getByRole('button', { name: 'Create token' }).click();
    await page.locator('#err-profiles').filter({ hasText: '"bad/glob"' }).waitFor();
    expect(await page.getByLabel('Profiles (optional)').getAttribute('aria-invalid')).toBe('true');

    // the person: a bad email is refused by the node next to its field
    await page.getByLabel('Profiles (optional)').fill('team-a.*');
    await page.getByLabel("Person's name").fill('Ada Lovelace');
    await page.getByLabel('Email (optional)').fill('not an email');
    await page.getByRole('button', { name: 'Create token' }).click();
    await page.locator('#err-email').waitFor();
    expect(await page.getByLabel('Email (optional)').getAttribute('aria-invalid')).toBe('true');
    expect((await api(node.url, 'GET', '/api/tokens')).body.tokens.some((t: any) => t.name === 'ada-laptop')).toBe(false);
    await page.getByLabel('Email (optional)').fill('ada@example.com');
    await page.getByRole('button', { name: 'Create token' }).click();
    await dialogReady(page, 'token-created-dialog');
    await expect(page.getByTestId('token-created-dialog').innerText()).resolves.toContain('Give it to Ada Lovelace');
    const secret = await page.getByTestId('new-token-value').inputValue();
    expect(secret).toMatch(/^ps_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    await expect(page.getByTestId('token-created-dialog').innerText()).resolves.toContain('the only time the node shows this token');
    await page.getByTestId('token-created-dialog').getByRole('button', { name: 'Copy' }).click();
    await page.getByTestId('token-created-dialog').getByText(/Copied to the clipboard|Selected: press Ctrl\+C/).waitFor();
    await shot(page, 'tokens-created');
    expect(await unlabeledControls(page)).toEqual([]);
    await page.getByRole('button', { name: 'Done, I have stored it' }).click();
    await page.getByTestId('token-created-dialog').waitFor({ state: 'detached' });
    expect(await page.content()).not.toContain(secret); // shown once: gone with the dialog

    // the token is an editor for team-a.* only
    expect((await api(node.url, 'GET', '/api/profiles', undefined, secret)).body.profiles.map((p: any) => p.id)).toEqual(['team-a.bot']);
    expect((await api(node.url, 'PATCH', '/api/profiles/team-a.bot', { description: 'by ada' }, secret)).status).toBe(200);
    expect((await api(node.url, 'PATCH', '/api/profiles/team-b.bot', { description: 'by ada' }, secret)).status).toBe(403);
    const listed = (await api(node.url, 'GET', '/api/tokens')).body.tokens.find((t: any) => t.name === 'ada-laptop');
    expect(listed).toMatchObject({ role: 'editor', profiles: ['team-a.*'], displayName: 'Ada Lovelace', email: 'ada@example.com' });
    const row = page.getByTestId('tokens-table').locator(`tr[data-token="${listed.id}"]`);
    await row.waitFor();
    await expect(row.innerText()).resolves.toMatch(/Ada Lovelace[\s\S]*ada@example\.com[\s\S]*ada-laptop[\s\S]*editor[\s\S]*team-a\.\*/);
    await shot(page, 'tokens');

    // Ada signs in with it (no name typed: the token's person is shown), edits; history shows her, not the token
    const ada = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const ap = await ada.newPage();
    await ap.goto(node.url);
    await ap.getByLabel('API token').fill(secret);
    await ap.keyboard.press('Enter');
    await expect(ap.getByTestId('who').innerText()).resolves.toBe('Ada Lovelace · editor');
    await ap.goto(`${node.url}/#/profiles/team-a.bot`);
    await waitForSync(ap, ['connected', 'saved']);
    await ap.locator('[data-testid="text-systemMessage"] .cm-content').click();
    await ap.keyboard.type('Hi. ');
    await waitForSync(ap, ['saved']);
    await ap.getByRole('link', { name: 'History' }).click();
    await ap.locator('[data-testid="timeline"] li').first().waitFor();
    await expect(ap.locator('[data-testid="timeline"] li').first().innerText()).resolves.toContain('Ada Lovelace');
    expect((await api(node.url, 'GET', '/api/profiles/team-a.bot')).body.updatedBy).toBe('Ada Lovelace');
    await ada.close();

    // change: editor -> viewer for every profile; its writes are refused from now on
    await row.getByRole('button', { name: 'Change token ada-laptop' }).click();
    await dialogReady(page, 'change-token-dialog');
    const change = page.getByTestId('change-token-dialog');
    await change.getByLabel(/viewer:/).check();
    await change.getByLabel(/Profiles \(globs/).fill('');
    expect(await unlabeledControls(page)).toEqual([]);
    await change.getByRole('button', { name: 'Save' }).click();
    await change.waitFor({ state: 'detached' });
    await eventually(async () => (await row.innerText()).includes('viewer'), 'the row to show the new role');
    expect((await api(node.url, 'GET', '/api/tokens')).body.tokens.find((t: any) => t.id === listed.id)).toMatchObject({ role: 'viewer', profiles: null });
    expect((await api(node.url, 'PATCH', '/api/profiles/team-a.bot', { description: 'again' }, secret)).status).toBe(403);
    expect((await api(node.url, 'GET', '/api/profiles', undefined, secret)).body.profiles.map((p: any) => p.id)).toEqual(['team-a.bot', 'team-b.bot']);

    // revoke: Escape keeps it, the confirmation revokes it
    await row.getByRole('button', { name: 'Revoke token ada-laptop' }).click();
    await dialogReady(page, 'revoke-token-dialog');
    await page.keyboard.press('Escape');
    await page.getByTestId('revoke-token-dialog').waitFor({ state: 'detached' });
    expect((await api(node.url, 'GET', '/api/profiles', undefined, secret)).status).toBe(200);
    await row.getByRole('button', { name: 'Revoke token ada-laptop' }).click();
    await dialogReady(page, 'revoke-token-dialog');
    await page.keyboard.press('Enter');
    await eventually(async () => (await row.count()) === 0, 'the revoked token to leave the list');
    expect((await api(node.url, 'GET', '/api/profiles', undefined, secret)).status).toBe(401);
    await page.getByTestId('status').filter({ hasText: 'Revoked token ada-laptop.' }).waitFor();
  });

  it('the last admin token cannot be revoked: the node says why inside the dialog', async () => {
    const mine = page.getByTestId('tokens-table').locator('tbody tr').filter({ hasText: 'this session' });
    await mine.getByRole('button', { name: /^Revoke token / }).click();
    await dialogReady(page, 'revoke-token-dialog');
    await expect(page.getByTestId('revoke-token-dialog').innerText()).resolves.toContain('you will be signed out');
    await page.keyboard.press('Enter');
    await page.getByTestId('revoke-token-dialog').getByRole('alert').filter({ hasText: 'TOKEN_LAST_ADMIN' }).waitFor();
    await page.keyboard.press('Escape');
    expect((await api(node.url, 'GET', '/api/profiles')).status).toBe(200);
  });
});
