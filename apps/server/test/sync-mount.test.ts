/**
 * The WebSocket mount with the real sync package: two nodes on 127.0.0.1 that know each
 * other's keys (POST /api/peers) converge through POST /api/sync; GET /api/peers shows the
 * sessions; /yjs/:id takes ?token=; shutdown closes WebSockets with 1001.
 */
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { defaultConfig, startServer, type RunningServer } from '../src/index.js';
import { ADMIN, http, profileInput, tempDir, wsUrl } from './helpers.js';

const dir = tempDir('ps-sync-');
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

describe('sync mount', () => {
  it('two nodes converge through /sync; peers report sessions; /yjs checks the token; close sends 1001', async () => {
    const a = await node('a');
    const b = await node('b');
    expect((await http(a.url, 'POST', '/api/peers', { body: { url: wsUrl(b, '/sync'), key: b.publicKey, name: 'b' } })).status).toBe(201);
    expect((await http(b.url, 'POST', '/api/peers', { body: { url: wsUrl(a, '/sync'), key: a.publicKey, name: 'a' } })).status).toBe(201);
    expect((await http(a.url, 'POST', '/api/profiles', { body: profileInput('shared', { systemMessage: 'from A' }) })).status).toBe(201);
    const sync = await http(a.url, 'POST', '/api/sync', { body: { timeoutMs: 20_000 } });
    expect(sync.status).toBe(200);
    expect(sync.body.converged).toBe(true);
    const onB = await http(b.url, 'GET', '/api/profiles/shared');
    expect(onB.status).toBe(200);
    expect(onB.body.systemMessage).toBe('from A');
    const peers = await http(a.url, 'GET', '/api/peers');
    expect(peers.body.sync).toBe('available');
    expect(peers.body.peers).toEqual([expect.objectContaining({ name: 'b', connected: true, fingerprint: b.fingerprint, lagMillis: 0 })]);
    const metrics = (await http(a.url, 'GET', '/metrics')).text;
    expect(metrics).toMatch(/profilesync_sync_peers_connected 1/);
    expect(metrics).toContain(`profilesync_sync_peer_lag_seconds{peer="${peers.body.peers[0].id}"} 0`);

    const refused = await new Promise<number>((resolve) => {
      const ws = new WebSocket(wsUrl(a, '/yjs/shared?token=wrong-token-value-123456'));
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('close', (code) => resolve(code));
      ws.on('error', () => undefined);
    });
    expect([401, 4401, 1008]).toContain(refused);

    const client = new WebSocket(wsUrl(a, `/yjs/shared?token=${ADMIN}`));
    await new Promise<void>((resolve, reject) => {
      client.once('open', () => resolve());
      client.once('error', reject);
    });
    const closed = new Promise<number>((resolve) => client.once('close', (code) => resolve(code)));
    await a.close();
    expect(await closed).toBe(1001);
  }, 60_000);
});
