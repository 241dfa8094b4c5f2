/**
 * ResponseCache: LLM responses over any CacheInterface (memory, Redis, tiered, fallback).
 *
 *   const rc = new ResponseCache({ cache });
 *   await rc.cacheResponse({ profileId, profileVersion, operation: 'summarize', text, options }, answer);
 *   const hit = await rc.getCachedResponse({ profileId, profileVersion, operation: 'summarize', text, options });
 *
 * Keys come from ResponseKeyGenerator (response-keys.ts): the profile version is part of
 * the key, so an edited profile never gets answers computed for an older version. TTLs
 * are per operation. Stats count hits/misses/sets per operation and per text-size tier.
 */
import type { CacheMonitor, Tier, TierLimits } from './monitor.js';
import { DEFAULT_TIERS, tierOf } from './monitor.js';
import { type ResponseKeyGeneratorOptions, type ResponseRequest, ResponseKeyGenerator } from './response-keys.js';
import type { CacheInterface, CacheStats, Clock } from './types.js';
import { systemClock } from './types.js';
import { configError, optTtl } from './validate.js';

/** Default TTLs per operation (ms), from the product requirements. */
export const DEFAULT_OPERATION_TTLS: Readonly<Record<string, number>> = Object.freeze({
  summarize: 2 * 3600_000,
  sentiment: 24 * 3600_000,
  key_points: 2 * 3600_000,
  questions: 3600_000,
  qa: 30 * 60_000,
});

export interface ResponseCacheOptions extends ResponseKeyGeneratorOptions {
  cache: CacheInterface<unknown>;
  /** ttl per operation in ms (merged over DEFAULT_OPERATION_TTLS) */
  operationTtls?: Record<string, number>;
  /** ttl of operations without their own (default 1 h) */
  defaultTtl?: number;
  /** text-size tiers in characters (default small < 500 <= medium < 5000 <= large < 50 000 <= xlarge) */
  textTiers?: TierLimits;
  monitor?: CacheMonitor;
  clock?: Clock;
}

type Counts = { hits: number; misses: number; sets: number };
const zero = (): Counts => ({ hits: 0, misses: 0, sets: 0 });

export class ResponseCache<R = unknown> {
  readonly keys: ResponseKeyGenerator;
  readonly #cache: CacheInterface<unknown>;
  readonly #ttls: Record<string, number>;
  readonly #defaultTtl: number;
  readonly #tiers: TierLimits;
  readonly #monitor: CacheMonitor | undefined;
  readonly #clock: Clock;
  #total = zero();
  #byOp = new Map<string, Counts>();
  #byTier: Record<Tier, Counts> = { small: zero(), medium: zero(), large: zero(), xlarge: zero() };
  #keyGenCount = 0;
  #keyGenMs = 0;
  #invalidated = 0;

  constructor(options: ResponseCacheOptions) {
    if (typeof options !== 'object' || options === null || typeof options.cache?.get !== 'function') {
      throw configError('cache', 'a CacheInterface is required');
    }
    this.#cache = options.cache;
    this.keys = new ResponseKeyGenerator(options);
    const ttls: Record<string, number> = { ...DEFAULT_OPERATION_TTLS };
    for (const [op, ttl] of Object.entries(options.operationTtls ?? {})) {
      this.keys.checkOperation(op);
      const ms = ttl === undefined || ttl === null ? null : optTtl(`operationTtls.${op}`, ttl, null);
      if (ms === null) throw configError(`operationTtls.${op}`, 'must be a positive number of ms');
      ttls[op] = ms;
    }
    this.#ttls = ttls;
    const dflt = optTtl('defaultTtl', options.defaultTtl, 3600_000);
    if (dflt === null) throw configError('defaultTtl', 'must be a positive number of ms');
    this.#defaultTtl = dflt;
    this.#tiers = options.textTiers ?? DEFAULT_TIERS.text;
    this.#monitor = options.monitor;
    this.#clock = options.clock ?? systemClock;
  }

  /** The ttl (ms) responses of this operation get. */
  ttlFor(operation: string): number {
    return this.#ttls[operation] ?? this.#defaultTtl;
  }

  keyFor(req: ResponseRequest): string {
    const t0 = this.#clock.now();
    const key = this.keys.key(req);
    this.#keyGenMs += this.#clock.now() - t0;
    this.#keyGenCount++;
    return key;
  }

  async cacheResponse(req: ResponseRequest, response: R): Promise<void> {
    const key = this.keyFor(req);
    await this.#cache.set(key, response, { ttl: this.ttlFor(req.operation) });
    this.#count(req, 'sets');
    this.#monitor?.recordSize('text', req.text.length);
  }

  async getCachedResponse(req: ResponseRequest): Promise<R | undefined> {
    const key = this.keyFor(req);
    const v = (await this.#cache.get(key)) as R | undefined;
    this.#count(req, v === undefined ? 'misses' : 'hits');
    return v;
  }

  /** Drops every cached response of an operation (all profiles, versions, texts); returns the count. */
  async invalidateByOperation(operation: string): Promise<number> {
    const n = await this.#cache.invalidatePattern(this.keys.operationPattern(operation));
    this.#invalidated += n;
    return n;
  }

  /** Drops every cached response of a profile (all versions); returns the count. */
  async invalidateByProfile(profileId: string): Promise<number> {
    const n = await this.#cache.invalidatePattern(this.keys.profilePattern(profileId));
    this.#invalidated += n;
    return n;
  }

  /** Drops every response in this namespace (other keys of the underlying cache stay). */
  async clear(): Promise<void> {
    this.#invalidated += await this.#cache.invalidatePattern(this.keys.allPattern());
  }

  async stats(): Promise<CacheStats> {
    const under = await this.#cache.stats();
    const size = (await this.#cache.keys(this.keys.allPattern())).length;
    const byOperation: Record<string, Counts & { ttl: number }> = {};
    for (const [op, c] of this.#byOp) byOperation[op] = { ...c, ttl: this.ttlFor(op) };
    return {
      backend: `response(${under.backend})`,
      hits: this.#total.hits,
      misses: this.#total.misses,
      sets: this.#total.sets,
      deletes: this.#invalidated,
      evictions: under.evictions,
      expirations: under.expirations,
      size,
      defaultTtl: this.#defaultTtl,
      namespace: this.keys.namespace,
      byOperation,
      textTiers: {
        small: { ...this.#byTier.small },
        medium: { ...this.#byTier.medium },
        large: { ...this.#byTier.large },
        xlarge: { ...this.#byTier.xlarge },
      },
      textTierLimits: { ...this.#tiers },
      keyGeneration: { count: this.#keyGenCount, meanMs: this.#keyGenCount ? this.#keyGenMs / this.#keyGenCount : 0 },
    };
  }

  #count(req: ResponseRequest, what: keyof Counts): void {
    this.#total[what]++;
    let c = this.#byOp.get(req.operation);
    if (!c) {
      c = zero();
      this.#byOp.set(req.operation, c);
    }
    c[what]++;
    this.#byTier[tierOf(req.text.length, this.#tiers)][what]++;
  }
}
