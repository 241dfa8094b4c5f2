/**
 * Fleet benchmarks: real nodes, each in its OWN process (startServer from the sources), on a
 * real redis-server started for the run. Load generators are processes of their own too.
 *
 *   fleet-fanout:        PATCH on node A -> node C's store emits the change event for that
 *                        version (C reports it with a wall-clock timestamp, performance.timeOrigin
 *                        + now(): the same clock in every process): p50/p99 ms over 300 edits, with A,
 *                        B, C in a fleet and only the bus carrying changes (the joins' repair
 *                        sessions closed first). Anchor, same run: the same measurement with A
 *                        and C peered over /sync (one standing session, no bus). Goal: bus p99
 *                        < 5 ms on loopback.
 *   fleet-read-scaling:  GET /api/profiles/:id, autocannon against one node of a 3-node fleet,
 *                        then against all three at once (one autocannon each): value = total
 *                        req/s of the three, baseline = the one; ratio = 3-node / 1-node. This
 *                        machine has 2 cores shared by every process: per-core figures in extra.
 *   fleet-write-scaling: PATCHes to 32 profiles (16 concurrent requests per node, a load
 *                        process per node): a 1-node fleet, then 3 nodes (every write is
 *                        applied and fsynced on all three). value = acknowledged writes/s of
 *                        the 3-node fleet, baseline = the 1-node fleet. Goal: flat within 20%.
 *
 * Knobs: BENCH_FLEET_SECONDS (default 5), BENCH_FLEET_EDITS (default 300).
 * When BENCH_FLEET_CHILD is set this file runs as a child: 'node' or 'writer'.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { nowMs, result, summarize, type BenchCase, type BenchResult } from './harness.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SELF = fileURLToPath(import.meta.url);
const TOKEN = 'bench-fleet-admin-token-0123456789';
const SECONDS = Number(process.env.BENCH_FLEET_SECONDS ?? 5);
const EDITS = Number(process.env.BENCH_FLEET_EDITS ?? 300);
const AUTH = { authorization: `Bearer ${TOKEN}` };


// ---------------------------------------------------------------- children
async function runChild(kind: string): Promise<void> {
  if (kind === 'node') {
    const { defaultConfig, startServer } = await import('@profilesync/server');
    const dir = mkdtempSync(join(tmpdir(), 'ps-bench-fleet-'));
    const bus = process.env.BENCH_BUS_URL
      ? { url: process.env.BENCH_BUS_URL, key: process.env.BENCH_FLEET_KEY!, advertiseUrl: '', prefix: 'bench', maxLen: 100_000, maxAgeMs: 0, seeds: 2, antiEntropyMs: 0 }
      : undefined;
    const server = await startServer(defaultConfig({ dataDir: join(dir, 'data'), port: 0, logLevel: 'warn', ...(bus ? { bus } : {}) }), { env: {}, adminToken: TOKEN, onAdminToken: () => undefined });
    process.stdout.write(`${JSON.stringify({ url: server.url, publicKey: server.publicKey })}\n`);
    // change events of every profile, as `{ change: version, at }` lines (at: wall clock, ms)
    if (process.env.BENCH_WATCH) {
      server.node.store.subscribe((e) => process.stdout.write(`${JSON.stringify({ change: e.view.version, at: performance.timeOrigin + performance.now() })}\n`));
    }
    const stop = () => void server.close().finally(() => {
      rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    });
    process.on('SIGTERM', stop);
    process.stdin.on('end', stop);
    process.stdin.resume();
    return;
  }
  if (kind === 'writer') {
    // PATCHes to random profiles for BENCH_SECONDS with BENCH_CONCURRENCY requests in flight
    const url = process.env.BENCH_URL!;
    const ids = process.env.BENCH_IDS!.split(',');
    const end = Date.now() + Number(process.env.BENCH_SECONDS) * 1000;
    let ok = 0;
    let failed = 0;
    let n = 0;
    const worker = async (w: number) => {
      while (Date.now() < end) {
        const id = ids[Math.floor(Math.random() * ids.length)]!;
        const res = await fetch(`${url}/api/profiles/${id}`, { method: 'PATCH', headers: { ...AUTH, 'content-type': 'application/json' }, body: JSON.stringify({ templates: { [`w${w}`]: `edit ${n++}` } }) });
        await res.arrayBuffer();
        if (res.status === 200) ok++;
        else failed++;
      }
    };
    const t0 = nowMs();
    await Promise.all(Array.from({ length: Number(process.env.BENCH_CONCURRENCY) }, (_, w) => worker(w)));
    process.stdout.write(`${JSON.stringify({ ok, failed, ms: nowMs() - t0 })}\n`);
    process.exit(0);
  }
}

if (process.env.BENCH_FLEET_CHILD) await runChild(process.env.BENCH_FLEET_CHILD);

// ---------------------------------------------------------------- parent
interface Proc {
  child: ChildProcess;
  url: string;
  publicKey: string;
  /** resolves with the wall-clock time at which this node's store emitted a change to `version` */
  changed(version: string): Promise<number>;
}

