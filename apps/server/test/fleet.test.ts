/**
 * Nodes of one fleet in this process (real redis-server, real LevelDB, real /sync sockets):
 * joining with only the bus URL and the fleet key, GET /api/cluster, /readyz while a joining
 * node cannot catch up, config errors, metrics. The multi-process scenarios (SIGKILL, Redis
 * restarted empty, a node past the window, Redis down) are in test/fleet.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/index.js';
import { http, profileInput, startTestServer, tempDir, type TestServer } from './helpers.js';
import { startRedisServer, type RedisServer } from '../../../packages/cache/test/redis-server.js';

const KEY = randomBytes(32).toString('base64');

async function until(fn: () => Promise<boolean> | boolean, ms = 20_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('fleet (in-process nodes, real Redis)', () => {
  let redis: RedisServer;
  const nodes: TestServer[] = [];
  const start = async (extra: Record<string, unknown> = {}): Promise<TestServer> => {
    const s = await startTestServer({ bus: { url: redis.url, key: KEY, advertiseUrl: '', prefix: 'fleet-test', maxLen: 10_000, maxAgeMs: 0, seeds: 2, antiEntropyMs: 0, ...extra } });
    nodes.push(s);
    return s;
  };

  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    for (const n of nodes) await n.stop().catch(() => undefined);
    await redis?.stop();
  });

  it('nodes join with only the bus URL and the fleet key; a write on one is read on the others; /api/cluster lists them', async () => {
    const a = await start();
    const b = await start();
    const c = await start();
    for (const n of [a, b, c]) await until(async () => (await http(n.url, 'GET', '/readyz', { token: null })).status === 200, 20_000, 'ready');
    await until(async () => (await http(a.url, 'GET', '/api/cluster')).body.members.filter((m: { alive: boolean }) => m.alive).length === 3, 20_000, 'three live members');
    const cluster = (await http(a.url, 'GET', '/api/cluster')).body;
    expect(cluster.bus).toMatchObject({ connected: true, shards: 16, repairPending: false });
    expect(cluster.members.map((m: { url: string }) => m.url).sort()).toEqual([a.url, b.url, c.url].sort());
    expect(cluster.members.find((m: { self: boolean }) => m.self).id).toBe(cluster.self);
    for (const m of cluster.members) expect(Date.parse(m.lastSeen)).toBeGreaterThan(Date.now() - 60_000);

    // the joins repaired over /sync; those on-demand sessions close once idle, then only the bus carries changes
    for (const n of [a, b, c]) await until(async () => /profilesync_sync_peers_connected 0\b/.test((await http(n.url, 'GET', '/metrics')).text), 20_000, 'repair sessions closed');
    const created = await http(a.url, 'POST', '/api/profiles', { body: profileInput('fleet-1') });
    expect(created.status).toBe(201);
    await until(async () => (await http(c.url, 'GET', '/api/profiles/fleet-1')).status === 200, 10_000, 'the profile on C');
    const patched = await http(c.url, 'PATCH', '/api/profiles/fleet-1', { body: { systemMessage: 'Changed on C.' } });
    expect(patched.status).toBe(200);
    await until(async () => (await http(a.url, 'GET', '/api/profiles/fleet-1')).body.version === patched.body.version, 10_000, 'C\'s change on A');
    await until(async () => (await http(b.url, 'GET', '/api/profiles/fleet-1')).body.version === patched.body.version, 10_000, 'C\'s change on B');

    // the bus carried it (not /sync): entries applied, none rejected, no shard reset after the join
    const metrics = (await http(b.url, 'GET', '/metrics')).text;
    expect(metrics).toMatch(/profilesync_bus_applied_total\{result="applied"\} [1-9]/);
    expect(metrics).toMatch(/profilesync_bus_connected 1/);
    expect(metrics).toMatch(/profilesync_fleet_members\{state="alive"\} 3/);
    // the audit on B names who made the change, from where
    const audit = (await http(b.url, 'GET', '/api/audit?profile=fleet-1')).body.records as { origin: string }[];
    expect(audit.some((r) => r.origin.startsWith('bus:'))).toBe(true);
  });

  it('a node without a bus answers /api/cluster with { bus: null, members: [] }', async () => {
    const solo = await startTestServer();
    nodes.push(solo);
    expect((await http(solo.url, 'GET', '/api/cluster')).body).toEqual({ bus: null, members: [] });
    expect((await http(solo.url, 'GET', '/api/cluster', { token: null })).status).toBe(401);
  });

  it('a joining node is not ready (503 FLEET_CATCHING_UP) while it cannot catch up, and ready once it did', async () => {
    const a = nodes[0]!;
    await http(a.url, 'POST', '/api/profiles', { body: profileInput('before-join') });
    await redis.kill();
    const d = await start();
    const r = await http(d.url, 'GET', '/readyz', { token: null });
    expect(r.status).toBe(503);
    expect(r.body.reasons).toEqual([expect.objectContaining({ check: 'fleet', code: 'FLEET_CATCHING_UP' })]);
    // reads and writes never wait on Redis
    expect((await http(d.url, 'POST', '/api/profiles', { body: profileInput('made-on-d-offline') })).status).toBe(201);
    expect((await http(a.url, 'PATCH', '/api/profiles/fleet-1', { body: { description: 'edited while Redis is down' } })).status).toBe(200);
    await redis.restart(); // empty: every node sees new epochs and repairs over /sync
    await until(async () => (await http(d.url, 'GET', '/readyz', { token: null })).status === 200, 30_000, 'D ready');
    expect((await http(d.url, 'GET', '/api/profiles/before-join')).status).toBe(200);
    await until(async () => (await http(a.url, 'GET', '/api/profiles/made-on-d-offline')).status === 200, 30_000, 'D\'s offline profile on A');
    await until(async () => (await http(d.url, 'GET', '/api/profiles/fleet-1')).body.description === 'edited while Redis is down', 30_000, 'A\'s edit on D');
    const resets = (await http(a.url, 'GET', '/metrics')).text;
    expect(resets).toMatch(/profilesync_bus_shard_resets_total\{reason="epoch"\} [1-9]/);
  });

  it('a member started with another fleet key is reported on every node (degraded FLEET_KEY_MISMATCH, /api/cluster, metrics) instead of a fleet that looks healthy', async () => {
    const bus = { prefix: 'fleet-key-test' };
    const a = await start(bus);
    const b = await start(bus);
    const stranger = await startTestServer({ bus: { url: redis.url, key: randomBytes(32).toString('base64'), advertiseUrl: '', prefix: 'fleet-key-test', maxLen: 10_000, maxAgeMs: 0, seeds: 2, antiEntropyMs: 0 } });
    nodes.push(stranger);
    const strangerId = (await http(stranger.url, 'GET', '/api/cluster')).body.self as string;
    for (const n of [a, b]) {
      await until(async () => {
        const r = await http(n.url, 'GET', '/readyz', { token: null });
        return r.status === 200 && r.body.degraded === true && r.body.reasons.some((x: { code: string; message: string }) => x.code === 'FLEET_KEY_MISMATCH' && x.message.includes(strangerId));
      }, 20_000, 'the mismatch on a member');
      const k = (await http(n.url, 'GET', '/api/cluster')).body.bus.keyMismatch;
      expect(k).toMatchObject({ active: true, members: [strangerId] });
      // the stranger is not a member, and the members of the fleet still see each other
      expect((await http(n.url, 'GET', '/api/cluster')).body.members.map((m: { id: string }) => m.id)).not.toContain(strangerId);
      expect((await http(n.url, 'GET', '/metrics')).text).toMatch(/profilesync_fleet_key_mismatch_members 1\b/);
    }
    // the stranger sees the fleet's records under a key it does not hold: the same report there
    await until(async () => (await http(stranger.url, 'GET', '/api/cluster')).body.bus.keyMismatch.members.length === 2, 20_000, 'the mismatch on the stranger');
    // its changes never reach the fleet, and each of its entries is counted where it was refused
    expect((await http(stranger.url, 'POST', '/api/profiles', { body: profileInput('from-the-stranger') })).status).toBe(201);
    await until(async () => (await http(a.url, 'GET', '/api/cluster')).body.bus.keyMismatch.entries >= 1, 20_000, 'its entry refused on A');
    expect((await http(a.url, 'GET', '/api/profiles/from-the-stranger')).status).toBe(404);
    expect(Date.parse((await http(a.url, 'GET', '/api/cluster')).body.bus.keyMismatch.lastEntryAt)).toBeGreaterThan(Date.now() - 60_000);
  });

  it('config: bus.url needs a valid fleet key; a wildcard bind needs bus.advertise_url', () => {
    const dir = tempDir();
    const bad = (env: Record<string, string>) => {
      try {
        loadConfig({ env: { PROFILESYNC_DATA_DIR: dir, ...env } });
      } catch (err) {
        return { code: (err as { code: string }).code, key: (err as { details: { key: string } }).details.key };
      }
      return undefined;
    };
    expect(bad({ PROFILESYNC_BUS_URL: 'redis://127.0.0.1:1' })).toEqual({ code: 'CONFIG_INVALID', key: 'bus.key' });
    expect(bad({ PROFILESYNC_BUS_URL: 'redis://127.0.0.1:1', PROFILESYNC_FLEET_KEY: 'c2hvcnQ=' })).toEqual({ code: 'CONFIG_INVALID', key: 'bus.key' });
    expect(bad({ PROFILESYNC_BUS_URL: 'http://127.0.0.1:1', PROFILESYNC_FLEET_KEY: KEY })).toEqual({ code: 'CONFIG_INVALID', key: 'bus.url' });
    expect(bad({ PROFILESYNC_BUS_URL: 'redis://127.0.0.1:1', PROFILESYNC_FLEET_KEY: KEY, PROFILESYNC_HOST: '0.0.0.0' })).toEqual({ code: 'CONFIG_INVALID', key: 'bus.advertise_url' });
    expect(bad({ PROFILESYNC_BUS_URL: 'redis://127.0.0.1:1', PROFILESYNC_FLEET_KEY: KEY, PROFILESYNC_BUS_ADVERTISE_URL: 'ftp://x' })).toEqual({ code: 'CONFIG_INVALID', key: 'bus.advertise_url' });
    expect(bad({ PROFILESYNC_BUS_URL: 'redis://127.0.0.1:1', PROFILESYNC_FLEET_KEY: KEY, PROFILESYNC_HOST: '0.0.0.0', PROFILESYNC_BUS_ADVERTISE_URL: 'http://10.0.0.5:7878' })).toBeUndefined();
    const ok = loadConfig({ env: { PROFILESYNC_DATA_DIR: dir, PROFILESYNC_BUS_URL: 'redis://127.0.0.1:1', PROFILESYNC_FLEET_KEY: KEY } });
    expect(ok.bus).toMatchObject({ url: 'redis://127.0.0.1:1', key: KEY, maxLen: 10_000, seeds: 2, prefix: 'profilesync:fleet' });
  });
});
