/**
 * Webhooks page in Chromium against a real node and a real receiver on 127.0.0.1 that fails
 * twice before it answers: adding a hook (the secret shown once), its state in words, the
 * delivery log with the receiver's errors and the retries, removing it. Scoped admins and
 * editors do not get the page.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { ADMIN, api, createProfile, createToken, dialogReady, eventually, nodeAndBrowser, shot, signedInPage, unlabeledControls, type TestNode } from './helpers.js';

let node: TestNode;
let browser: Browser;
nodeAndBrowser((env) => ({ node, browser } = env));

let receiver: Server;
let hookUrl = '';
const script: number[] = [];
let received = 0;
beforeAll(async () => {
  receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const status = script.shift() ?? 204;
      if (status === 204) received++;
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
});
afterAll(async () => {
  receiver?.closeAllConnections();
  await new Promise((r) => receiver?.close(r));
});

describe('webhooks page', () => {
  it('adds a hook, shows its secret once, lists failed attempts and the delivery, removes it', async () => {
    const { page, context } = await signedInPage(browser, node.url, ADMIN, 'Operator');
    try {
      await page.getByRole('link', { name: 'Webhooks' }).click();
      await page.getByTestId('no-hooks').waitFor();
      await page.getByLabel('URL').fill(hookUrl);
      await page.getByLabel('Name (optional)').fill('ci');
      await page.getByLabel('label.moved').uncheck();
      expect(await unlabeledControls(page)).toEqual([]);
      await page.getByRole('button', { name: 'Add webhook' }).click();
      await dialogReady(page, 'hook-secret-dialog');
      await expect(page.getByTestId('hook-secret').innerText()).resolves.toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
      await page.keyboard.press('Enter');
      await page.getByTestId('hook-secret-dialog').waitFor({ state: 'detached' });
      const hooks = (await api(node.url, 'GET', '/api/webhooks')).body.webhooks;
      expect(hooks).toMatchObject([{ name: 'ci', url: hookUrl, events: ['profile.created', 'profile.updated', 'profile.deleted'] }]);
      expect(await page.content()).not.toContain('whsec_'); // gone once the dialog is closed

      // the receiver fails twice, then answers: the log shows both errors and the delivery
      script.push(500, 502);
      await createProfile(node.url, 'hooked');
      await page.getByTestId('deliveries-table').waitFor();
      await eventually(async () => (await page.getByTestId('deliveries-table').locator('tbody tr').count()) === 3, 'three attempts in the log');
      const answers = await page.getByTestId('delivery-answer').allInnerTexts();
      expect(answers.map((a) => a.replace(/ \(\d+ ms\)$/, ''))).toEqual(['HTTP 204', 'HTTP 502', 'HTTP 500']);
      expect(await page.getByTestId('deliveries-table').locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-outcome')))).toEqual(['delivered', 'retrying', 'retrying']);
      await eventually(async () => (await page.getByTestId('hook-state').innerText()).startsWith('delivered'), 'state in words');
      expect(await page.getByTestId('hook-delivered').innerText()).toBe('1');
      expect(received).toBe(1);
      await shot(page, 'webhooks-deliveries');

      await page.getByRole('button', { name: 'Remove webhook ci' }).click();
      await dialogReady(page, 'remove-hook-dialog');
      await page.keyboard.press('Enter');
      await page.getByTestId('no-hooks').waitFor();
      expect((await api(node.url, 'GET', '/api/webhooks')).body.webhooks).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('is not offered to editors or scoped admins', async () => {
    const editor = await createToken(node.url, 'editor', 'Ed');
    const { page, context } = await signedInPage(browser, node.url, editor, 'Ed');
    try {
      await expect(page.getByRole('link', { name: 'Webhooks' }).count()).resolves.toBe(0);
    } finally {
      await context.close();
    }
  });
});