const wallNow = (): number => performance.timeOrigin + performance.now();

function startNode(bus?: { url: string; key: string }): Promise<Proc> {
  const child = spawn(process.execPath, ['--conditions=@profilesync/source', '--import', 'tsx', SELF], {
    cwd: ROOT,
    env: { ...process.env, BENCH_FLEET_CHILD: 'node', BENCH_WATCH: '1', ...(bus ? { BENCH_BUS_URL: bus.url, BENCH_FLEET_KEY: bus.key } : { BENCH_BUS_URL: '' }) },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const seen = new Map<string, number>();
  const waiters = new Map<string, (at: number) => void>();
  return new Promise((resolve, reject) => {
    let first = true;
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = JSON.parse(line) as { url: string; publicKey: string } & { change?: string; at?: number };
      if (first) {
        first = false;
        resolve({
          child,
          url: m.url,
          publicKey: m.publicKey,
          changed: (version) => (seen.has(version) ? Promise.resolve(seen.get(version)!) : new Promise((r) => waiters.set(version, r))),
        });
        return;
      }
      if (m.change === undefined) return;
      if (seen.size > 10_000) seen.clear();
      seen.set(m.change, m.at!);
      waiters.get(m.change)?.(m.at!);
      waiters.delete(m.change);
    });
    child.once('exit', (code) => reject(new Error(`node child exited with ${code}`)));
  });
}

function stop(p: Proc | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (!p || p.child.exitCode !== null) return resolve();
    p.child.once('exit', () => resolve());
    p.child.stdin!.end();
    setTimeout(() => p.child.kill('SIGKILL'), 10_000).unref();
  });
}

async function call<T = any>(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(base + path, { method, headers: { ...AUTH, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

async function until(fn: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      if (await fn()) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const ready = (p: Proc) => until(async () => (await fetch(`${p.url}/readyz`)).status === 200, 60_000, `${p.url} ready`);
/** No /sync session open (the joins' repair sessions closed once idle): only the bus carries changes. */
const noSessions = (p: Proc) => until(async () => /profilesync_sync_peers_connected 0\b/.test(await (await fetch(`${p.url}/metrics`)).text()), 60_000, `${p.url}: no sync session`);

async function withRedis<T>(fn: (bus: { url: string; key: string }) => Promise<T>): Promise<T> {
  const { startRedisServer } = await import('../../packages/cache/test/redis-server.js');
  const redis = await startRedisServer();
  try {
    return await fn({ url: redis.url, key: randomBytes(32).toString('base64') });
  } finally {
    await redis.stop();
  }
}

/** PATCH on `a`, then the change event in `c`'s store: ms per edit (the first 20 are warm-up). */
async function fanout(a: Proc, c: Proc, id: string): Promise<number[]> {
  await call(a.url, 'POST', '/api/profiles', { id, modelId: 'gpt-4o', name: 'Fanout', systemMessage: 'Start.' });
  await until(async () => (await call(c.url, 'GET', `/api/profiles/${id}`)).status === 200, 30_000, 'the profile on C');
  const samples: number[] = [];
  let text = 'Start.';
  for (let i = 0; i < EDITS + 20; i++) {
    text += ` ${i}`;
    const t0 = wallNow();
    const r = await call<{ version: string }>(a.url, 'PATCH', `/api/profiles/${id}`, { systemMessage: text });
    if (r.status !== 200) throw new Error(`PATCH ${r.status}`);
    const at = await c.changed(r.body.version);
    if (i >= 20) samples.push(at - t0);
  }
  return samples;
}

const require = createRequire(import.meta.url);

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  non2xx: number;
  errors: number;
}

function autocannon(url: string, seconds: number, connections: number): Promise<AutocannonResult> {
  const cli = join(dirname(require.resolve('autocannon/package.json')), 'autocannon.js');
  const child = spawn(process.execPath, [cli, '--json', '-c', String(connections), '-d', String(seconds), '-p', '1', '-H', `authorization=Bearer ${TOKEN}`, url], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`autocannon exited with ${code}: ${err.slice(-500)}`));
      const r = JSON.parse(out) as AutocannonResult;
      if (r.non2xx > 0 || r.errors > 0) return reject(new Error(`${url}: ${r.non2xx} non-2xx, ${r.errors} errors`));
      resolve(r);
    });
  });
}

