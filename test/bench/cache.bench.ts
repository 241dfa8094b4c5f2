/**
 * Cache benchmarks (issue 7).
 *
 * cache-memory-get       MemoryCache.get (async CacheInterface) vs raw lru-cache get, same
 *                        keys, same run. Goal >= 0.5x raw.
 * cache-memory-get-sync  MemoryCache.getSync (the synchronous fast path) vs raw lru-cache.
 * cache-redis-get        RedisCache.get (envelope decode, stats) vs a bare node-redis GET
 *                        loop on the same keys and concurrency, against a local
 *                        redis-server started here. Goal >= 0.8x bare. p50/p99 in extra.
 * cache-redis-get-p99    the same runs' per-operation p99 latency (us) vs the bare loop's.
 *
 * Variants alternate in many short chunks/rounds and each rate is total ops / total time
 * over all of them, so load from other processes on this shared machine lands on the
 * variant and its baseline alike (per-chunk spreads are in `extra`).
 */
import { LRUCache } from 'lru-cache';
import { MemoryCache, RedisCache } from '@profilesync/cache';
import { bareRedisClient, startRedisServer } from '../../packages/cache/test/redis-server.js';
import { type BenchCase, gc, percentile, result } from './harness.js';

/** memory case: ROUNDS * OPS operations per variant, run in interleaved chunks */
const ROUNDS = 12;
/** Redis case: interleaved rounds of OPS gets per variant */
const REDIS_ROUNDS = 16;

function memoryCase(): BenchCase {
  return {
    name: 'cache-memory-get',
    async run() {
      const N = 10_000;
      const OPS = 600_000;
      const keys = Array.from({ length: N }, (_, i) => `profile:${i.toString(36)}:view`);
      const values = keys.map((k, i) => ({ id: k, version: i, name: `profile ${i}` }));
      const raw = new LRUCache<string, object>({ max: N });
      const cache = new MemoryCache<object>({ maxEntries: N });
      keys.forEach((k, i) => {
        raw.set(k, values[i] as object);
        cache.setSync(k, values[i] as object);
      });
      const mask = 8191; // 8192 of the 10 000 keys, all hits
      let sink = 0;
      // returns elapsed ms for `ops` operations
      const rawRun = (ops: number): number => {
        const t0 = performance.now();
        for (let i = 0; i < ops; i++) if (raw.get(keys[i & mask] as string) !== undefined) sink++;
        return performance.now() - t0;
      };
      const syncRun = (ops: number): number => {
        const t0 = performance.now();
        for (let i = 0; i < ops; i++) if (cache.getSync(keys[i & mask] as string) !== undefined) sink++;
        return performance.now() - t0;
      };
      const asyncRun = async (ops: number): Promise<number> => {
        const t0 = performance.now();
        for (let i = 0; i < ops; i++) if ((await cache.get(keys[i & mask] as string)) !== undefined) sink++;
        return performance.now() - t0;
      };
      // the ceiling of any promise-returning API over lru-cache: a raw get plus one await of a
      // settled promise per operation (what the loop above cannot avoid)
      const settled = Promise.resolve();
      const rawAwaitRun = async (ops: number): Promise<number> => {
        const t0 = performance.now();
        for (let i = 0; i < ops; i++) {
          const v = raw.get(keys[i & mask] as string);
          await settled;
          if (v !== undefined) sink++;
        }
        return performance.now() - t0;
      };
      // warm up (JIT)
      rawRun(OPS);
      syncRun(OPS);
      await asyncRun(OPS / 4);
      await rawAwaitRun(OPS / 4);
      // many short interleaved chunks; each variant's rate = its total ops / its total time,
      // so load from other processes lands on all three alike
      const CHUNK = 20_000;
      const CHUNKS = Math.round((ROUNDS * OPS) / CHUNK);
      const ms = { raw: 0, sync: 0, async: 0, rawAwait: 0 };
      const rates = { raw: [] as number[], sync: [] as number[], async: [] as number[] };
      gc();
      for (let c = 0; c < CHUNKS; c++) {
        const a = rawRun(CHUNK);
        const b = syncRun(CHUNK);
        const d = await asyncRun(CHUNK / 4);
        ms.rawAwait += await rawAwaitRun(CHUNK / 4);
        ms.raw += a;
        ms.sync += b;
        ms.async += d;
        rates.raw.push((CHUNK / a) * 1000);
        rates.sync.push((CHUNK / b) * 1000);
        rates.async.push((CHUNK / 4 / d) * 1000);
      }
      const rate = {
        raw: ((CHUNKS * CHUNK) / ms.raw) * 1000,
        sync: ((CHUNKS * CHUNK) / ms.sync) * 1000,
        async: ((CHUNKS * CHUNK) / 4 / ms.async) * 1000,
        rawAwait: ((CHUNKS * CHUNK) / 4 / ms.rawAwait) * 1000,
      };
      const all = rates;
      if (sink === 0) throw new Error('no hits');
      const spread = (xs: number[]): string => `${Math.round(Math.min(...xs))}..${Math.round(Math.max(...xs))}`;
      return [
        result({
          name: 'cache-memory-get',
          unit: 'ops/s',
          value: rate.async,
          baseline: 'raw lru-cache get',
          baselineValue: rate.raw,
          goal: '>= 0.5x raw lru-cache (async CacheInterface path)',
          met: rate.async / rate.raw >= 0.5,
          extra: {
            keys: N, path: 'await cache.get(key)', chunks: CHUNKS, chunkSpread: spread(all.async), rawChunkSpread: spread(all.raw),
            rawGetPlusAwaitOpsPerSec: Math.round(rate.rawAwait),
            ceilingRatio: Math.round((rate.rawAwait / rate.raw) * 1000) / 1000,
            vsCeiling: Math.round((rate.async / rate.rawAwait) * 1000) / 1000,
          },
        }),
        result({
          name: 'cache-memory-get-sync',
          unit: 'ops/s',
          value: rate.sync,
          baseline: 'raw lru-cache get',
          baselineValue: rate.raw,
          goal: '>= 0.5x raw lru-cache (sync fast path)',
          met: rate.sync / rate.raw >= 0.5,
          extra: { keys: N, path: 'cache.getSync(key)', chunks: CHUNKS, chunkSpread: spread(all.sync), rawChunkSpread: spread(all.raw) },
        }),
      ];
    },
  };
}

