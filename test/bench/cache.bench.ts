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
 * Variants alternate in many short rounds; each reports its best round (the machine is
 * shared, and best-of short interleaved rounds is what survives other processes' load).
 */
import { LRUCache } from 'lru-cache';
import { MemoryCache, RedisCache } from '@profilesync/cache';
import { bareRedisClient, startRedisServer } from '../../packages/cache/test/redis-server.js';
import { type BenchCase, gc, percentile, result } from './harness.js';

const ROUNDS = 12;
/** the Redis case alternates more, shorter rounds: best-of is robust to load spikes from other processes */
const REDIS_ROUNDS = 8;

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
      const rawRun = (): number => {
        const t0 = performance.now();
        for (let i = 0; i < OPS; i++) if (raw.get(keys[i & mask] as string) !== undefined) sink++;
        return (OPS / (performance.now() - t0)) * 1000;
      };
      const syncRun = (): number => {
        const t0 = performance.now();
        for (let i = 0; i < OPS; i++) if (cache.getSync(keys[i & mask] as string) !== undefined) sink++;
        return (OPS / (performance.now() - t0)) * 1000;
      };
      const asyncRun = async (): Promise<number> => {
        const ops = OPS / 4;
        const t0 = performance.now();
        for (let i = 0; i < ops; i++) if ((await cache.get(keys[i & mask] as string)) !== undefined) sink++;
        return (ops / (performance.now() - t0)) * 1000;
      };
      // warm up
      rawRun();
      syncRun();
      await asyncRun();
      const best = { raw: 0, sync: 0, async: 0 };
      const all = { raw: [] as number[], sync: [] as number[], async: [] as number[] };
      for (let r = 0; r < ROUNDS; r++) {
        gc();
        const c = await asyncRun();
        const b = syncRun();
        const a = rawRun();
        all.raw.push(a);
        all.sync.push(b);
        all.async.push(c);
        best.raw = Math.max(best.raw, a);
        best.sync = Math.max(best.sync, b);
        best.async = Math.max(best.async, c);
      }
      if (sink === 0) throw new Error('no hits');
      const spread = (xs: number[]): string => `${Math.round(Math.min(...xs))}..${Math.round(Math.max(...xs))}`;
      return [
        result({
          name: 'cache-memory-get',
          unit: 'ops/s',
          value: best.async,
          baseline: 'raw lru-cache get',
          baselineValue: best.raw,
          goal: '>= 0.5x raw lru-cache (async CacheInterface path)',
          met: best.async / best.raw >= 0.5,
          extra: { keys: N, path: 'await cache.get(key)', rounds: ROUNDS, spread: spread(all.async), rawSpread: spread(all.raw) },
        }),
        result({
          name: 'cache-memory-get-sync',
          unit: 'ops/s',
          value: best.sync,
          baseline: 'raw lru-cache get',
          baselineValue: best.raw,
          goal: '>= 0.5x raw lru-cache (sync fast path)',
          met: best.sync / best.raw >= 0.5,
          extra: { keys: N, path: 'cache.getSync(key)', rounds: ROUNDS, spread: spread(all.sync), rawSpread: spread(all.raw) },
        }),
      ];
    },
  };
}

async function loop(concurrency: number, total: number, fn: (i: number) => Promise<unknown>): Promise<{ opsPerSec: number; lat: Float64Array }> {
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
  const ms = performance.now() - t0;
  lat.sort();
  return { opsPerSec: (total / ms) * 1000, lat };
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
        const OPS = 25_000;
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
        type Run = { opsPerSec: number; lat: Float64Array };
        let bestBare: Run = { opsPerSec: 0, lat: new Float64Array() };
        let bestCache: Run = { opsPerSec: 0, lat: new Float64Array() };
        const rates = { bare: [] as number[], cache: [] as number[] };
        for (let r = 0; r < REDIS_ROUNDS; r++) {
          gc();
          // alternate which variant goes first, so neither always runs on a warmer process
          const first = r % 2 === 0 ? await bareRun() : await cacheRun();
          const second = r % 2 === 0 ? await cacheRun() : await bareRun();
          const [b, c] = r % 2 === 0 ? [first, second] : [second, first];
          rates.bare.push(b.opsPerSec);
          rates.cache.push(c.opsPerSec);
          if (b.opsPerSec > bestBare.opsPerSec) bestBare = b;
          if (c.opsPerSec > bestCache.opsPerSec) bestCache = c;
        }
        if (sink === 0) throw new Error('no hits');
        const us = (lat: Float64Array, p: number): number => percentile(lat, p) * 1000;
        const spread = (xs: number[]): string => `${Math.round(Math.min(...xs))}..${Math.round(Math.max(...xs))}`;
        return [
          result({
            name: 'cache-redis-get',
            unit: 'ops/s',
            value: bestCache.opsPerSec,
            baseline: 'bare node-redis GET loop',
            baselineValue: bestBare.opsPerSec,
            goal: '>= 0.8x bare node-redis',
            met: bestCache.opsPerSec / bestBare.opsPerSec >= 0.8,
            extra: {
              concurrency: CONCURRENCY,
              keys: K,
              valueBytes: JSON.stringify(value).length,
              p50_us: Math.round(us(bestCache.lat, 50)),
              p99_us: Math.round(us(bestCache.lat, 99)),
              bare_p50_us: Math.round(us(bestBare.lat, 50)),
              bare_p99_us: Math.round(us(bestBare.lat, 99)),
              spread: spread(rates.cache),
              bareSpread: spread(rates.bare),
            },
          }),
          result({
            name: 'cache-redis-get-p99',
            unit: 'us',
            value: us(bestCache.lat, 99),
            p50: us(bestCache.lat, 50),
            p99: us(bestCache.lat, 99),
            baseline: 'bare node-redis GET loop p99',
            baselineValue: us(bestBare.lat, 99),
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