function writer(url: string, ids: string[], seconds: number, concurrency: number): Promise<{ ok: number; failed: number; ms: number }> {
  const child = spawn(process.execPath, ['--conditions=@profilesync/source', '--import', 'tsx', SELF], {
    cwd: ROOT,
    env: { ...process.env, BENCH_FLEET_CHILD: 'writer', BENCH_URL: url, BENCH_IDS: ids.join(','), BENCH_SECONDS: String(seconds), BENCH_CONCURRENCY: String(concurrency) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (line) => resolve(JSON.parse(line)));
    child.once('exit', (code) => code !== 0 && reject(new Error(`writer exited with ${code}`)));
  });
}

const CORES = cpus().length;

const cases: BenchCase[] = [
  {
    name: 'fleet-fanout',
    async run(): Promise<BenchResult> {
      // anchor: A and C peered over /sync, no bus
      let sync: number[];
      {
        const a = await startNode();
        const c = await startNode();
        try {
          await call(a.url, 'POST', '/api/peers', { url: `${c.url.replace('http', 'ws')}/sync`, key: c.publicKey });
          await call(c.url, 'POST', '/api/peers', { url: `${a.url.replace('http', 'ws')}/sync`, key: a.publicKey });
          await until(async () => (await call<{ peers: { connected: boolean }[] }>(a.url, 'GET', '/api/peers')).body.peers.every((p) => p.connected), 30_000, 'the /sync session');
          sync = await fanout(a, c, 'fanout-sync');
        } finally {
          await Promise.all([stop(a), stop(c)]);
        }
      }
      const bus = await withRedis(async (b) => {
        const nodes = [await startNode(b), await startNode(b), await startNode(b)];
        try {
          await Promise.all(nodes.map(ready));
          await Promise.all(nodes.map(noSessions));
          return await fanout(nodes[0]!, nodes[2]!, 'fanout-bus');
        } finally {
          await Promise.all(nodes.map(stop));
        }
      });
      const s = summarize(bus);
      const base = summarize(sync);
      return result({
        name: 'fleet-fanout',
        unit: 'ms',
        value: s.p99,
        p50: s.p50,
        p99: s.p99,
        baseline: 'the same (PATCH on A -> change event on C) over one /sync session, no bus',
        baselineValue: base.p99,
        goal: 'bus p99 < 5 ms on loopback',
        met: s.p99 < 5,
        extra: { edits: bus.length, baseline_p50_ms: Number(base.p50.toFixed(3)), max_ms: Number(s.max.toFixed(3)), nodes: 3 },
      });
    },
  },
  {
    name: 'fleet-read-scaling',
    async run(): Promise<BenchResult> {
      return withRedis(async (b) => {
        const nodes = [await startNode(b), await startNode(b), await startNode(b)];
        try {
          await Promise.all(nodes.map(ready));
          const id = 'read-scaling';
          await call(nodes[0]!.url, 'POST', '/api/profiles', { id, modelId: 'gpt-4o', name: 'Reads', systemMessage: 'You answer briefly. '.repeat(20), templates: { greet: 'Hello {{name}}' } });
          for (const n of nodes) await until(async () => (await call(n.url, 'GET', `/api/profiles/${id}`)).status === 200, 30_000, 'the profile everywhere');
          const path = `/api/profiles/${id}`;
          const connections = 16;
          await autocannon(nodes[0]!.url + path, 2, connections); // warm-up
          const one = await autocannon(nodes[0]!.url + path, SECONDS, connections);
          await Promise.all(nodes.map((n) => autocannon(n.url + path, 2, connections))); // warm-up
          const three = await Promise.all(nodes.map((n) => autocannon(n.url + path, SECONDS, connections)));
          const total = three.reduce((sum, r) => sum + r.requests.average, 0);
          return result({
            name: 'fleet-read-scaling',
            unit: 'ops/s',
            value: total,
            baseline: 'one node of the fleet alone under the same load (one autocannon)',
            baselineValue: one.requests.average,
            extra: {
              cores: CORES,
              per_core_3_nodes: Math.round(total / CORES),
              per_core_1_node: Math.round(one.requests.average / CORES),
              p99_ms_3_nodes: Math.max(...three.map((r) => r.latency.p99)),
              p99_ms_1_node: one.latency.p99,
              connections_per_node: connections,
              seconds: SECONDS,
            },
          });
        } finally {
          await Promise.all(nodes.map(stop));
        }
      });
    },
  },
  {
    name: 'fleet-write-scaling',
    async run(): Promise<BenchResult> {
      return withRedis(async (b) => {
        const ids = Array.from({ length: 32 }, (_, i) => `ws-${i}`);
        const concurrency = 16;
        const a = await startNode(b);
        const others: Proc[] = [];
        try {
          await ready(a);
          for (const id of ids) await call(a.url, 'POST', '/api/profiles', { id, modelId: 'gpt-4o', name: id });
          await writer(a.url, ids, 2, concurrency); // warm-up
          const one = await writer(a.url, ids, SECONDS, concurrency);
          others.push(await startNode(b), await startNode(b));
          await Promise.all(others.map(ready));
          const all = [a, ...others];
          await Promise.all(all.map(noSessions));
          await Promise.all(all.map((n) => writer(n.url, ids, 2, concurrency))); // warm-up
          const three = await Promise.all(all.map((n) => writer(n.url, ids, SECONDS, concurrency)));
          const rate1 = (one.ok / one.ms) * 1000;
          const rate3 = three.reduce((sum, r) => sum + (r.ok / r.ms) * 1000, 0);
          const failed = one.failed + three.reduce((s, r) => s + r.failed, 0);
          if (failed > 0) throw new Error(`${failed} writes failed`);
          // every node must end with the same content (the fleet really replicated them)
          await until(async () => {
            const lists = await Promise.all(all.map(async (n) => JSON.stringify((await call<{ profiles: { id: string; version: string }[] }>(n.url, 'GET', '/api/profiles?limit=1000')).body.profiles.map((p) => [p.id, p.version]).sort())));
            return lists.every((l) => l === lists[0]);
          }, 120_000, 'the fleet to converge after the write load');
          return result({
            name: 'fleet-write-scaling',
            unit: 'ops/s',
            value: rate3,
            baseline: 'a 1-node fleet under one load process (same concurrency, same profiles)',
            baselineValue: rate1,
            goal: '3-node / 1-node >= 0.8 (flat within 20%)',
            met: rate3 / rate1 >= 0.8,
            extra: { cores: CORES, per_core_3_nodes: Math.round(rate3 / CORES), per_core_1_node: Math.round(rate1 / CORES), concurrency_per_node: concurrency, profiles: ids.length, seconds: SECONDS },
          });
        } finally {
          await Promise.all([a, ...others].map(stop));
        }
      });
    },
  },
];

export default process.env.BENCH_FLEET_CHILD ? [] : cases;
