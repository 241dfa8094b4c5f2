import { describe, expect, it } from 'vitest';
import { createClient } from 'redis';
import {
  type CacheLogger,
  FallbackCache,
  MemoryCache,
  RedisCache,
  TieredCache,
  createCache,
  resolveCacheConfig,
} from '../src/index.js';
import { expectCode, manualClock } from './contract.js';
import { freePort, startRedisServer } from './redis-server.js';

function captureLogger(): CacheLogger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    debug: () => {},
    info: (_o, m) => lines.push(`info:${m}`),
    warn: (_o, m) => lines.push(`warn:${m}`),
    error: (_o, m) => lines.push(`error:${m}`),
  };
}

const fast = {
  connectTimeoutMs: 500,
  probe: { baseMs: 20, maxMs: 200 },
  redis: { reconnect: { baseMs: 20, maxMs: 200 }, connectTimeoutMs: 300 },
};

describe('createCache: backend selection', () => {
  it('picks memory without a URL and redis with one (config over PROFILESYNC_CACHE_URL over REDIS_URL)', () => {
    expect(resolveCacheConfig({ env: {} }).backend).toBe('memory');
    expect(resolveCacheConfig({ env: { REDIS_URL: 'redis://h:1' } })).toMatchObject({ backend: 'redis', url: 'redis://h:1' });
    expect(
      resolveCacheConfig({ env: { REDIS_URL: 'redis://h:1', PROFILESYNC_CACHE_URL: 'redis://h:2' } }).url,
    ).toBe('redis://h:2');
    expect(resolveCacheConfig({ url: 'redis://h:3', env: { PROFILESYNC_CACHE_URL: 'redis://h:2' } }).url).toBe('redis://h:3');
    expect(resolveCacheConfig({ backend: 'memory', env: { REDIS_URL: 'redis://h:1' } }).backend).toBe('memory');
    expect(resolveCacheConfig({ env: { PROFILESYNC_CACHE_BACKEND: 'tiered', REDIS_URL: 'redis://h:1' } }).backend).toBe('tiered');
    expect(
      resolveCacheConfig({
        env: {
          PROFILESYNC_CACHE_DEFAULT_TTL_MS: '60000',
          PROFILESYNC_CACHE_MAX_ENTRIES: '50',
          PROFILESYNC_CACHE_COMPRESSION_THRESHOLD: 'off',
          PROFILESYNC_CACHE_COMPRESSION_LEVEL: '9',
          PROFILESYNC_CACHE_FALLBACK: 'false',
          PROFILESYNC_CACHE_PREFIX: 'p:',
        },
      }),
    ).toMatchObject({ defaultTtl: 60000, maxEntries: 50, compressionThreshold: null, compressionLevel: 9, fallback: false, prefix: 'p:' });
    expect(resolveCacheConfig({ defaultTtl: null, env: { PROFILESYNC_CACHE_DEFAULT_TTL_MS: '5' } }).defaultTtl).toBeNull();
  });

  it('rejects bad config and environment values with CACHE_INVALID_CONFIG naming the field', async () => {
    const bad: [object, string][] = [
      [{ env: { PROFILESYNC_CACHE_BACKEND: 'disk' } }, 'PROFILESYNC_CACHE_BACKEND'],
      [{ env: { PROFILESYNC_CACHE_DEFAULT_TTL_MS: '-5' } }, 'PROFILESYNC_CACHE_DEFAULT_TTL_MS'],
      [{ env: { PROFILESYNC_CACHE_DEFAULT_TTL_MS: '1.5' } }, 'PROFILESYNC_CACHE_DEFAULT_TTL_MS'],
      [{ env: { PROFILESYNC_CACHE_MAX_ENTRIES: 'lots' } }, 'PROFILESYNC_CACHE_MAX_ENTRIES'],
      [{ env: { PROFILESYNC_CACHE_COMPRESSION_LEVEL: '12' } }, 'PROFILESYNC_CACHE_COMPRESSION_LEVEL'],
      [{ env: { PROFILESYNC_CACHE_FALLBACK: 'maybe' } }, 'PROFILESYNC_CACHE_FALLBACK'],
      [{ env: { REDIS_URL: 'http://x' } }, 'url'],
      [{ backend: 'disk', env: {} }, 'backend'],
      [{ defaultTtl: -1, env: {} }, 'defaultTtl'],
    ];
    for (const [config, field] of bad) {
      const err = await expectCode(() => resolveCacheConfig(config), 'CACHE_INVALID_CONFIG');
      expect((err as { details?: { field?: string } }).details?.field).toBe(field);
      await expectCode(() => createCache(config), 'CACHE_INVALID_CONFIG');
    }
  });

  it('builds a MemoryCache with the configured bounds and ttl', async () => {
    const clock = manualClock();
    const cache = await createCache({ env: { PROFILESYNC_CACHE_MAX_ENTRIES: '2' }, defaultTtl: 1000, clock });
    expect(cache).toBeInstanceOf(MemoryCache);
    await cache.set('a', 1);
    await cache.set('b', 2);
    await cache.set('c', 3);
    const s = await cache.stats();
    expect(s.size).toBe(2);
    expect(s.evictions).toBe(1);
    expect(s.defaultTtl).toBe(1000);
    expect(await cache.getTtl('c')).toBe(1000);
    clock.advance(1001);
    expect(await cache.get('c')).toBeUndefined();
    await cache.close();
  });

  it('with fallback off, an unreachable Redis is CACHE_UNAVAILABLE', async () => {
    const port = await freePort();
    await expectCode(() => createCache({ ...fast, url: `redis://127.0.0.1:${port}`, fallback: false, env: {} }), 'CACHE_UNAVAILABLE');
  });

  it('builds redis and tiered caches when Redis answers', async () => {
    const server = await startRedisServer();
    try {
      const r = await createCache({ ...fast, env: { REDIS_URL: server.url }, fallback: false, prefix: 'f1:' });
      expect(r).toBeInstanceOf(RedisCache);
      const t = await createCache({ ...fast, backend: 'tiered', url: server.url, fallback: false, prefix: 'f2:' });
      expect(t).toBeInstanceOf(TieredCache);
      const f = await createCache({ ...fast, backend: 'tiered', url: server.url, prefix: 'f3:', env: {} });
      expect(f).toBeInstanceOf(FallbackCache);
      expect((f as FallbackCache).mode).toBe('primary');
      await f.set('k', 1);
      expect(await f.get('k')).toBe(1);
      expect((await f.stats()).backend).toBe('tiered');
      await Promise.all([r.close(), t.close(), f.close()]);
    } finally {
      await server.stop();
    }
  });
});

