import { type AddressInfo, createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, RESP_TYPES } from 'redis';
import { CacheMonitor, ENCODING_JSON, ENCODING_ZLIB, ENVELOPE_MAGIC, RedisCache, type CacheLogger } from '../src/index.js';
import { expectCode } from './contract.js';
import { type RedisServer, freePort, startRedisServer } from './redis-server.js';

let server: RedisServer;
let raw: ReturnType<typeof createClient>;
let n = 0;
const prefix = (): string => `feat:${++n}:`;

beforeAll(async () => {
  server = await startRedisServer();
  raw = createClient({ url: server.url });
  raw.on('error', () => {});
  await raw.connect();
});
afterAll(async () => {
  raw.destroy();
  await server.stop();
});

const rawBytes = async (key: string): Promise<Buffer | null> =>
  raw.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer }).get(key) as Promise<Buffer | null>;

async function commandCalls(cmd: string): Promise<number> {
  const info = await raw.info('commandstats');
  const m = new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(info);
  return m ? Number(m[1]) : 0;
}

describe('RedisCache envelope and compression', () => {
  it('compresses strictly above the threshold and marks it in the header', async () => {
    const p = prefix();
    const monitor = new CacheMonitor();
    const cache = await RedisCache.connect({ url: server.url, prefix: p, compressionThreshold: 200, monitor });
    // JSON of a string of n chars is n + 2 bytes
    const below = 'a'.repeat(197); // 199 bytes
    const at = 'a'.repeat(198); // 200 bytes
    const above = 'a'.repeat(199); // 201 bytes
    await cache.set('below', below);
    await cache.set('at', at);
    await cache.set('above', above);
    const [b, a, c] = await Promise.all([rawBytes(`${p}below`), rawBytes(`${p}at`), rawBytes(`${p}above`)]);
    for (const buf of [b, a, c]) {
      expect(buf![0]).toBe(ENVELOPE_MAGIC);
      expect(buf![1]).toBe(1);
    }
    expect(b![2]).toBe(ENCODING_JSON);
    expect(b!.byteLength).toBe(3 + 199);
    expect(a![2]).toBe(ENCODING_JSON);
    expect(c![2]).toBe(ENCODING_ZLIB);
    expect(c!.byteLength).toBeLessThan(60);
    expect(await cache.get('below')).toBe(below);
    expect(await cache.get('at')).toBe(at);
    expect(await cache.get('above')).toBe(above);
    const stats = await cache.stats();
    expect((stats.compression as { compressed: number }).compressed).toBe(1);
    expect(monitor.snapshot().compression.compressed).toBe(1);
    expect(monitor.snapshot().compression.ratio).toBeLessThan(1);
    await cache.close();
  });

  it('round-trips large structured values through zlib, and keeps incompressible ones raw', async () => {
    const p = prefix();
    const cache = await RedisCache.connect({ url: server.url, prefix: p, compressionThreshold: 100, compressionLevel: 9 });
    const big = { rows: Array.from({ length: 5000 }, (_, i) => ({ i, name: `row ${i}`, tags: ['x', 'y'] })) };
    await cache.set('big', big);
    const stored = await rawBytes(`${p}big`);
    expect(stored![2]).toBe(ENCODING_ZLIB);
    expect(stored!.byteLength).toBeLessThan(JSON.stringify(big).length / 4);
    expect(await cache.get('big')).toEqual(big);
    await cache.close();
    // above the threshold but zlib would not shrink it: stored raw (the marker says so)
    const tiny = await RedisCache.connect({ url: server.url, prefix: p, compressionThreshold: 0 });
    await tiny.set('ab', 'ab');
    const ab = await rawBytes(`${p}ab`);
    expect(ab![2]).toBe(ENCODING_JSON);
    expect(ab!.toString('utf8', 3)).toBe('"ab"');
    expect(await tiny.get('ab')).toBe('ab');
    expect(((await tiny.stats()).compression as { compressed: number }).compressed).toBe(0);
    await tiny.close();
  });

  it('reads a corrupt entry as a miss, counts it and emits CACHE_CORRUPT_ENTRY', async () => {
    const p = prefix();
    const cache = await RedisCache.connect({ url: server.url, prefix: p });
    const seen: string[] = [];
    cache.on('corrupt-entry', (e) => seen.push(`${e.key}:${(e.error as { code?: string }).code}`));
    await raw.set(`${p}plain`, 'not an envelope');
    await raw.set(`${p}badver`, Buffer.from([ENVELOPE_MAGIC, 9, 0, 0x31]));
    await raw.set(`${p}badzlib`, Buffer.from([ENVELOPE_MAGIC, 1, ENCODING_ZLIB, 1, 2, 3]));
    await raw.set(`${p}badjson`, Buffer.from([ENVELOPE_MAGIC, 1, ENCODING_JSON, 0x7b]));
    await raw.set(`${p}short`, Buffer.from([ENVELOPE_MAGIC]));
    for (const k of ['plain', 'badver', 'badzlib', 'badjson', 'short']) expect(await cache.get(k)).toBeUndefined();
    const stats = await cache.stats();
    expect(stats.corrupt).toBe(5);
    expect(stats.misses).toBe(5);
    expect(seen.sort()).toEqual(
      ['badjson', 'badver', 'badzlib', 'plain', 'short'].map((k) => `${k}:CACHE_CORRUPT_ENTRY`),
    );
    await cache.close();
  });

  it('rejects values JSON cannot carry with CACHE_SERIALIZATION_FAILED and keeps the old value', async () => {
    const cache = await RedisCache.connect({ url: server.url, prefix: prefix() });
    await cache.set('k', 'old');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const bad: unknown[] = [
      10n,
      { n: 10n },
      cyclic,
      () => 1,
      { f: () => 1 },
      Symbol('s'),
      NaN,
      { x: Infinity },
      new Map([[1, 2]]),
      { s: new Set([1]) },
      new Uint8Array([1]),
      Buffer.from('x'),
    ];
    for (const v of bad) await expectCode(() => cache.set('k', v), 'CACHE_SERIALIZATION_FAILED');
    expect(await cache.get('k')).toBe('old');
    await cache.close();
  });

  it('rejects values above maxValueBytes with CACHE_VALUE_TOO_LARGE', async () => {
    const cache = await RedisCache.connect({ url: server.url, prefix: prefix(), maxValueBytes: 1000 });
    await cache.set('k', 'x'.repeat(990));
    await expectCode(() => cache.set('k', 'x'.repeat(1000)), 'CACHE_VALUE_TOO_LARGE');
    expect(await cache.get('k')).toBe('x'.repeat(990));
    await cache.close();
  });
});

