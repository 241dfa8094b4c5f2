/**
 * The fleet panel on the Peers page in Chromium, against two real nodes of one fleet on a real
 * redis-server: members with their URLs and state, then the bus going away said in words.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { defaultConfig, startServer, type RunningServer } from '@profilesync/server';
import { startRedisServer, type RedisServer } from '../../../packages/cache/test/redis-server.js';
import { ADMIN, ensureBuilt, eventually, launchBrowser, shot, signedInPage } from './helpers.js';

let redis: RedisServer;
let browser: Browser;
const nodes: RunningServer[] = [];
const dirs: string[] = [];

beforeAll(async () => {
  ensureBuilt();
  redis = await startRedisServer();
  const key = randomBytes(32).toString('base64');
  for (let i = 0; i < 2; i++) {
    const dir = mkdtempSync(join(tmpdir(), 'ps-web-fleet-'));
    dirs.push(dir);
    const bus = { url: redis.url, key, advertiseUrl: '', prefix: 'web-fleet', maxLen: 10_000, maxAgeMs: 0, seeds: 2, antiEntropyMs: 0 };
    nodes.push(await startServer(defaultConfig({ dataDir: join(dir, 'data'), port: 0, logLevel: 'silent', bus }), { adminToken: ADMIN, env: {} }));
  }
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  for (const n of nodes) await n.close().catch(() => undefined);
  await redis?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('fleet panel', () => {
  it('lists the members at their URLs, then says when the bus is unreachable', async () => {
    const [a, b] = nodes as [RunningServer, RunningServer];
    const { page, context } = await signedInPage(browser, a.url, ADMIN, 'Operator');
    try {
      await page.goto(`${a.url}/#/peers`);
      const summary = page.getByTestId('cluster-summary');
      await eventually(async () => (await summary.innerText().catch(() => '')).includes('In sync · 2 of 2 members live'), 'both members live in the panel', 30_000);
      const members = page.getByTestId('cluster-members');
      await expect(members.innerText()).resolves.toContain(b.url);
      await expect(members.locator('tr', { hasText: '(this node)' }).innerText()).resolves.toContain(a.url);
      await shot(page, 'fleet-panel');
      await redis.kill();
      await eventually(async () => (await summary.innerText().catch(() => '')).includes('Bus unreachable'), 'the bus reported unreachable', 30_000);
      await expect(page.getByTestId('cluster-panel').innerText()).resolves.toContain('reads and writes go on here');
    } finally {
      await context.close();
    }
  }, 120_000);
});
