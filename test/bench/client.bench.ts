/**
 * The app SDK (@profilesync/client) against a real node.
 *
 * client-get           `client.get(id)` of a cached profile (a live client, the recommended
 *                      setup: no clock read; `client-get-ttl` is a non-live client, ttl check)
 *                      vs a raw lru-cache get of the same keys, interleaved chunks in the same
 *                      run. Calls are not awaited one by one (the await is the caller's cost,
 *                      the same for any promise API: its ceiling is printed as extra).
 * client-live-latency  a PATCH on the node, from its ack to the new version in a live client's
 *                      cache (the client refetches on the change event); p99. Anchor, same run:
 *                      ack -> the change event itself at a bare SSE reader of the same node.
 * client-many-live     1,000 live clients on one node: node RSS growth per client (KB), and one
 *                      write reaching all of them. Anchor, same run: RSS growth per idle
 *                      keep-alive HTTP connection (1,000 of them) on the same node.
 *
 * The node runs in a CHILD process (its own heap and thread); BENCH_CLIENT_CHILD selects that role.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest, Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { LRUCache } from 'lru-cache';
import { createClient, type ProfileSyncClient } from '@profilesync/client';
import { result, summarize, type BenchCase } from './harness.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SELF = fileURLToPath(import.meta.url);
const TOKEN = 'bench-client-token-0123456789abcdef';

// ---------------------------------------------------------------- the node (child process)
async function runChild(): Promise<void> {
  const { defaultConfig, startServer } = await import('@profilesync/server');
  const dir = mkdtempSync(join(tmpdir(), 'ps-bench-client-'));
  const base = defaultConfig({ dataDir: join(dir, 'data'), port: 0, logLevel: 'warn' });
  const server = await startServer({ ...base, changes: { ...base.changes, maxConnections: 100_000 } }, { env: {}, adminToken: TOKEN, onAdminToken: () => undefined, sync: false });
  process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (cmd) => {
    if (cmd === 'rss') {
      (globalThis as { gc?: () => void }).gc?.();
      process.stdout.write(`${JSON.stringify({ rss: process.memoryUsage().rss })}\n`);
    }
  });
  const stop = () => void server.close().finally(() => {
    rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  });
  process.on('SIGTERM', stop);
  rl.on('close', stop);
}

if (process.env.BENCH_CLIENT_CHILD) await runChild();

interface Child {
  child: ChildProcess;
  url: string;
  lines: Interface;
  rss(): Promise<number>;
  stop(): Promise<void>;
}

async function startChild(): Promise<Child> {
  const child = spawn(process.execPath, ['--conditions=@profilesync/source', '--expose-gc', '--import', 'tsx', SELF], {
    cwd: ROOT,
    env: { ...process.env, BENCH_CLIENT_CHILD: '1' },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`node child exited with ${code}`)));
  });
  const { url } = JSON.parse(first) as { url: string };
  return {
    child,
    url,
    lines,
    rss: () =>
      new Promise((resolve) => {
        lines.once('line', (l) => resolve((JSON.parse(l) as { rss: number }).rss));
        child.stdin!.write('rss\n');
      }),
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.stdin!.end();
      }),
  };
}

async function api(url: string, method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(url + path, { method, headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

const profile = (id: string) => ({
  id,
  modelId: 'gpt-4o-mini',
  name: `Support ${id}`,
  systemMessage: `You are a support agent for {{product}}. ${'Follow the policy and cite the article. '.repeat(10)}`,
  templates: { greet: 'Hello {{name}}' },
  parameters: { temperature: 0.2, max_tokens: 512 },
});

const spread = (xs: number[]): string => `${Math.round(Math.min(...xs))}..${Math.round(Math.max(...xs))}`;

const clientGet: BenchCase = {
  name: 'client-get',
  async run() {
    const node = await startChild();
    const N = 512;
    const ids = Array.from({ length: N }, (_, i) => `bench-${i.toString(36)}`);
    try {
      for (const id of ids) await api(node.url, 'POST', '/api/profiles', profile(id));
      const live = createClient({ url: node.url, token: TOKEN, live: true, maxEntries: 2 * N });
      const ttl = createClient({ url: node.url, token: TOKEN, maxEntries: 2 * N });
      await live.ready();
      const values: object[] = [];
      for (const id of ids) {
        values.push(await live.get(id));
        await ttl.get(id);
      }
      const raw = new LRUCache<string, object>({ max: 2 * N });
      ids.forEach((id, i) => raw.set(id, values[i] as object));
      const mask = N - 1;
      let sink = 0;
      const rawRun = (ops: number): number => {
        const t0 = performance.now();
        for (let i = 0; i < ops; i++) if (raw.get(ids[i & mask] as string) !== undefined) sink++;
        return performance.now() - t0;
      };
      const clientRun = (c: ProfileSyncClient, ops: number): number => {
        const t0 = performance.now();
        for (let i = 0; i < ops; i++) if (c.get(ids[i & mask] as string) !== undefined) sink++;
        return performance.now() - t0;
      };
      const awaitedRun = async (ops: number): Promise<number> => {
        const t0 = performance.now();
        for (let i = 0; i < ops; i++) if ((await live.get(ids[i & mask] as string)) !== undefined) sink++;
        return performance.now() - t0;
      };
      const settled = Promise.resolve();
      const rawAwaitRun = async (ops: number): Promise<number> => {
        const t0 = performance.now();
        for (let i = 0; i < ops; i++) {
          const v = raw.get(ids[i & mask] as string);
          await settled;
          if (v !== undefined) sink++;
        }
        return performance.now() - t0;
      };
      const OPS = 400_000;
      rawRun(OPS);
      clientRun(live, OPS);
      clientRun(ttl, OPS);
      await awaitedRun(OPS / 4);
      await rawAwaitRun(OPS / 4);
      const CHUNK = 20_000;
      const CHUNKS = 240;
      const ms = { raw: 0, live: 0, ttl: 0, awaited: 0, rawAwait: 0 };
      const rates = { raw: [] as number[], live: [] as number[], ttl: [] as number[] };
      (globalThis as { gc?: () => void }).gc?.();
      for (let c = 0; c < CHUNKS; c++) {
        const a = rawRun(CHUNK);
        const b = clientRun(live, CHUNK);
        const d = clientRun(ttl, CHUNK);
        ms.raw += a;
        ms.live += b;
        ms.ttl += d;
        ms.awaited += await awaitedRun(CHUNK / 4);
        ms.rawAwait += await rawAwaitRun(CHUNK / 4);
        rates.raw.push((CHUNK / a) * 1000);
        rates.live.push((CHUNK / b) * 1000);
        rates.ttl.push((CHUNK / d) * 1000);
      }
      if (sink === 0) throw new Error('no hits');
      const total = CHUNKS * CHUNK;
      const rate = { raw: (total / ms.raw) * 1000, live: (total / ms.live) * 1000, ttl: (total / ms.ttl) * 1000, awaited: (total / 4 / ms.awaited) * 1000, rawAwait: (total / 4 / ms.rawAwait) * 1000 };
      const s = live.stats();
      if (s.fetches !== N || ttl.stats().fetches !== N) throw new Error(`hits were not all from memory: ${s.fetches} fetches`);
      await live.close();
      await ttl.close();
      return [
        result({
          name: 'client-get',
          unit: 'ops/s',
          value: rate.live,
          baseline: 'raw lru-cache get',
          baselineValue: rate.raw,
          goal: '>= 0.5x raw lru-cache get',
          met: rate.live / rate.raw >= 0.5,
          extra: {
            profiles: N,
            path: 'client.get(id) (live client)',
            chunks: CHUNKS,
            chunkSpread: spread(rates.live),
            rawChunkSpread: spread(rates.raw),
            awaitedOpsPerSec: Math.round(rate.awaited),
            rawGetPlusAwaitOpsPerSec: Math.round(rate.rawAwait),
            awaitedVsCeiling: Math.round((rate.awaited / rate.rawAwait) * 1000) / 1000,
          },
        }),
        result({
          name: 'client-get-ttl',
          unit: 'ops/s',
          value: rate.ttl,
          baseline: 'raw lru-cache get',
          baselineValue: rate.raw,
          goal: '>= 0.5x raw lru-cache get',
          met: rate.ttl / rate.raw >= 0.5,
          extra: { profiles: N, path: 'client.get(id) (not live: ttl check on the shared 10 ms clock)', chunkSpread: spread(rates.ttl) },
        }),
      ];
    } finally {
      await node.stop();
    }
  },
};

/** A bare SSE reader: resolves each change event's arrival time by version. */
function rawFeed(url: string): { seen: Map<string, number>; close(): void; ready: Promise<void> } {
  const seen = new Map<string, number>();
  const ctl = new AbortController();
  let readyResolve!: () => void;
  const ready = new Promise<void>((r) => (readyResolve = r));
  void (async () => {
    const res = await fetch(`${url}/api/changes`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: ctl.signal });
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    let buf = '';
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        const now = performance.now();
        buf += dec.decode(value, { stream: true });
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          if (block.includes('event: ready')) readyResolve();
          const m = /^data: (.*)$/m.exec(block);
          if (block.includes('event: change') && m) seen.set((JSON.parse(m[1]!) as { version: string }).version, now);
        }
      }
    } catch {
      /* closed */
    }
  })();
  return { seen, ready, close: () => ctl.abort() };
}