describe('RedisCache TTLs, SCAN and prefixes', () => {
  it('stores TTLs in Redis (PX) and reads them back with PTTL', async () => {
    const p = prefix();
    const cache = await RedisCache.connect({ url: server.url, prefix: p, defaultTtl: 30_000 });
    await cache.set('explicit', 1, { ttl: 90_000 });
    await cache.set('default', 1);
    const pttl = await raw.pTTL(`${p}explicit`);
    expect(pttl).toBeGreaterThan(89_000);
    expect(pttl).toBeLessThanOrEqual(90_000);
    const d = await raw.pTTL(`${p}default`);
    expect(d).toBeGreaterThan(29_000);
    expect(d).toBeLessThanOrEqual(30_000);
    expect(await cache.getTtl('explicit')).toBeGreaterThan(89_000);
    await cache.set('frac', 1, { ttl: 0.2 });
    expect(await raw.pTTL(`${p}frac`)).toBeLessThanOrEqual(1);
    await cache.close();
  });

  it('walks more keys than one SCAN page, deletes in UNLINK batches and never calls KEYS', async () => {
    const p = prefix();
    const cache = await RedisCache.connect({ url: server.url, prefix: p, scanCount: 100, deleteBatch: 250 });
    await raw.configResetStat();
    const total = 2600;
    for (let i = 0; i < total; i += 200) {
      await Promise.all(Array.from({ length: Math.min(200, total - i) }, (_, j) => cache.set(`k:${i + j}`, i + j)));
    }
    await cache.set('other', 1);
    expect((await cache.keys('k:*')).length).toBe(total);
    expect((await cache.stats()).size).toBe(total + 1);
    const unlinksBefore = await commandCalls('unlink');
    expect(await cache.invalidatePattern('k:*')).toBe(total);
    const unlinks = (await commandCalls('unlink')) - unlinksBefore;
    expect(unlinks).toBeGreaterThanOrEqual(Math.ceil(total / 250));
    expect(unlinks).toBeLessThanOrEqual(Math.ceil(total / 250) + 30);
    expect(await commandCalls('scan')).toBeGreaterThan(20);
    expect(await commandCalls('keys')).toBe(0);
    expect(await cache.keys()).toEqual(['other']);
    await cache.close();
  });

  it('escapes the prefix: patterns never reach keys of another prefix', async () => {
    const a = await RedisCache.connect({ url: server.url, prefix: 'app[1]*:' });
    const b = await RedisCache.connect({ url: server.url, prefix: 'app1x:' });
    const c = await RedisCache.connect({ url: server.url, prefix: 'app1:' });
    await a.set('k', 'a');
    await b.set('k', 'b');
    await c.set('k', 'c');
    await raw.set('unprefixed', 'u');
    expect(await a.keys('*')).toEqual(['k']);
    expect(await a.invalidatePattern('*')).toBe(1);
    await a.clear();
    expect(await b.get('k')).toBe('b');
    expect(await c.get('k')).toBe('c');
    expect(await raw.get('unprefixed')).toBe('u');
    // a pattern full of glob specials is matched literally where escaped, and stays under the prefix
    await c.set('x*y', 1);
    expect(await c.keys('x\\*y')).toEqual(['x*y']);
    expect(await c.invalidatePattern('*')).toBe(2);
    expect(await b.get('k')).toBe('b');
    await Promise.all([a.close(), b.close(), c.close()]);
  });

  it('rejects bad configuration with CACHE_INVALID_CONFIG', async () => {
    const bad: object[] = [
      { url: 'http://x' },
      { prefix: '' },
      { prefix: 'a\nb' },
      { compressionLevel: 0 },
      { compressionLevel: 10 },
      { compressionThreshold: -1 },
      { defaultTtl: 0 },
      { scanCount: 0 },
      { deleteBatch: 1.5 },
      { reconnect: { baseMs: 100, maxMs: 10 } },
      { reconnect: { jitter: 2 } },
    ];
    for (const o of bad) await expectCode(() => new RedisCache(o), 'CACHE_INVALID_CONFIG');
  });
});