async function loop(concurrency: number, total: number, fn: (i: number) => Promise<unknown>): Promise<{ ms: number; lat: Float64Array }> {
  const lat = new Float64Array(total);
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const i = next++;
        if (i >= total) return;
        const s = performance.now();
        await fn(i);
        lat[i] = performance.now() - s;
      }
    }),
  );
  return { ms: performance.now() - t0, lat };
}

function redisCase(): BenchCase {
  return {
    name: 'cache-redis-get',
    async run() {
      const server = await startRedisServer();
      const prefix = 'bench:';
      const cache = await RedisCache.connect<object>({ url: server.url, prefix });
      const bare = await bareRedisClient(server.url);
      try {
        const K = 1000;
        const CONCURRENCY = 32;
        const OPS = 10_000;
        const keys = Array.from({ length: K }, (_, i) => `profile:${i}`);
        const value = { id: 'profile', modelId: 'gpt-4o', name: 'support bot', parameters: { temperature: 0.2, max_tokens: 512 }, version: 'v1' };
        for (const k of keys) await cache.set(k, value);
        const fullKeys = keys.map((k) => prefix + k);
        let sink = 0;
        const bareRun = () => loop(CONCURRENCY, OPS, async (i) => {
          if ((await bare.get(fullKeys[i % K] as string)) !== null) sink++;
        });
        const cacheRun = () => loop(CONCURRENCY, OPS, async (i) => {
          if ((await cache.get(keys[i % K] as string)) !== undefined) sink++;
        });
        await bareRun();
        await cacheRun();
        // interleaved rounds (order alternating); each variant's rate = its total ops / total
        // time and its percentiles come from all its samples, so load spikes hit both alike
        type Run = { ms: number; lat: Float64Array };
        const runs = { bare: [] as Run[], cache: [] as Run[] };
        for (let r = 0; r < REDIS_ROUNDS; r++) {
          gc();
          if (r % 2 === 0) {
            runs.bare.push(await bareRun());
            runs.cache.push(await cacheRun());
          } else {
            runs.cache.push(await cacheRun());
            runs.bare.push(await bareRun());
          }
        }
        const merge = (rs: Run[]): { opsPerSec: number; lat: Float64Array } => {
          const lat = new Float64Array(rs.reduce((n, x) => n + x.lat.length, 0));
          let o = 0;
          for (const x of rs) {
            lat.set(x.lat, o);
            o += x.lat.length;
          }
          lat.sort();
          return { opsPerSec: (lat.length / rs.reduce((t, x) => t + x.ms, 0)) * 1000, lat };
        };
        const bareAgg = merge(runs.bare);
        const cacheAgg = merge(runs.cache);
        const rates = { bare: runs.bare.map((x) => (x.lat.length / x.ms) * 1000), cache: runs.cache.map((x) => (x.lat.length / x.ms) * 1000) };
        if (sink === 0) throw new Error('no hits');
        const us = (lat: Float64Array, p: number): number => percentile(lat, p) * 1000;
        const spread = (xs: number[]): string => `${Math.round(Math.min(...xs))}..${Math.round(Math.max(...xs))}`;
        return [
          result({
            name: 'cache-redis-get',
            unit: 'ops/s',
            value: cacheAgg.opsPerSec,
            baseline: 'bare node-redis GET loop',
            baselineValue: bareAgg.opsPerSec,
            goal: '>= 0.8x bare node-redis',
            met: cacheAgg.opsPerSec / bareAgg.opsPerSec >= 0.8,
            extra: {
              concurrency: CONCURRENCY,
              keys: K,
              valueBytes: JSON.stringify(value).length,
              p50_us: Math.round(us(cacheAgg.lat, 50)),
              p99_us: Math.round(us(cacheAgg.lat, 99)),
              bare_p50_us: Math.round(us(bareAgg.lat, 50)),
              bare_p99_us: Math.round(us(bareAgg.lat, 99)),
              rounds: REDIS_ROUNDS,
              roundSpread: spread(rates.cache),
              bareRoundSpread: spread(rates.bare),
            },
          }),
          result({
            name: 'cache-redis-get-p99',
            unit: 'us',
            value: us(cacheAgg.lat, 99),
            p50: us(cacheAgg.lat, 50),
            p99: us(cacheAgg.lat, 99),
            baseline: 'bare node-redis GET loop p99',
            baselineValue: us(bareAgg.lat, 99),
            extra: { concurrency: CONCURRENCY, note: 'latency under the throughput run above (32 in flight)' },
          }),
        ];
      } finally {
        await cache.clear().catch(() => {});
        await cache.close();
        bare.destroy();
        await server.stop();
      }
    },
  };
}

export default [memoryCase(), redisCase()] satisfies BenchCase[];
