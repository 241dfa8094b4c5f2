/**
 * createCache(config): picks the backend from config, then environment, then defaults.
 *
 *   backend   'auto' (default) -> 'redis' when a URL is configured, else 'memory'
 *   url       config.url | PROFILESYNC_CACHE_URL | REDIS_URL
 *
 * With fallback on (the default), a Redis-backed cache that cannot connect within
 * connectTimeoutMs starts on memory, logs it, and moves to Redis when it answers
 * (FallbackCache). With fallback off, an unreachable Redis is CACHE_UNAVAILABLE.
 * Explicit config wins over environment; a bad value in either is CACHE_INVALID_CONFIG
 * naming the field or variable.
 */
import { backoffPolicy, type BackoffPolicy } from './backoff.js';
import { CacheErrorCode, cacheError } from './errors.js';
import { FallbackCache } from './fallback.js';
import { MemoryCache, type MemoryCacheOptions } from './memory.js';
import type { CacheMonitor } from './monitor.js';
import { RedisCache, type RedisCacheOptions } from './redis.js';
import { TieredCache, type TieredCacheOptions } from './tiered.js';
import { type CacheInterface, type CacheLogger, type Clock, silentLogger } from './types.js';
import { optObject, optPositiveInt, optTtl } from './validate.js';

export type CacheBackend = 'auto' | 'memory' | 'redis' | 'tiered';

export interface CacheConfig {
  /** used in logs and as the default client name */
  name?: string;
  backend?: CacheBackend;
  url?: string;
  prefix?: string;
  /** default ttl in ms (null = none) */
  defaultTtl?: number | null;
  /** also the fallback memory cache's bounds */
  memory?: Omit<MemoryCacheOptions, 'defaultTtl' | 'monitor'>;
  redis?: Omit<RedisCacheOptions, 'url' | 'prefix' | 'defaultTtl' | 'logger' | 'monitor'>;
  tiered?: Pick<TieredCacheOptions, 'l1' | 'l1Ttl' | 'instanceId'>;
  /** serve from memory while Redis is down (default true) */
  fallback?: boolean;
  /** how long to wait for Redis at start (default 2000 ms) */
  connectTimeoutMs?: number;
  /** fallback probe backoff (default base 250 ms, cap 30 000 ms) */
  probe?: Partial<BackoffPolicy>;
  /** most keys/patterns journaled while on memory before collapsing into a clear (default 10 000) */
  journalLimit?: number;
  logger?: CacheLogger;
  monitor?: CacheMonitor;
  /** environment to read (default process.env) */
  env?: Record<string, string | undefined>;
  clock?: Clock;
  random?: () => number;
}

export const CACHE_ENV = {
  backend: 'PROFILESYNC_CACHE_BACKEND',
  url: 'PROFILESYNC_CACHE_URL',
  redisUrl: 'REDIS_URL',
  prefix: 'PROFILESYNC_CACHE_PREFIX',
  defaultTtl: 'PROFILESYNC_CACHE_DEFAULT_TTL_MS',
  maxEntries: 'PROFILESYNC_CACHE_MAX_ENTRIES',
  compressionThreshold: 'PROFILESYNC_CACHE_COMPRESSION_THRESHOLD',
  compressionLevel: 'PROFILESYNC_CACHE_COMPRESSION_LEVEL',
  fallback: 'PROFILESYNC_CACHE_FALLBACK',
} as const;

function envError(name: string, value: string, expected: string): Error {
  return cacheError(CacheErrorCode.INVALID_CONFIG, `${name}=${JSON.stringify(value)}: expected ${expected}`, { field: name });
}

function envInt(env: Record<string, string | undefined>, name: string, min: number): number | undefined {
  const v = env[name];
  if (v === undefined || v === '') return undefined;
  if (!/^\d+$/.test(v.trim()) || Number(v) < min || !Number.isSafeInteger(Number(v))) {
    throw envError(name, v, `an integer >= ${min}`);
  }
  return Number(v);
}

function envBool(env: Record<string, string | undefined>, name: string): boolean | undefined {
  const v = env[name];
  if (v === undefined || v === '') return undefined;
  const s = v.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(s)) return true;
  if (['0', 'false', 'no', 'off'].includes(s)) return false;
  throw envError(name, v, 'true or false');
}

