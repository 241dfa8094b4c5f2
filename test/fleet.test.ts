/**
 * A fleet of three node PROCESSES (the built binary, started with docs/operations.md's example
 * configs as written) on a real redis-server. Scenarios, one after the other on the same fleet:
 * concurrent writers on overlapping profiles on all three nodes; SIGKILL of a node at a random
 * moment; Redis SIGKILLed at a random moment and restarted empty; a node stopped past the
 * stream window; Redis down for a while. After every scenario: all nodes hold identical content
 * (every profile's version equal everywhere), every acknowledged write is on every node, and
 * `profilesync verify` is clean on every data dir. Plus: presence crosses nodes.
 *
 * A write is one worker setting its own template key to its next counter value; a worker's
 * writes are sequential, so "every acked write is present" = on every node the key's value is at
 * least the worker's last acknowledged counter (a later, unacknowledged write may have landed).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startRedisServer, type RedisServer } from '../packages/cache/test/redis-server.js';
import { spawnSync } from 'node:child_process';
import { ADMIN, api, assertBuilt, BIN, NodeProc, writeExampleConfigs } from './fleet-procs.js';

const PROFILES = Array.from({ length: 6 }, (_, i) => `shared-${i}`);
const WORKERS = 3; // per node

async function until(fn: () => Promise<boolean> | boolean, ms: number, what: string, diag?: () => Promise<string> | string): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      if (await fn()) return;
    } catch {
      /* a node restarting: try again */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${diag ? `\n${await diag()}` : ''}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `profilesync cluster --url URL --token T [...]` */
