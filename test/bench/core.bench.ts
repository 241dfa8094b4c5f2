/**
 * @profilesync/core benchmarks (same run, ratios; see harness.ts).
 *   core-hot-get:  get() on an LRU hit over 10k profiles, per-call ns (200 calls per sample);
 *                  anchor: a raw lru-cache get of the same frozen objects. Goal p99 <= 1 us, <= 3x raw.
 *   core-cold-get: one profile with a 10k-update history, evicted from the hot LRU before every
 *                  get(): one getView + JSON.parse + freeze. Anchor: y-leveldb getYDoc + toJSON on the
 *                  same 10k updates (steady state, after its own first-load compaction; the first,
 *                  uncompacted load is in `extra`). Goal p99 <= 1 ms.
 *   core-update:   patches/s through the store with durable acks, 64 concurrent writers on 64
 *                  profiles (single-profile figure in `extra`).
 *   core-memory:   heap growth of opening a store over 10,000 realistic profiles with every view
 *                  in the hot cache (views + index + log tables). Goal < 50 MB.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LRUCache } from 'lru-cache';
import * as Y from 'yjs';
import { openStore, type ProfileInput, type ProfileView } from '@profilesync/core';

interface YLeveldb {
  storeUpdate(doc: string, update: Uint8Array): Promise<unknown>;
  getYDoc(doc: string): Promise<Y.Doc>;
  destroy(): Promise<void>;
}
// y-leveldb ships no types; a non-literal specifier keeps tsc from resolving it
const yLeveldbModule = 'y-leveldb';
async function openYLeveldb(dir: string): Promise<YLeveldb> {
  const mod = (await import(yLeveldbModule)) as { LeveldbPersistence: new (dir: string) => YLeveldb };
  return new mod.LeveldbPersistence(dir);
}
import { concurrentRate, gc, nowMs, result, summarize, type BenchCase } from './harness.js';

const ctx = { actor: 'bench', origin: 'local' };
const envInt = (name: string, dflt: number): number => {
  const v = Number(process.env[name]);
  return Number.isInteger(v) && v > 0 ? v : dflt;
};

async function tmp(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

function words(n: number, seed: number): string {
  const vocab = ['answer', 'the', 'user', 'politely', 'and', 'briefly', 'cite', 'sources', 'never', 'invent', 'facts', 'when', 'unsure', 'ask', 'a', 'clarifying', 'question'];
  let out = '';
  for (let i = 0; out.length < n; i++) out += (i ? ' ' : '') + vocab[(seed * 7 + i * 13) % vocab.length];
  return out.slice(0, n);
}

/** A realistic profile: ~1 KB system message, 3 templates, typical parameters. */
function realistic(i: number): ProfileInput {
  return {
    id: `profile-${i}`,
    modelId: ['gpt-4o', 'claude-3-5-sonnet', 'llama-3.1-70b'][i % 3] as string,
    name: `Assistant ${i}`,
    description: words(160, i),
    systemMessage: words(1024, i + 1),
    templates: { greet: `Hello {{name}}! ${words(200, i + 2)}`, summarize: `Summarize {{text}} in {{n}} bullet points. ${words(300, i + 3)}`, followup: words(150, i + 4) },
    parameters: { temperature: 0.7, top_p: 0.95, max_tokens: 1024, stop: ['###', '</answer>'], seed: i, presence_penalty: 0, frequency_penalty: 0.1 },
    meta: { tags: ['prod', `team-${i % 10}`], owner: `owner-${i % 50}` },
  };
}

async function createMany(store: Awaited<ReturnType<typeof openStore>>, n: number): Promise<void> {
  await concurrentRate(64, n, (_w, i) => store.create(realistic(i), ctx));
}

