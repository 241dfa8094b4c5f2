/**
 * `@profilesync/client/redis` (Node only; needs the `redis` package): the Redis backend of the
 * response cache. `createClient({ responseCache: { url } })` loads it on first use; it can also
 * be used directly:
 *
 *   import { connectRedisCache } from '@profilesync/client/redis';
 *   const cache = await connectRedisCache({ url: 'redis://127.0.0.1:6379' });
 *   const ps = createClient({ url, token, responseCache: { cache } });
 *
 * It is the cache package's Redis cache with its fallback: while Redis cannot be reached,
 * answers are kept in memory, and Redis is used again as soon as it answers.
 */
import { createCache } from '@profilesync/cache';
import type { CacheLike } from './types.js';

export type { CacheLike };

export interface RedisCacheOptions {
  url: string;
  /** key prefix (default `profilesync:cache:`, the node's) */
  prefix?: string;
  /** entries kept in memory while Redis is down (default 1000) */
  maxEntries?: number;
  /** how long to wait for Redis at the first use before starting on memory (ms, default 2000) */
  connectTimeoutMs?: number;
}

export async function connectRedisCache(opts: RedisCacheOptions): Promise<CacheLike> {
  return createCache<unknown>({
    name: 'client-responses',
    backend: 'redis',
    url: opts.url,
    ...(opts.prefix !== undefined ? { prefix: opts.prefix } : {}),
    memory: { maxEntries: opts.maxEntries ?? 1000 },
    ...(opts.connectTimeoutMs !== undefined ? { connectTimeoutMs: opts.connectTimeoutMs } : {}),
    fallback: true,
    env: {},
  });
}