function cluster(n: NodeProc, args: string[]): { code: number; stdout: string } {
  const r = spawnSync(process.execPath, [BIN, 'cluster', '--url', n.url, '--token', ADMIN, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout };
}

describe('a fleet of three node processes over Redis Streams', () => {
  let redis: RedisServer;
  let dir: string;
  let nodes: NodeProc[] = [];
  /** `${profile}|${key}` -> the last acknowledged counter */
  const acked = new Map<string, number>();
  const counters = new Map<string, number>();
  let extraProfiles: string[] = [];

  const ready = (n: NodeProc) => until(async () => (await api(n.url, 'GET', '/readyz')).status === 200, 60_000, `${n.name} ready`, () => n.stderr.slice(-3000));

  beforeAll(async () => {
    assertBuilt();
    redis = await startRedisServer();
    dir = mkdtempSync(join(tmpdir(), 'fleet-e2e-'));
    const files = writeExampleConfigs(dir);
    expect(files).toEqual(['node-a.toml', 'node-b.toml', 'node-c.toml']);
    // the documented overrides only: the test's Redis (env beats the file), a free port (--port), a small window
    const env = { PROFILESYNC_BUS_URL: redis.url, PROFILESYNC_FLEET_KEY: randomBytes(32).toString('base64'), PROFILESYNC_BUS_MAX_LEN: '100' };
    for (const f of files) nodes.push(new NodeProc(f.replace('.toml', ''), dir, join(dir, f), await freePort(), env));
    await Promise.all(nodes.map((n) => n.start()));
    await Promise.all(nodes.map(ready));
  }, 120_000);

  afterAll(async () => {
    for (const n of nodes) await n.kill().catch(() => undefined);
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Workers on `on` write until `stop()` resolves true (checked between writes). */
  function writers(on: NodeProc[], stop: () => boolean): Promise<void> {
    const jobs: Promise<void>[] = [];
    for (const n of on) {
      for (let w = 0; w < WORKERS; w++) {
        const key = `w_${n.name.replace('-', '_')}_${w}`;
        jobs.push(
          (async () => {
            while (!stop()) {
              const profile = PROFILES[Math.floor(Math.random() * PROFILES.length)]!;
              const value = (counters.get(key) ?? 0) + 1;
              counters.set(key, value);
              try {
                const r = await api(n.url, 'PATCH', `/api/profiles/${profile}`, { templates: { [key]: String(value) } }, 5_000);
                if (r.status === 200) {
                  const k = `${profile}|${key}`;
                  acked.set(k, Math.max(acked.get(k) ?? 0, value));
                } else await sleep(20);
              } catch {
                await sleep(50); // the node is down (killed): not acknowledged
              }
            }
          })(),
        );
      }
    }
    return Promise.all(jobs).then(() => undefined);
  }

  const writeFor = async (on: NodeProc[], ms: number) => {
    const end = Date.now() + ms;
    await writers(on, () => Date.now() > end);
  };

  /** Identical versions of every profile on every node, and every acknowledged write on every node. */
  async function converged(): Promise<void> {
    const expected = [...PROFILES, ...extraProfiles].sort();
    let last = '';
    await until(
      async () => {
        const lists = await Promise.all(nodes.map(async (n) => (await api<{ profiles: { id: string; version: string }[] }>(n.url, 'GET', '/api/profiles?limit=1000')).body.profiles));
        const maps = lists.map((l) => JSON.stringify(l.map((p) => [p.id, p.version]).sort()));
        last = maps.join('\n');
        if (!maps.every((m) => m === maps[0])) return false;
        if (JSON.stringify(lists[0]!.map((p) => p.id).sort()) !== JSON.stringify(expected)) return false;
        for (const n of nodes) {
          for (const p of PROFILES) {
            const v = (await api<{ templates: Record<string, string> }>(n.url, 'GET', `/api/profiles/${p}`)).body;
            for (const [k, value] of acked) {
              const [profile, key] = k.split('|') as [string, string];
              if (profile === p && Number(v.templates[key] ?? 0) < value) {
                last = `${n.name}: ${p}.${key} = ${v.templates[key]} < acked ${value}`;
                return false;
              }
            }
          }
        }
        return true;
      },
      90_000,
      'the fleet to converge',
      async () => `${last}\n${(await Promise.all(nodes.map(async (n) => `${n.name}: ${JSON.stringify((await api(n.url, 'GET', '/api/cluster')).body.bus)}`))).join('\n')}\n${nodes.map((n) => `${n.name} stderr: ${n.stderr.slice(-2000)}`).join('\n')}`,
    );
  }

  /** Stops every node, `profilesync verify` on each data dir, starts them again. */
  async function verifyAll(): Promise<void> {
    await Promise.all(nodes.map((n) => n.stop()));
    for (const n of nodes) {
      const v = n.verify();
      expect(v.json, `${n.name} verify`).toMatchObject({ ok: true, broken: [] });
      expect(v.code).toBe(0);
      expect(v.json.entries).toBeGreaterThan(0);
    }
    await Promise.all(nodes.map((n) => n.start()));
    await Promise.all(nodes.map(ready));
  }

  const metric = async (n: NodeProc, re: RegExp): Promise<number> => {
    const text = await (await fetch(`${n.url}/metrics`)).text();
    return Number(re.exec(text)?.[1] ?? 0);
  };

  it('joins with only the bus URL and the fleet key: every node lists the three members at their HTTP base URLs', async () => {
    for (const n of nodes) {
      await until(async () => (await api(n.url, 'GET', '/api/cluster')).body.members.filter((m: { alive: boolean }) => m.alive).length === 3, 30_000, `${n.name} sees 3 members`);
      // a member that joined last triggers one more repair round on the others: wait until it ran
      await until(async () => (await api(n.url, 'GET', '/api/cluster')).body.bus.repairPending !== true, 30_000, `${n.name} has no repair pending`);
      const c = (await api(n.url, 'GET', '/api/cluster')).body;
      expect(c.bus.connected).toBe(true);
      expect(c.members.map((m: { url: string }) => m.url).sort()).toEqual(nodes.map((x) => x.url).sort());
    }
    // the CLI shows the same
    const json = cluster(nodes[0]!, ['--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout).members).toHaveLength(3);
    const human = cluster(nodes[1]!, []);
    expect(human.stdout).toMatch(/^bus connected, lag \d+ ms, 16 shards; this node is caught up/);
    for (const n of nodes) expect(human.stdout).toContain(n.url);
  });

  it('concurrent writers on overlapping profiles on all three nodes', async () => {
    const [a] = nodes as [NodeProc];
    for (const p of PROFILES) expect((await api(a.url, 'POST', '/api/profiles', { id: p, modelId: 'gpt-4o', name: p, systemMessage: 'Be brief.' })).status).toBe(201);
    await writeFor(nodes, 3_000);
    expect(acked.size).toBeGreaterThan(PROFILES.length);
    await converged();
    await verifyAll();
  }, 240_000);

  it('SIGKILL of a node at a random moment while all write; it restarts and catches up', async () => {
    const victim = nodes[1 + Math.floor(Math.random() * 2)]!;
    let stop = false;
    const load = writers(nodes, () => stop);
    await sleep(300 + Math.random() * 1_200);
    await victim.kill();
    await sleep(500 + Math.random() * 500);
    await victim.start();
    await sleep(500);
    stop = true;
    await load;
    await ready(victim);
    await converged();
    await verifyAll();
  }, 240_000);

  it('Redis SIGKILLed at a random moment and restarted empty: writes go on; nothing is lost', async () => {
    let stop = false;
    const load = writers(nodes, () => stop);
    await sleep(200 + Math.random() * 1_000);
    await redis.kill();
    await sleep(200 + Math.random() * 800);
    await redis.restart(); // no persistence: an empty Redis, new epochs
    await sleep(800);
    stop = true;
    await load;
    await converged();
    expect(await metric(nodes[0]!, /profilesync_bus_shard_resets_total\{reason="epoch"\} (\d+)/)).toBeGreaterThan(0);
    await verifyAll();
  }, 240_000);

  it('a node stopped past the stream window catches up by a repair over /sync', async () => {
    const c = nodes[2]!;
    await c.stop();
    // ~100 entries per shard are kept: write far more than that on the others, over many profiles (all 16 shards)
    extraProfiles = Array.from({ length: 48 }, (_, i) => `wide-${i}`);
    const [a, b] = nodes as [NodeProc, NodeProc];
    for (const p of extraProfiles) expect((await api(a.url, 'POST', '/api/profiles', { id: p, modelId: 'm', name: p })).status).toBe(201);
    const jobs: Promise<unknown>[] = [];
    for (let k = 0; k < 8; k++) {
      jobs.push(
        (async () => {
          for (let i = 0; i < 150; i++) {
            const n = (i + k) % 2 === 0 ? a : b;
            const p = extraProfiles[(i * 8 + k) % extraProfiles.length]!;
            const r = await api(n.url, 'PATCH', `/api/profiles/${p}`, { description: `round ${i} by ${k}` });
            expect(r.status).toBe(200);
          }
        })(),
      );
    }
    await Promise.all(jobs);
    await c.start();
    await ready(c);
    expect(await metric(c, /profilesync_bus_shard_resets_total\{reason="trimmed"\} (\d+)/)).toBeGreaterThan(0);
    await converged();
    await verifyAll();
  }, 300_000);

  it('Redis down for a while: writes never wait on it, changes still reach every node (fallback /sync sessions), and all repair when it returns', async () => {
    const [a, b, c] = nodes as [NodeProc, NodeProc, NodeProc];
    await redis.kill();
    await until(async () => (await api(a.url, 'GET', '/api/cluster')).body.bus.fallback.length > 0, 20_000, 'fallback sessions on A');
    let stop = false;
    const load = writers(nodes, () => stop);
    // a write on A reaches C without Redis
    const r = await api(a.url, 'PATCH', `/api/profiles/${PROFILES[0]}`, { description: 'written while Redis is down' });
    expect(r.status).toBe(200);
    await until(async () => (await api(c.url, 'GET', `/api/profiles/${PROFILES[0]}`)).body.description === 'written while Redis is down', 20_000, 'A\'s write on C over /sync');
    await sleep(1_500);
    expect((await api(b.url, 'GET', '/api/cluster')).body.bus.connected).toBe(false);
    await redis.restart();
    await sleep(500);
    stop = true;
    await load;
    await converged();
    // back on the bus: the fallback sessions end
    for (const n of nodes) await until(async () => (await api(n.url, 'GET', '/api/cluster')).body.bus.fallback.length === 0, 30_000, `${n.name} leaves fallback`);
    await verifyAll();
  }, 300_000);

  it('presence: two editors on different nodes see each other (awareness over the bus)', async () => {
    const [a, , c] = nodes as [NodeProc, NodeProc, NodeProc];
    const open = (n: NodeProc, user: string) => {
      const doc = new Y.Doc();
      const p = new WebsocketProvider(`${n.url.replace('http', 'ws')}/yjs`, PROFILES[1]!, doc, { WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket, params: { token: ADMIN }, disableBc: true });
      p.awareness.setLocalStateField('user', { name: user });
      return p;
    };
    const pa = open(a, 'ada');
    const pc = open(c, 'cleo');
    try {
      const names = (p: WebsocketProvider) => [...p.awareness.getStates().values()].map((s) => (s as { user?: { name: string } }).user?.name).filter(Boolean).sort();
      await until(() => JSON.stringify(names(pa)) === '["ada","cleo"]' && JSON.stringify(names(pc)) === '["ada","cleo"]', 20_000, 'both editors in both rooms');
      // a cursor move on C reaches A
      pc.awareness.setLocalStateField('cursor', { anchor: 3 });
      await until(() => [...pa.awareness.getStates().values()].some((s) => (s as { cursor?: { anchor: number } }).cursor?.anchor === 3), 20_000, 'C\'s cursor on A');
      // C leaves: it disappears from A
      pc.destroy();
      await until(() => JSON.stringify(names(pa)) === '["ada"]', 40_000, 'C gone from A');
    } finally {
      pa.destroy();
      pc.destroy();
    }
  }, 120_000);
});