/** The effective configuration: explicit config over environment over defaults (pure; exported for tests). */
export function resolveCacheConfig(config: CacheConfig = {}): {
  backend: Exclude<CacheBackend, 'auto'>;
  url: string | undefined;
  prefix: string | undefined;
  defaultTtl: number | null;
  maxEntries: number | undefined;
  compressionThreshold: number | null | undefined;
  compressionLevel: number | undefined;
  fallback: boolean;
} {
  optObject('cache', config);
  const env = config.env ?? process.env;
  const envBackend = env[CACHE_ENV.backend];
  if (envBackend !== undefined && envBackend !== '' && !['auto', 'memory', 'redis', 'tiered'].includes(envBackend)) {
    throw envError(CACHE_ENV.backend, envBackend, 'auto, memory, redis or tiered');
  }
  const requested = config.backend ?? ((envBackend || undefined) as CacheBackend | undefined) ?? 'auto';
  if (!['auto', 'memory', 'redis', 'tiered'].includes(requested)) {
    throw cacheError(CacheErrorCode.INVALID_CONFIG, `backend: expected auto, memory, redis or tiered, got ${String(requested)}`, {
      field: 'backend',
    });
  }
  const url = config.url ?? (env[CACHE_ENV.url] || undefined) ?? (env[CACHE_ENV.redisUrl] || undefined);
  if (url !== undefined && (typeof url !== 'string' || !/^rediss?:\/\//.test(url))) {
    throw cacheError(CacheErrorCode.INVALID_CONFIG, 'url: must start with redis:// or rediss://', { field: 'url' });
  }
  const backend = requested === 'auto' ? (url ? 'redis' : 'memory') : requested;
  const envTtl = envInt(env, CACHE_ENV.defaultTtl, 1);
  const threshold = env[CACHE_ENV.compressionThreshold] === 'off' ? null : envInt(env, CACHE_ENV.compressionThreshold, 0);
  const level = envInt(env, CACHE_ENV.compressionLevel, 1);
  if (level !== undefined && level > 9) throw envError(CACHE_ENV.compressionLevel, String(level), 'an integer in 1..9');
  const fallback = config.fallback ?? envBool(env, CACHE_ENV.fallback) ?? true;
  if (typeof fallback !== 'boolean') throw cacheError(CacheErrorCode.INVALID_CONFIG, 'fallback: must be a boolean', { field: 'fallback' });
  return {
    backend,
    url,
    prefix: config.prefix ?? (env[CACHE_ENV.prefix] || undefined),
    defaultTtl: optTtl('defaultTtl', config.defaultTtl, envTtl ?? null),
    maxEntries: config.memory?.maxEntries ?? envInt(env, CACHE_ENV.maxEntries, 1),
    compressionThreshold: config.redis?.compressionThreshold !== undefined ? config.redis.compressionThreshold : threshold,
    compressionLevel: config.redis?.compressionLevel ?? level,
    fallback,
  };
}

/** A cache from config/env. Memory: a MemoryCache. Redis/tiered: a FallbackCache, or the bare cache with fallback off. */
export async function createCache<V = unknown>(config: CacheConfig = {}): Promise<CacheInterface<V>> {
  const r = resolveCacheConfig(config);
  const name = config.name ?? 'cache';
  const logger = config.logger ?? silentLogger;
  const memoryOptions: MemoryCacheOptions = { ...config.memory, defaultTtl: r.defaultTtl };
  if (r.maxEntries !== undefined) memoryOptions.maxEntries = r.maxEntries;
  if (config.clock && !memoryOptions.clock) memoryOptions.clock = config.clock;
  if (config.monitor) memoryOptions.monitor = config.monitor;
  if (r.backend === 'memory') {
    logger.info({ cache: name, backend: 'memory' }, 'cache backend: memory');
    return new MemoryCache<V>(memoryOptions);
  }

  const redisOptions: RedisCacheOptions = { ...config.redis, defaultTtl: r.defaultTtl, logger, clientName: config.redis?.clientName ?? `profilesync-${name}` };
  if (r.url !== undefined) redisOptions.url = r.url;
  if (r.prefix !== undefined) redisOptions.prefix = r.prefix;
  if (r.compressionThreshold !== undefined) redisOptions.compressionThreshold = r.compressionThreshold;
  if (r.compressionLevel !== undefined) redisOptions.compressionLevel = r.compressionLevel;
  if (config.monitor) redisOptions.monitor = config.monitor;
  if (config.random) redisOptions.random = config.random;
  const connectTimeoutMs = optPositiveInt('connectTimeoutMs', config.connectTimeoutMs, 2000, 600_000);
  const probe = backoffPolicy('probe', { baseMs: 250, maxMs: 30_000, ...config.probe });
  const journalLimit = optPositiveInt('journalLimit', config.journalLimit, 10_000, 10_000_000);
  const makePrimary = async (redis: RedisCache<V>): Promise<CacheInterface<V>> => {
    if (r.backend === 'redis') return redis;
    const t: TieredCacheOptions = { ...config.tiered, l2: redis as RedisCache, logger };
    return TieredCache.create<V>(t);
  };
  const redis = new RedisCache<V>(redisOptions);

  if (!r.fallback) {
    try {
      await redis.whenReady(connectTimeoutMs);
      const primary = await makePrimary(redis);
      logger.info({ cache: name, backend: r.backend }, `cache backend: ${r.backend}`);
      return primary;
    } catch (err) {
      await redis.close();
      throw err;
    }
  }
  const fallbackOptions: ConstructorParameters<typeof FallbackCache<V>>[0] = {
    name,
    redis,
    makePrimary,
    memory: new MemoryCache<V>(memoryOptions),
    probe,
    journalLimit,
    logger,
  };
  if (config.clock) fallbackOptions.clock = config.clock;
  if (config.random) fallbackOptions.random = config.random;
  const cache = new FallbackCache<V>(fallbackOptions);
  await cache.start(connectTimeoutMs);
  logger.info({ cache: name, backend: r.backend, mode: cache.mode }, `cache backend: ${r.backend} (${cache.mode === 'primary' ? 'connected' : 'on memory until redis answers'})`);
  return cache;
}