const liveLatency: BenchCase = {
  name: 'client-live-latency',
  async run() {
    const node = await startChild();
    try {
      await api(node.url, 'POST', '/api/profiles', profile('latency'));
      const ps = createClient({ url: node.url, token: TOKEN, live: true });
      await ps.ready();
      await ps.get('latency');
      const feed = rawFeed(node.url);
      await feed.ready;
      const inCache = new Map<string, number>();
      ps.on('updated', (u) => inCache.set(u.version, performance.now()));
      const SAMPLES = 400;
      const client: number[] = [];
      const bare: number[] = [];
      for (let i = 0; i < SAMPLES + 20; i++) {
        const r = await api(node.url, 'PATCH', '/api/profiles/latency', { name: `write ${i}` });
        const ack = performance.now();
        while (!inCache.has(r.version) || !feed.seen.has(r.version)) await new Promise((res) => setImmediate(res));
        if (i < 20) continue; // warm-up
        client.push(Math.max(0, inCache.get(r.version)! - ack));
        bare.push(Math.max(0, feed.seen.get(r.version)! - ack));
        if ((await ps.get('latency')).version !== r.version) throw new Error('the cache does not hold the new version');
      }
      feed.close();
      await ps.close();
      const c = summarize(client);
      const b = summarize(bare);
      return result({
        name: 'client-live-latency',
        unit: 'ms',
        value: c.p99,
        p50: c.p50,
        p99: c.p99,
        baseline: 'write ack -> change event at a bare SSE reader',
        baselineValue: b.p99,
        goal: 'p99 < 10 ms',
        met: c.p99 < 10,
        extra: { samples: SAMPLES, max: Math.round(c.max * 1000) / 1000, bareP50: Math.round(b.p50 * 1000) / 1000, path: 'PATCH ack -> change event -> GET -> cache' },
      });
    } finally {
      await node.stop();
    }
  },
};