const hotGet: BenchCase = {
  name: 'core-hot-get',
  async run() {
    const dir = await tmp('bench-core-hot-');
    const n = envInt('BENCH_CORE_PROFILES', 10_000);
    const store = await openStore({ dir, hotCacheBytes: 256 * 1024 * 1024 });
    try {
      await createMany(store, n);
      const ids = Array.from({ length: n }, (_, i) => `profile-${i}`);
      const raw = new LRUCache<string, ProfileView>({ maxSize: 256 * 1024 * 1024, sizeCalculation: () => 1 });
      for (const id of ids) raw.set(id, store.get(id) as ProfileView);
      const CALLS = 200;
      const SAMPLES = envInt('BENCH_CORE_SAMPLES', 3000);
      let sink = 0;
      /** ns per call of `fn` over CALLS ids starting at `base` */
      const time = (fn: (id: string) => unknown, base: number): number => {
        const t0 = process.hrtime.bigint();
        for (let c = 0; c < CALLS; c++) sink += (fn(ids[(base + c * 31) % n] as string) as ProfileView).name.length;
        return Number(process.hrtime.bigint() - t0) / CALLS;
      };
      const storeGet = (id: string) => store.get(id);
      const rawGet = (id: string) => raw.get(id);
      for (let s = 0; s < 500; s++) {
        time(storeGet, s);
        time(rawGet, s);
      }
      gc();
      // interleave sample by sample, so scheduling noise on this shared machine hits both alike
      const storeS: number[] = [];
      const rawS: number[] = [];
      for (let s = 0; s < 3 * SAMPLES; s++) {
        const base = (s * 7919) % n;
        if (s % 2 === 0) {
          storeS.push(time(storeGet, base));
          rawS.push(time(rawGet, base));
        } else {
          rawS.push(time(rawGet, base));
          storeS.push(time(storeGet, base));
        }
      }
      if (sink === 0) throw new Error('nothing read');
      const a = summarize(storeS);
      const b = summarize(rawS);
      for (const id of ids.slice(0, 10)) if (store.get(id) instanceof Promise) throw new Error('expected a hit');
      return result({
        name: 'core-hot-get',
        unit: 'ns',
        value: a.p99,
        p50: a.p50,
        p99: a.p99,
        baseline: 'raw lru-cache get (same objects)',
        baselineValue: b.p99,
        goal: 'p99 <= 1000 ns and <= 3x raw',
        met: a.p99 <= 1000 && a.p99 <= 3 * b.p99,
        extra: { profiles: n, callsPerSample: CALLS, rawP50: Number(b.p50.toFixed(1)) },
      });
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  },
};

/** 10k realistic edits to one profile doc: typing, word replacements, parameter sets. */
function historyUpdates(): { updates: Uint8Array[]; doc: Y.Doc } {
  const doc = new Y.Doc({ gc: false });
  const updates: Uint8Array[] = [];
  doc.on('update', (u: Uint8Array) => updates.push(u));
  return { updates, doc };
}

const coldGet: BenchCase = {
  name: 'core-cold-get',
  async run() {
    const HISTORY = envInt('BENCH_CORE_HISTORY', 10_000);
    const dir = await tmp('bench-core-cold-');
    const ydir = await tmp('bench-core-cold-yl-');
    let store = await openStore({ dir });
    try {
      // 1. a 10k-update history built through the store's own remote path (exact Yjs updates)
      const seedStore = store;
      await seedStore.create(realistic(0), ctx);
      const { updates, doc } = historyUpdates();
      const initial = await seedStore.encodeStateAsUpdate('profile-0');
      Y.applyUpdate(doc, initial);
      updates.length = 0;
      const root = doc.getMap('profile');
      const text = root.get('systemMessage') as Y.Text;
      const params = root.get('parameters') as Y.Map<unknown>;
      // an editing session: typing at a cursor that jumps now and then, backspaces that fix typos,
      // an occasional word deleted elsewhere and a temperature tweak every 100 edits
      let cursor = 0;
      for (let i = 0; updates.length < HISTORY - 1; i++) {
        doc.transact(() => {
          if (i % 100 === 0) params.set('temperature', (i % 20) / 10);
          else if (i % 40 === 0) cursor = (i * 7919) % Math.max(1, text.length);
          else if (i % 250 === 0 && text.length > 40) text.delete((i * 31) % (text.length - 20), 5);
          else if (i % 9 === 0 && cursor > 0) text.delete(--cursor, 1);
          else {
            text.insert(Math.min(cursor, text.length), 'abcdefghij'[i % 10] as string);
            cursor++;
          }
        });
      }
      // apply as a stream of remote updates with 64 in flight: durable appends, group commits
      const pending: Promise<unknown>[] = [];
      for (const u of updates) {
        pending.push(seedStore.applyRemoteUpdate('profile-0', u, { actor: 'peer', origin: 'peer:bench' }));
        if (pending.length >= 64) await Promise.all(pending.splice(0));
      }
      await Promise.all(pending);
      const seq = seedStore.log.head('profile-0')?.seq ?? 0;
      const refBytes = ((await seedStore.get('profile-0')).version.length * 3) / 4;
      await store.close();
      store = await openStore({ dir });
      const SAMPLES = envInt('BENCH_CORE_COLD_SAMPLES', 500);
      const ms: number[] = [];
      for (let s = 0; s < SAMPLES + 20; s++) {
        store.clearCache('profiles');
        const t0 = nowMs();
        const v = await store.get('profile-0');
        const dt = nowMs() - t0;
        if (v.systemMessage.length === 0) throw new Error('empty view');
        if (s >= 20) ms.push(dt);
      }
      const a = summarize(ms);

      // 2. y-leveldb on the same updates
      const yl = await openYLeveldb(ydir);
      await yl.storeUpdate('p', initial);
      for (const u of updates) await yl.storeUpdate('p', u);
      const t1 = nowMs();
      const first = await yl.getYDoc('p');
      first.getMap('profile').toJSON();
      const firstMs = nowMs() - t1;
      first.destroy();
      const yms: number[] = [];
      const YS = envInt('BENCH_CORE_COLD_YL_SAMPLES', 100);
      for (let s = 0; s < YS; s++) {
        const t0 = nowMs();
        const d = await yl.getYDoc('p');
        const json = d.getMap('profile').toJSON() as { systemMessage?: string };
        yms.push(nowMs() - t0);
        if (!json.systemMessage) throw new Error('y-leveldb: empty doc');
        d.destroy();
      }
      await yl.destroy();
      const b = summarize(yms);
      return result({
        name: 'core-cold-get',
        unit: 'ms',
        value: a.p99,
        p50: a.p50,
        p99: a.p99,
        baseline: 'y-leveldb getYDoc + toJSON (steady state)',
        baselineValue: b.p99,
        goal: 'p99 <= 1 ms',
        met: a.p99 <= 1,
        extra: { historyEntries: seq, versionRefBytes: Math.round(refBytes), ylevelFirstLoadMs: Number(firstMs.toFixed(2)), ylevelP50: Number(b.p50.toFixed(3)) },
      });
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
      await rm(ydir, { recursive: true, force: true });
    }
  },
};

/** Process CPU (all threads: JS, LevelDB, GC) per patch, in microseconds. */
function cpuPerPatch(since: NodeJS.CpuUsage, patches: number): number {
  const used = process.cpuUsage(since);
  return Math.round((used.user + used.system) / patches);
}

const update: BenchCase = {
  name: 'core-update',
  async run() {
    const dir = await tmp('bench-core-upd-');
    const store = await openStore({ dir });
    try {
      const P = 64;
      for (let i = 0; i < P; i++) await store.create(realistic(i), ctx);
      const N = envInt('BENCH_CORE_UPDATES', 20_000);
      const cpu0 = process.cpuUsage();
      // a typical edit: a few characters of the ~1 KB system message and one parameter
      const patch = (p: number, i: number) => ({ systemMessage: `${words(1024, p + 1)} (rev ${i})`, parameters: { temperature: (i % 20) / 10 } });
      await concurrentRate(64, 640, (w, i) => store.update(`profile-${w % P}`, patch(w % P, i), ctx)); // warm-up
      const multi = await concurrentRate(64, N, (w, i) => store.update(`profile-${w % P}`, patch(w % P, i), ctx));
      const single = await concurrentRate(64, Math.max(200, Math.floor(N / 20)), (_w, i) => store.update('profile-0', patch(0, i), ctx));
      return result({
        name: 'core-update',
        unit: 'ops/s',
        value: multi.opsPerSec,
        goal: 'sustained durable patches/s, 64 writers on 64 profiles',
        extra: { patches: N, singleProfileOpsPerSec: Math.round(single.opsPerSec), cpuUsPerPatch: cpuPerPatch(cpu0, N + 640 + Math.max(200, Math.floor(N / 20))) },
      });
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  },
};

const memory: BenchCase = {
  name: 'core-memory',
  async run() {
    const dir = await tmp('bench-core-mem-');
    const n = envInt('BENCH_CORE_PROFILES', 10_000);
    try {
      const writer = await openStore({ dir, maxDocs: 64 });
      await createMany(writer, n);
      const viewBytes = Buffer.byteLength(JSON.stringify(writer.get('profile-1')));
      await writer.close();
      gc();
      gc();
      const before = process.memoryUsage().heapUsed;
      const t0 = nowMs();
      const store = await openStore({ dir, hotCacheBytes: 256 * 1024 * 1024 });
      const openMs = nowMs() - t0;
      gc();
      gc();
      const after = process.memoryUsage().heapUsed;
      const hot = store.cacheStats().find((s) => s.name === 'profiles');
      if (hot?.size !== n) throw new Error(`expected ${n} cached views, got ${hot?.size}`);
      const mb = (after - before) / (1024 * 1024);
      await store.close();
      return result({
        name: 'core-memory',
        unit: 'MB',
        value: mb,
        goal: '< 50 MB for 10,000 cached profiles',
        met: mb < 50,
        extra: { profiles: n, viewJsonBytes: viewBytes, openMs: Math.round(openMs) },
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};

export default [hotGet, coldGet, update, memory];