describe('RedisCache connection failures', () => {
  it('fails to connect to a closed port with CACHE_UNAVAILABLE', async () => {
    const port = await freePort();
    const t0 = Date.now();
    await expectCode(
      () => RedisCache.connect({ url: `redis://127.0.0.1:${port}`, connectTimeoutMs: 300, reconnect: { baseMs: 10, maxMs: 50 } }),
      'CACHE_UNAVAILABLE',
    );
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('retries with backoff while connecting and stops once connect() gives up', async () => {
    // a TCP server that hangs up at once: every attempt fails after connecting
    let attempts = 0;
    const hangup = createServer((s) => {
      attempts++;
      s.destroy();
    });
    await new Promise<void>((r) => hangup.listen(0, '127.0.0.1', () => r()));
    const port = (hangup.address() as AddressInfo).port;
    await expectCode(
      () => RedisCache.connect({ url: `redis://127.0.0.1:${port}`, connectTimeoutMs: 400, reconnect: { baseMs: 20, maxMs: 40, jitter: 0 } }),
      'CACHE_UNAVAILABLE',
    );
    expect(attempts).toBeGreaterThan(2);
    await new Promise((r) => setTimeout(r, 100)); // an attempt already on the wire may still land
    const after = attempts;
    await new Promise((r) => setTimeout(r, 400)); // several backoff periods (20..40 ms)
    expect(attempts).toBe(after);
    await new Promise<void>((r) => hangup.close(() => r()));
  });

  it('surfaces a killed server as CACHE_UNAVAILABLE at once, then reconnects when it returns', async () => {
    const own = await startRedisServer();
    const logs: string[] = [];
    const logger: CacheLogger = {
      debug: () => {},
      info: (_o, m) => logs.push(`info:${m}`),
      warn: (_o, m) => logs.push(`warn:${m}`),
      error: (_o, m) => logs.push(`error:${m}`),
    };
    const cache = await RedisCache.connect({ url: own.url, prefix: 'rc:', reconnect: { baseMs: 10, maxMs: 100 }, logger });
    const events: string[] = [];
    cache.on('reconnecting', () => events.push('reconnecting'));
    await cache.set('k', 1);
    await own.kill();
    // the client notices the closed socket; every operation fails fast with a code, none hangs
    for (let i = 0; i < 5; i++) {
      const t0 = Date.now();
      await expectCode(() => cache.get('k'), 'CACHE_UNAVAILABLE');
      await expectCode(() => cache.set('k', 2), 'CACHE_UNAVAILABLE');
      await expectCode(() => cache.keys('*'), 'CACHE_UNAVAILABLE');
      expect(Date.now() - t0).toBeLessThan(1000);
    }
    expect(cache.ready).toBe(false);
    const ready = cache.once('ready');
    await own.restart();
    const e = await ready;
    expect(e.reconnect).toBe(true);
    expect(e.durationMillis).toBeGreaterThan(0);
    expect(events.length).toBeGreaterThan(0);
    expect(await cache.get('k')).toBeUndefined(); // no persistence: the restarted server is empty
    await cache.set('k', 3);
    expect(await cache.get('k')).toBe(3);
    expect(logs).toContain('warn:redis connection lost; reconnecting with backoff');
    expect(logs).toContain('info:redis connection restored');
    expect((await cache.stats()).errors).toBeGreaterThanOrEqual(15);
    await cache.close();
    await expectCode(() => cache.get('k'), 'CACHE_CLOSED');
    await own.stop();
  });
});
