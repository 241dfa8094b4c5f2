/**
 * What GET /api/peers tells an operator about a peer that is not connected (its dial state,
 * the last failure code, the next retry), the node's own key (`self`), and
 * POST /api/peers?dryRun=true (the same checks as an add, nothing stored): two real nodes on
 * 127.0.0.1 with the sync package mounted.
 */
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultConfig, startServer, type RunningServer } from '../src/index.js';
import { ADMIN, http, tempDir } from './helpers.js';

const dir = tempDir('ps-peers-');
const servers: RunningServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.close().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

async function node(name: string): Promise<RunningServer> {
  const s = await startServer(defaultConfig({ dataDir: join(dir, name), port: 0, logLevel: 'silent' }), { env: {}, adminToken: ADMIN });
  servers.push(s);
  return s;
}

async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

async function until<T>(fn: () => Promise<T | undefined>, what: string, timeout = 20_000): Promise<T> {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const wsUrl = (s: RunningServer) => `${s.url.replace(/^http/, 'ws')}/sync`;
const otherKey = 'qGm6yJ0v0cQ3y0x0pO1c4bK0k8m2Zr0a6Zc3Kp1h9Rs';

describe('GET /api/peers and POST /api/peers?dryRun=true', () => {
  it('dryRun validates like an add and answers the fingerprint, storing nothing', async () => {
    const a = await node('dry');
    const before = await http(a.url, 'GET', '/api/peers');
    expect(before.body.self).toEqual({ publicKey: a.publicKey, fingerprint: a.fingerprint });
    const dry = await http(a.url, 'POST', '/api/peers?dryRun=true', { body: { url: 'ws://127.0.0.1:9/sync', key: otherKey, name: 'edge' } });
    expect(dry.status).toBe(200);
    expect(dry.body).toMatchObject({ dryRun: true, url: 'ws://127.0.0.1:9/sync', name: 'edge', fingerprint: expect.any(String), id: expect.stringMatching(/^[0-9a-f]{12}$/) });
    expect((await http(a.url, 'GET', '/api/peers')).body.peers).toEqual([]);
    // the real add answers the same fingerprint
    const added = await http(a.url, 'POST', '/api/peers', { body: { url: 'ws://127.0.0.1:9/sync', key: otherKey, name: 'edge' } });
    expect(added.status).toBe(201);
    expect(added.body.fingerprint).toBe(dry.body.fingerprint);
    // the same errors as an add, nothing stored
    expect((await http(a.url, 'POST', '/api/peers?dryRun=true', { body: { url: 'ws://127.0.0.1:9/sync', key: otherKey } })).body.error.code).toBe('PEER_EXISTS');
    expect((await http(a.url, 'POST', '/api/peers?dryRun=true', { body: { url: 'http://x', key: otherKey.replace('q', 'r') } })).body.error.code).toBe('PEER_INVALID');
    expect((await http(a.url, 'POST', '/api/peers?dryRun=maybe', { body: { url: 'ws://x/sync', key: otherKey } })).body.error).toMatchObject({ code: 'REQUEST_INVALID', details: { field: 'dryRun' } });
    expect((await http(a.url, 'GET', '/api/peers')).body.peers).toHaveLength(1);
  });

  it('a peer that refuses our key, and one nobody answers at: state, lastError and the next retry', async () => {
    const a = await node('a');
    const b = await node('b'); // b does not know a's key
    const port = await closedPort();
    expect((await http(a.url, 'POST', '/api/peers', { body: { url: wsUrl(b), key: b.publicKey, name: 'b' } })).status).toBe(201);
    const deadKey = (await http(a.url, 'POST', '/api/peers?dryRun=true', { body: { url: `ws://127.0.0.1:${port}/sync`, key: otherKey } })).body;
    expect((await http(a.url, 'POST', '/api/peers', { body: { url: `ws://127.0.0.1:${port}/sync`, key: otherKey, name: 'dead' } })).status).toBe(201);
    const peers = await until(async () => {
      const r = await http(a.url, 'GET', '/api/peers');
      const all = r.body.peers as any[];
      return all.every((p) => p.lastError !== null && p.state === 'backoff') ? all : undefined;
    }, 'both peers to fail and back off');
    const byName = Object.fromEntries(peers.map((p) => [p.name, p]));
    expect(byName.b).toMatchObject({ connected: false, state: 'backoff', lastError: 'CRYPTO_PEER_UNKNOWN', lastErrno: null, lastSeen: null });
    expect(byName.dead).toMatchObject({ id: deadKey.id, connected: false, state: 'backoff', lastError: 'SYNC_CONNECTION_LOST', lastErrno: 'ECONNREFUSED', lastSeen: null });
    for (const p of peers) expect(Date.parse(p.nextRetryAt)).toBeGreaterThan(Date.now() - 60_000);
  });
});
