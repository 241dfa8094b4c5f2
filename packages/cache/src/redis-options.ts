/**
 * RedisCache options: defaults and validation (CACHE_INVALID_CONFIG).
 */
import type { BackoffPolicy } from './backoff.js';
import type { EnvelopeOptions } from './envelope.js';
import type { CacheMonitor } from './monitor.js';
import type { CacheLogger, Clock } from './types.js';
import { DEFAULT_MAX_KEY_LENGTH, configError, hasControlChars, optObject, optPositiveInt, optTtl } from './validate.js';

export interface RedisCacheOptions {
  /** redis://[user:pass@]host:port[/db] (default redis://127.0.0.1:6379) */
  url?: string;
  /** key prefix, non-empty (default 'profilesync:cache:') */
  prefix?: string;
  /** default ttl in ms; null/omitted = no expiry unless set with a ttl */
  defaultTtl?: number | null;
  /** compress JSON larger than this many bytes (default 1000); null = never */
  compressionThreshold?: number | null;
  /** zlib level 1..9 (default 6) */
  compressionLevel?: number;
  /** largest JSON value in bytes (default 16 MiB) */
  maxValueBytes?: number;
  maxKeyLength?: number;
  /** SCAN COUNT hint (default 500) */
  scanCount?: number;
  /** keys per UNLINK (default 500) */
  deleteBatch?: number;
  /** per connection attempt (default 2000 ms) */
  connectTimeoutMs?: number;
  /** per command; off by default (costs ~25% throughput in node-redis); bounds hangs on a frozen server */
  commandTimeoutMs?: number;
  /** reconnect backoff (default base 50 ms, cap 5000 ms, jitter 0.2) */
  reconnect?: Partial<BackoffPolicy>;
  /** client name shown by CLIENT LIST (default 'profilesync-cache') */
  clientName?: string;
  monitor?: CacheMonitor;
  logger?: CacheLogger;
  clock?: Clock;
  random?: () => number;
}

export const DEFAULT_PREFIX = 'profilesync:cache:';

export interface ResolvedRedisOptions extends EnvelopeOptions {
  url: string;
  prefix: string;
  defaultTtl: number | null;
  maxKeyLength: number;
  scanCount: number;
  deleteBatch: number;
}

export function resolveRedisOptions(o: RedisCacheOptions): ResolvedRedisOptions {
  optObject('redis', o);
  const url = o.url ?? 'redis://127.0.0.1:6379';
  if (typeof url !== 'string' || !/^rediss?:\/\//.test(url)) throw configError('redis.url', 'must start with redis:// or rediss://');
  const prefix = o.prefix ?? DEFAULT_PREFIX;
  if (typeof prefix !== 'string' || prefix.length === 0 || prefix.length > 256 || hasControlChars(prefix)) {
    throw configError('redis.prefix', 'must be 1..256 chars without control characters');
  }
  const threshold = o.compressionThreshold === null ? null : optNonNeg('redis.compressionThreshold', o.compressionThreshold, 1000);
  const level = optPositiveInt('redis.compressionLevel', o.compressionLevel, 6, 9);
  return {
    url,
    prefix,
    defaultTtl: optTtl('redis.defaultTtl', o.defaultTtl, null),
    compressionThreshold: threshold,
    compressionLevel: level,
    maxValueBytes: optPositiveInt('redis.maxValueBytes', o.maxValueBytes, 16 * 1024 * 1024, 512 * 1024 * 1024),
    maxKeyLength: optPositiveInt('redis.maxKeyLength', o.maxKeyLength, DEFAULT_MAX_KEY_LENGTH),
    scanCount: optPositiveInt('redis.scanCount', o.scanCount, 500, 1_000_000),
    deleteBatch: optPositiveInt('redis.deleteBatch', o.deleteBatch, 500, 100_000),
  };
}

function optNonNeg(field: string, v: unknown, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw configError(field, 'must be an integer >= 0 or null');
  return v;
}
