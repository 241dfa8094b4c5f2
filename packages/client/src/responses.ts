/**
 * The LLM response cache for apps: `cached(profile, input, () => callModel(...))` returns the
 * answer stored for (profile id, profile VERSION, operation, input), or calls the model once
 * (concurrent identical calls share that one call) and stores its answer. The version is part
 * of the key, so an edited profile never gets an answer made with its old content.
 *
 * It is the cache package's ResponseCache (the same key scheme as the node's `responses`
 * cache): in memory by default; on Redis when given a URL (loaded from
 * `@profilesync/client/redis` on first use, so a browser bundle never includes node-redis),
 * with the cache package's fallback to memory while Redis is down.
 */
import { MemoryCache, ResponseCache, canonicalJson, type CacheInterface } from '@profilesync/cache';
import type { CacheLike, CacheStats } from './types.js';
import { invalidArgument } from './errors.js';

export interface ResponseCacheOptions {
  /** Redis URL (redis:// or rediss://): share answers between app instances (and the node's `responses` cache) */
  url?: string;
  /** Redis key prefix (default the cache package's, `profilesync:cache:`) */
  prefix?: string;
  /** key namespace (default `llm`, as the node's) */
  namespace?: string;
  /** how long an answer is kept (ms, default 1 h) */
  ttlMs?: number;
  /** entries kept in memory (default 1000) */
  maxEntries?: number;
  /** a cache of your own (any CacheInterface of @profilesync/cache) instead of memory / Redis */
  cache?: CacheLike;
}

export interface CachedOptions {
  /** what kind of call this is (part of the key; default `chat`) */
  operation?: string;
  /** ttl of this answer (ms) */
  ttlMs?: number;
}

/** What identifies the profile state an answer was made with: a view or a render result. */
export interface ProfileStamp {
  id: string;
  version: string;
}

type RedisModule = { connectRedisCache(opts: { url: string; prefix?: string; maxEntries?: number }): Promise<CacheLike> };

/** The subpath holding node-redis, loaded only when a URL is configured (bundlers do not follow a variable specifier). */
const REDIS_MODULE = '@profilesync/client/redis';

export class AppResponseCache {
  readonly #opts: ResponseCacheOptions;
  #ready: Promise<{ rc: ResponseCache<unknown>; cache: CacheInterface<unknown> }> | undefined;
  readonly #inflight = new Map<string, Promise<unknown>>();
  readonly #load: () => Promise<RedisModule>;

  constructor(opts: ResponseCacheOptions = {}, loadRedis?: () => Promise<RedisModule>) {
    if (opts.url !== undefined && !/^rediss?:\/\//.test(opts.url)) throw invalidArgument('responseCache.url', 'must be a redis:// or rediss:// URL');
    if (opts.ttlMs !== undefined && !(Number.isFinite(opts.ttlMs) && opts.ttlMs > 0)) throw invalidArgument('responseCache.ttlMs', 'must be a positive number of ms');
    this.#opts = opts;
    this.#load = loadRedis ?? (() => import(/* @vite-ignore */ /* webpackIgnore: true */ REDIS_MODULE) as Promise<RedisModule>);
  }

  #get(): Promise<{ rc: ResponseCache<unknown>; cache: CacheInterface<unknown> }> {
    this.#ready ??= (async () => {
      const o = this.#opts;
      const cache: CacheInterface<unknown> =
        o.cache ??
        (o.url !== undefined
          ? await (await this.#load()).connectRedisCache({ url: o.url, ...(o.prefix !== undefined ? { prefix: o.prefix } : {}), ...(o.maxEntries !== undefined ? { maxEntries: o.maxEntries } : {}) })
          : new MemoryCache<unknown>({ maxEntries: o.maxEntries ?? 1000 }));
      const rc = new ResponseCache<unknown>({ cache, ...(o.namespace !== undefined ? { namespace: o.namespace } : {}), ...(o.ttlMs !== undefined ? { defaultTtl: o.ttlMs } : {}) });
      return { rc, cache };
    })();
    return this.#ready;
  }

  async cached<R>(profile: ProfileStamp, input: unknown, fn: () => R | Promise<R>, opts: CachedOptions = {}): Promise<R> {
    if (typeof profile !== 'object' || profile === null || typeof profile.id !== 'string' || typeof profile.version !== 'string') {
      throw invalidArgument('profile', 'give the profile view (or render result) the answer is made with: { id, version }');
    }
    if (typeof fn !== 'function') throw invalidArgument('fn', 'must be a function that calls the model');
    const { rc, cache } = await this.#get();
    const req = { profileId: profile.id, profileVersion: profile.version, operation: opts.operation ?? 'chat', text: canonicalJson(input, 'input') };
    const key = rc.keyFor(req);
    const hit = await rc.getCachedResponse(req);
    if (hit !== undefined) return hit as R;
    let p = this.#inflight.get(key) as Promise<R> | undefined;
    if (p === undefined) {
      p = (async () => {
        const answer = await fn();
        if (opts.ttlMs !== undefined) await cache.set(key, answer, { ttl: opts.ttlMs });
        else await rc.cacheResponse(req, answer);
        return answer;
      })();
      this.#inflight.set(key, p);
      void p.then(
        () => this.#inflight.delete(key),
        () => this.#inflight.delete(key),
      );
    }
    return p;
  }

  /** Drops every answer of one profile (all versions). */
  async invalidate(profileId: string): Promise<number> {
    return (await this.#get()).rc.invalidateByProfile(profileId);
  }

  async stats(): Promise<CacheStats> {
    return (await this.#get()).rc.stats();
  }

  async close(): Promise<void> {
    if (this.#ready === undefined) return;
    const { cache } = await this.#ready;
    if (this.#opts.cache === undefined) await cache.close();
  }
}