describe('createCache: fallback to memory and back', () => {
  it('Redis killed mid-test: serves from memory, no exception reaches the caller, returns to Redis after restart', async () => {
    const server = await startRedisServer({ persist: true });
    const raw = createClient({ url: server.url, socket: { reconnectStrategy: 20 } });
    raw.on('error', () => {});
    await raw.connect();
    const logger = captureLogger();
    const cache = (await createCache<unknown>({ ...fast, url: server.url, prefix: 'fb:', logger, env: {} })) as FallbackCache<unknown>;
    try {
      expect(cache.mode).toBe('primary');
      await cache.set('k', 'old');
      await cache.set('gone', 1);
      await cache.set('user:1', 'a');
      await cache.set('kept', 'kept');
      expect(await raw.get('fb:k')).not.toBeNull();

      const fellBack = cache.once('fallback');
      await server.kill();
      // every operation answers; none throws
      await cache.set('k', 'new');
      expect((await fellBack).code).toBe('CACHE_UNAVAILABLE');
      expect(cache.mode).toBe('fallback');
      expect(await cache.get('k')).toBe('new');
      await cache.delete('gone');
      expect(await cache.invalidatePattern('user:*')).toBe(0);
      for (let i = 0; i < 50; i++) {
        await cache.set(`o:${i}`, { i });
        expect(await cache.get(`o:${i}`)).toEqual({ i });
        await cache.exists(`o:${i}`);
        await cache.getTtl(`o:${i}`);
      }
      expect((await cache.keys('o:*')).length).toBe(50);
      const during = await cache.stats();
      expect(during.backend).toBe('memory(fallback)');
      expect((during.fallback as { journal: { keys: number; patterns: number } }).journal).toEqual({ keys: 52, patterns: 1, clear: false });
      // bad input still throws its own code during the outage
      await expectCode(() => cache.set('', 1), 'CACHE_INVALID_KEY');
      await expectCode(() => cache.set('bad', 10n), 'CACHE_SERIALIZATION_FAILED');
      await expectCode(() => cache.invalidatePattern('[x'), 'CACHE_INVALID_PATTERN');
      expect(logger.lines).toContain('warn:cache backend unavailable; serving from memory');

      const restored = cache.once('restored');
      await server.restart(); // same port; its append-only file still holds k='old', gone, user:1
      const r = await restored;
      expect(cache.mode).toBe('primary');
      expect(r).toMatchObject({ replayedKeys: 52, replayedPatterns: 1, cleared: false });
      expect(logger.lines).toContain('info:cache backend restored; back on redis');
      // values written or deleted during the outage are not served stale from Redis
      expect(await cache.get('k')).toBeUndefined();
      expect(await cache.get('gone')).toBeUndefined();
      expect(await cache.get('user:1')).toBeUndefined();
      expect(await cache.get('kept')).toBe('kept');
      await cache.set('k', 'v3');
      expect(await raw.get('fb:k')).not.toBeNull(); // written to Redis again
      expect((await cache.stats()).backend).toBe('redis');
    } finally {
      await cache.close();
      raw.destroy();
      await server.stop();
    }
  });

  it('starts on memory when Redis is unreachable and moves to Redis when it comes up', async () => {
    const port = await freePort();
    const logger = captureLogger();
    const cache = (await createCache<unknown>({ ...fast, url: `redis://127.0.0.1:${port}`, prefix: 'late:', logger, env: {} })) as FallbackCache<unknown>;
    let server;
    try {
      expect(cache.mode).toBe('fallback');
      expect(logger.lines).toContain('warn:cache backend unavailable; serving from memory');
      await cache.set('a', 1);
      expect(await cache.get('a')).toBe(1);
      const restored = cache.once('restored');
      server = await startRedisServer({ port });
      expect((await restored).replayedKeys).toBe(1);
      expect(cache.mode).toBe('primary');
      expect(await cache.get('a')).toBeUndefined(); // memory copy dropped; Redis is the authority
      await cache.set('b', 2);
      expect(await cache.get('b')).toBe(2);
    } finally {
      await cache.close();
      await server?.stop();
    }
  });

  it('collapses an overflowing journal into a clear of the prefix on return', async () => {
    const server = await startRedisServer({ persist: true });
    const cache = (await createCache<unknown>({ ...fast, url: server.url, prefix: 'ovf:', journalLimit: 3, env: {} })) as FallbackCache<unknown>;
    const other = await RedisCache.connect({ url: server.url, prefix: 'other:' });
    try {
      await cache.set('x', 1);
      await other.set('x', 'untouched');
      await other.close();
      await server.kill();
      for (let i = 0; i < 5; i++) await cache.set(`k${i}`, i);
      expect(((await cache.stats()).fallback as { journal: { clear: boolean } }).journal.clear).toBe(true);
      const restored = cache.once('restored');
      await server.restart();
      expect((await restored).cleared).toBe(true);
      expect(await cache.get('x')).toBeUndefined();
      const check = await RedisCache.connect({ url: server.url, prefix: 'other:' });
      expect(await check.get('x')).toBe('untouched');
      await check.close();
    } finally {
      await cache.close();
      await server.stop();
    }
  });

  it('a tiered cache falls back and returns too', async () => {
    const server = await startRedisServer();
    const cache = (await createCache<unknown>({ ...fast, backend: 'tiered', url: server.url, prefix: 'tfb:', env: {} })) as FallbackCache<unknown>;
    try {
      await cache.set('k', 1);
      expect(await cache.get('k')).toBe(1);
      await server.kill();
      // L1 may still answer get; a write needs L2 and falls back without throwing
      await cache.set('k', 2);
      expect(cache.mode).toBe('fallback');
      expect(await cache.get('k')).toBe(2);
      const restored = cache.once('restored');
      await server.restart();
      await restored;
      await cache.set('k', 3);
      expect(await cache.get('k')).toBe(3);
      expect((await cache.stats()).backend).toBe('tiered');
    } finally {
      await cache.close();
      await server.stop();
    }
  });
});
