/**
 * Peers page in Chromium against two real nodes: this node's key, adding a peer after
 * confirming its fingerprint, why a peer is not connected in words (it refuses our key,
 * nothing answers), "never" seen, "Sync now" messages, a connected peer with lag in human
 * units, and removing a peer.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { ADMIN, api, createProfile, dialogReady, eventually, nodeAndBrowser, shot, signedInPage, startNode, unlabeledControls, type TestNode } from './helpers.js';

let node: TestNode;
let browser: Browser;
let page: Page;

nodeAndBrowser((env) => ({ node, browser } = env));

const wsUrl = (n: TestNode) => `${n.url.replace(/^http/, 'ws')}/sync`;
const row = (p: Page, name: string) => p.getByTestId('peers-table').locator('tbody tr').filter({ hasText: name });

async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

describe('peers', () => {
  it('adds a peer after showing its fingerprint, and says in words why it is not connected', async () => {
    const other = await startNode();
    try {
      ({ page } = await signedInPage(browser, node.url, ADMIN, 'Operator'));
      await page.goto(`${node.url}/#/peers`);
      await page.getByTestId('no-peers').waitFor();
      await expect(page.getByTestId('self-key').innerText()).resolves.toBe(node.server.publicKey);
      await expect(page.getByTestId('self-fingerprint').innerText()).resolves.toBe(node.server.fingerprint);

      // a bad key is refused next to the form, nothing stored
      await page.getByLabel('Peer URL').fill(wsUrl(other));
      await page.getByLabel('Public key').fill('not-a-key');
      await page.getByRole('button', { name: 'Check and add…' }).click();
      await page.getByRole('alert').filter({ hasText: 'PEER_INVALID' }).waitFor();
      expect((await api(node.url, 'GET', '/api/peers')).body.peers).toEqual([]);

      // the real key: confirm the fingerprint, then it is added
      await page.getByLabel('Public key').fill(other.server.publicKey);
      await page.getByLabel('Name (optional)').fill('other');
      await page.getByRole('button', { name: 'Check and add…' }).click();
      await dialogReady(page, 'add-peer-dialog');
      await expect(page.getByTestId('candidate-fingerprint').innerText()).resolves.toBe(other.server.fingerprint);
      expect((await api(node.url, 'GET', '/api/peers')).body.peers).toEqual([]); // not before the confirmation
      await shot(page, 'peers-add-confirm');
      expect(await unlabeledControls(page)).toEqual([]);
      await page.keyboard.press('Enter');
      await page.getByTestId('add-peer-dialog').waitFor({ state: 'detached' });
      await page.getByTestId('status').filter({ hasText: `Added peer other (fingerprint ${other.server.fingerprint}).` }).waitFor();

      // the other node does not know this one: it refuses our key
      const r = row(page, 'other');
      await eventually(async () => (await r.getByTestId('peer-state').innerText()).includes('Refused our key'), 'the refusal to be explained');
      await expect(r.getByTestId('peer-detail').innerText()).resolves.toMatch(/does not accept this node's key/);
      await expect(r.getByTestId('peer-seen').innerText()).resolves.toBe('never');

      // nothing answers at a closed port
      expect((await api(node.url, 'POST', '/api/peers', { url: `ws://127.0.0.1:${await closedPort()}/sync`, key: randomBytes(32).toString('base64url'), name: 'dead' })).status).toBe(201);
      const dead = row(page, 'dead');
      await eventually(async () => (await dead.count()) === 1 && (await dead.getByTestId('peer-state').innerText()).includes('Unreachable'), 'the unreachable peer');
      await eventually(async () => /Backing off: next try at .* \(in \d+/.test(await dead.getByTestId('peer-detail').innerText()), 'the next retry time');
      // the socket error of the last dial, in words
      await expect(dead.getByTestId('peer-detail').innerText()).resolves.toMatch(/^Connection refused at ws:\/\/127\.0\.0\.1:\d+\/sync: nothing listens on that port/);
      await expect(dead.getByTestId('peer-seen').innerText()).resolves.toBe('never');
      await shot(page, 'peers');
      expect(await unlabeledControls(page)).toEqual([]);

      // Sync now says which peer failed and why, in words
      await page.getByRole('button', { name: 'Sync now' }).click();
      await page.getByTestId('alert').filter({ hasText: 'Sync did not complete.' }).waitFor({ timeout: 60_000 });
      const msg = await page.getByTestId('alert').innerText();
      expect(msg).toContain('other is not connected: refused our key.');
      expect(msg).toContain('dead is not connected: unreachable.');

      // remove the dead one (a confirmation first)
      await dead.getByRole('button', { name: 'Remove peer dead' }).click();
      await dialogReady(page, 'remove-peer-dialog');
      await page.keyboard.press('Enter');
      await eventually(async () => (await dead.count()) === 0, 'the removed peer to go');
      expect((await api(node.url, 'GET', '/api/peers')).body.peers.map((p: any) => p.name)).toEqual(['other']);

      // the other node adds this one: Sync now connects, converges, and the row says so
      expect((await api(other.url, 'POST', '/api/peers', { url: wsUrl(node), key: node.server.publicKey, name: 'web-node' })).status).toBe(201);
      await createProfile(node.url, 'shared-1');
      await page.getByRole('button', { name: 'Sync now' }).click();
      await page.getByTestId('status').filter({ hasText: 'In sync with 1 peer' }).waitFor({ timeout: 60_000 });
      await eventually(async () => (await r.getByTestId('peer-state').innerText()).includes('Connected'), 'connected');
      await eventually(async () => (await r.getByTestId('peer-lag').innerText()).startsWith('up to date'), 'caught up');
      await expect(r.getByTestId('peer-seen').innerText()).resolves.toMatch(/^(just now|\d+ s ago)$/);
      expect((await api(other.url, 'GET', '/api/profiles/shared-1')).status).toBe(200);
      await shot(page, 'peers-connected');
    } finally {
      await other.stop();
    }
  });
});
