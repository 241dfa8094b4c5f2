/**
 * Disk full (issue 11.4), on a real small file system (tmpfs; see small-disk.ts): once the disk
 * is full, writes are refused with 503 LOG_DISK_FULL, while uncached reads of a profile, its
 * history, the audit and cache clear keep answering 200; when space returns, writes work again
 * without a restart and nothing acknowledged is lost (also across a restart).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig, startServer, type RunningServer } from '../src/index.js';
import { ADMIN, http, profileInput } from './helpers.js';
import { mountSmallDisk, type SmallDisk } from './small-disk.js';

let disk: SmallDisk;
let node: RunningServer | undefined;
let dataDir = '';

async function start(encrypted: boolean): Promise<RunningServer> {
  return startServer(defaultConfig({ dataDir, port: 0, logLevel: 'silent', encryption: encrypted }), {
    env: {},
    adminToken: ADMIN,
    sync: false,
    ...(encrypted ? { passphrase: async () => 'disk full test passphrase', scrypt: { N: 1024, r: 8, p: 1 } } : {}),
  });
}

beforeAll(() => {
  disk = mountSmallDisk(48 * 1024 * 1024);
});
afterAll(async () => {
  await node?.close().catch(() => undefined);
  disk?.unmount();
});

/** Every read the issue names, uncached (caches cleared first); all must answer 200. */
async function readsWork(n: RunningServer, ids: string[]): Promise<void> {
  const cleared = await http(n.url, 'POST', '/api/cache/clear');
  expect([cleared.status, cleared.body.error?.code]).toEqual([200, undefined]);
  for (const id of ids) {
    const view = await http(n.url, 'GET', `/api/profiles/${id}`);
    expect([id, view.status, view.body.error?.code]).toEqual([id, 200, undefined]);
    const history = await http(n.url, 'GET', `/api/profiles/${id}/history`);
    expect([id, history.status]).toEqual([id, 200]);
  }
  const audit = await http(n.url, 'GET', '/api/audit?limit=50');
  expect(audit.status).toBe(200);
  expect((await http(n.url, 'GET', '/api/profiles')).status).toBe(200);
}

describe('a full disk', () => {
  it.each([false, true])('encrypted=%s: writes 503 LOG_DISK_FULL; reads, history, audit, cache clear 200 throughout; space back: writes resume at once, nothing lost', async (encrypted) => {
    dataDir = join(disk.dir, encrypted ? 'enc' : 'plain');
    node = await start(encrypted);
    const ids = Array.from({ length: 20 }, (_, i) => `disk-${i}`);
    for (const id of ids) expect((await http(node.url, 'POST', '/api/profiles', { body: profileInput(id) })).status).toBe(201);
    const acked = new Map<string, string>();
    for (const id of ids) {
      const r = await http(node.url, 'PATCH', `/api/profiles/${id}`, { body: { description: `before the disk filled ${id}` } });
      expect(r.status).toBe(200);
      acked.set(id, r.body.description);
    }

    disk.fill();
    expect(disk.free()).toBeLessThan(64 * 1024);

    // writes are refused with a stable code, and refused again (the node does not get stuck or crash)
    const refused: string[] = [];
    for (let i = 0; i < 6; i++) {
      const id = ids[i % ids.length]!;
      const r = await http(node.url, 'PATCH', `/api/profiles/${id}`, { body: { description: `REFUSED ${i} ${'x'.repeat(4096)}` } });
      if (r.status === 200) {
        acked.set(id, r.body.description); // what still fitted in LevelDB's log is durable
        continue;
      }
      expect([r.status, r.body.error.code]).toEqual([503, 'LOG_DISK_FULL']);
      refused.push(`REFUSED ${i}`);
      // reads keep answering between refused writes
      await readsWork(node, ids);
    }
    expect(refused.length).toBeGreaterThan(0);
    const created = await http(node.url, 'POST', '/api/profiles', { body: profileInput('born-on-a-full-disk') });
    expect([created.status, created.body.error?.code]).toEqual([503, 'LOG_DISK_FULL']);
    // aux records (tokens) too
    const token = await http(node.url, 'POST', '/api/tokens', { body: { role: 'viewer', name: 'full-disk' } });
    expect([token.status, token.body.error?.code]).toEqual([503, 'LOG_DISK_FULL']);
    await readsWork(node, ids);
    const metrics = (await http(node.url, 'GET', '/metrics')).text;
    expect(metrics).toMatch(/profilesync_log_batch_failures_total\{code="LOG_DISK_FULL"\} [1-9]/);

    // space returns: the very next writes succeed, without a restart (an aux record first, then a batch)
    disk.drain();
    const tokenAfter = await http(node.url, 'POST', '/api/tokens', { body: { role: 'viewer', name: 'after-the-disk' } });
    expect([tokenAfter.status, tokenAfter.body.error?.code]).toEqual([201, undefined]);
    const resumed = await http(node.url, 'PATCH', '/api/profiles/disk-0', { body: { description: 'after the space returned' } });
    expect([resumed.status, resumed.body.error?.code]).toEqual([200, undefined]);
    acked.set('disk-0', 'after the space returned');
    expect((await http(node.url, 'POST', '/api/profiles', { body: profileInput('born-after') })).status).toBe(201);

    // nothing acknowledged is lost, nothing refused got in: now, and after a restart
    const check = async (n: RunningServer) => {
      await http(n.url, 'POST', '/api/cache/clear');
      for (const [id, description] of acked) expect([id, (await http(n.url, 'GET', `/api/profiles/${id}`)).body.description]).toEqual([id, description]);
      expect((await http(n.url, 'GET', '/api/profiles/born-on-a-full-disk')).status).toBe(404);
      expect((await http(n.url, 'GET', '/api/profiles/born-after')).status).toBe(200);
    };
    await check(node);
    await node.close();
    node = await start(encrypted);
    await check(node);
    expect((await http(node.url, 'GET', '/api/profiles', { token: tokenAfter.body.token })).status).toBe(200);
    expect((await http(node.url, 'GET', '/readyz')).status).toBe(200);
    await node.close();
    node = undefined;
  });
});