const manyLive: BenchCase = {
  name: 'client-many-live',
  async run() {
    const node = await startChild();
    const N = 1000;
    try {
      await api(node.url, 'POST', '/api/profiles', profile('many'));
      // warm the node's paths before the first measurement
      for (let i = 0; i < 20; i++) {
        const w = createClient({ url: node.url, token: TOKEN, live: true });
        await w.ready();
        await w.get('many');
        await w.close();
      }
      // anchor: 1,000 idle keep-alive HTTP connections
      const before = await node.rss();
      const agent = new Agent({ keepAlive: true, maxSockets: N, maxFreeSockets: N });
      await Promise.all(
        Array.from({ length: N }, () =>
          new Promise<void>((resolve, reject) => {
            const req = httpRequest(`${node.url}/healthz`, { agent }, (res) => {
              res.resume();
              res.on('end', resolve);
            });
            req.on('error', reject);
            req.end();
          }),
        ),
      );
      const withIdle = await node.rss();
      agent.destroy();
      await new Promise((r) => setTimeout(r, 200));
      const base = await node.rss();
      const clients: ProfileSyncClient[] = [];
      for (let i = 0; i < N; i++) clients.push(createClient({ url: node.url, token: TOKEN, live: true }));
      await Promise.all(clients.map((c) => c.ready()));
      await Promise.all(clients.map((c) => c.get('many')));
      const withLive = await node.rss();
      // they hold: one write reaches every client's cache
      let reached = 0;
      const t0 = performance.now();
      const arrivals: number[] = [];
      for (const c of clients) c.on('updated', () => (reached++, arrivals.push(performance.now() - t0)));
      const r = await api(node.url, 'PATCH', '/api/profiles/many', { name: 'fan out' });
      const end = Date.now() + 60_000;
      while (reached < N && Date.now() < end) await new Promise((res) => setTimeout(res, 5));
      const versions = await Promise.all(clients.map((c) => c.get('many')));
      const current = versions.filter((v) => v.version === r.version).length;
      await Promise.all(clients.map((c) => c.close()));
      const perClient = (withLive - base) / N / 1024;
      const perIdle = (withIdle - before) / N / 1024;
      const fan = summarize(arrivals);
      return result({
        name: 'client-many-live',
        unit: 'KB',
        value: Math.round(perClient * 10) / 10,
        baseline: 'node RSS per idle keep-alive HTTP connection (KB)',
        baselineValue: Math.round(perIdle * 10) / 10,
        goal: `${N} live clients hold with bounded node memory (RSS per client, KB)`,
        met: current === N && perClient < 200,
        extra: { clients: N, nodeRssBeforeMB: Math.round(base / 1048576), nodeRssWithClientsMB: Math.round(withLive / 1048576), reachedAll: current === N ? 'yes' : `${current}/${N}`, fanOutP50Ms: Math.round(fan.p50), fanOutP99Ms: Math.round(fan.p99) },
      });
    } finally {
      await node.stop();
    }
  },
};

export default [clientGet, liveLatency, manyLive];
