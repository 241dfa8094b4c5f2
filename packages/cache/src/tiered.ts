/**
 * TieredCache: L1 MemoryCache in front of L2 RedisCache.
 *
 * - Read-through: L1 hit, else L2 (GET + PTTL in one round trip) and fill L1 with
 *   ttl = min(L2's remaining ttl, l1Ttl). Write-through: L2 first, then L1, then an
 *   invalidation message.
 * - Coherence across processes: every write, delete, pattern invalidation and clear
 *   publishes `{ v: 1, src, op, ... }` on `<prefix>__invalidate`; the other processes
 *   drop the matching L1 entries. A process ignores its own messages (instance id).
 * - Races: an L2 read that overlaps an invalidation of its key does not fill L1 (the
 *   read may have fetched the old value). While the subscriber is disconnected, L1 is
 *   emptied and bypassed (messages could be lost); it comes back after resubscribing.
 * - `l1Ttl` bounds staleness should a message ever be lost anyway.
 * - Keys, ttls, sizes and existence are answered by L2 (the authority).
 */
import { randomUUID } from 'node:crypto';
import { TypedEmitter } from '@profilesync/errors';
import { compileGlob } from './glob.js';
import { MemoryCache, type MemoryCacheOptions } from './memory.js';
import type { RedisCache, RedisSubscription } from './redis.js';
import type { CacheInterface, CacheLogger, CacheStats, SetOptions } from './types.js';
import { silentLogger } from './types.js';
import { optPositiveInt, validateKey } from './validate.js';

export interface TieredCacheOptions {
  /** the L2 cache (owned: close() closes it) */
  l2: RedisCache;
  /** L1 options (default maxEntries 10 000); its defaultTtl is ignored, l1Ttl applies */
  l1?: Omit<MemoryCacheOptions, 'defaultTtl'>;
  /** longest time an entry stays in L1, ms (default 60 000) */
  l1Ttl?: number;
  /** distinguishes this process' messages (default a random UUID) */
  instanceId?: string;
  /** pub/sub channel (default `${l2.prefix}__invalidate`) */
  channel?: string;
  logger?: CacheLogger;
}

export type InvalidationMessage =
  | { v: 1; src: string; op: 'del'; keys: string[] }
  | { v: 1; src: string; op: 'pattern'; pattern: string }
  | { v: 1; src: string; op: 'clear' };

export interface TieredCacheEvents {
  /** a message from another instance was applied to L1 */
  invalidated: { op: InvalidationMessage['op']; src: string; removed: number };
  /** L1 was emptied because invalidation messages may have been missed */
  resync: { reason: 'subscriber-disconnected' };
}

/** Parses an invalidation message; undefined when malformed. */
export function parseInvalidation(text: string): InvalidationMessage | undefined {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof m !== 'object' || m === null) return undefined;
  const o = m as Record<string, unknown>;
  if (o.v !== 1 || typeof o.src !== 'string') return undefined;
  if (o.op === 'del' && Array.isArray(o.keys) && o.keys.every((k) => typeof k === 'string')) return o as InvalidationMessage;
  if (o.op === 'pattern' && typeof o.pattern === 'string') return o as InvalidationMessage;
  if (o.op === 'clear') return o as InvalidationMessage;
  return undefined;
}

type Token = { stale: boolean };

export class TieredCache<V = unknown> extends TypedEmitter<TieredCacheEvents> implements CacheInterface<V> {
  readonly instanceId: string;
  readonly channel: string;
  readonly #l1: MemoryCache<V>;
  readonly #l2: RedisCache<V>;
  readonly #l1Ttl: number;
  readonly #logger: CacheLogger;
  #sub: RedisSubscription | undefined;
  #l1Enabled = true;
  #inflight = new Map<string, Set<Token>>();
  #l1Hits = 0;
  #l2Hits = 0;
  #misses = 0;
  #received = 0;
  #sent = 0;
  #badMessages = 0;
  #publishErrors = 0;
  #skippedFills = 0;
  #resyncs = 0;

  private constructor(options: TieredCacheOptions) {
    super('@profilesync/cache');
    this.#l2 = options.l2 as RedisCache<V>;
    this.#l1 = new MemoryCache<V>({ ...options.l1, maxKeyLength: options.l1?.maxKeyLength ?? this.#l2.maxKeyLength });
    this.#l1Ttl = optPositiveInt('tiered.l1Ttl', options.l1Ttl, 60_000);
    this.instanceId = options.instanceId ?? randomUUID();
    this.channel = options.channel ?? `${this.#l2.prefix}__invalidate`;
    this.#logger = options.logger ?? silentLogger;
  }

  /** Builds the cache and subscribes to the invalidation channel before returning. */
  static async create<V = unknown>(options: TieredCacheOptions): Promise<TieredCache<V>> {
    const t = new TieredCache<V>(options);
    await t.#subscribe();
    return t;
  }

  get l1(): MemoryCache<V> {
    return this.#l1;
  }

  get l2(): RedisCache<V> {
    return this.#l2;
  }

  async get(key: string): Promise<V | undefined> {
    if (this.#l1Enabled) {
      const hit = this.#l1.getSync(key);
      if (hit !== undefined) {
        this.#l1Hits++;
        return hit;
      }
    } else {
      validateKey(key, this.#l2.maxKeyLength);
    }
    const token: Token = { stale: false };
    let set = this.#inflight.get(key);
    if (!set) {
      set = new Set();
      this.#inflight.set(key, set);
    }
    set.add(token);
    try {
      const got = await this.#l2.getWithTtl(key);
      if (got === undefined) {
        this.#misses++;
        return undefined;
      }
      this.#l2Hits++;
      if (!this.#l1Enabled || token.stale) this.#skippedFills++;
      else this.#l1.setSync(key, got.value, { ttl: got.ttl === null ? this.#l1Ttl : Math.min(got.ttl, this.#l1Ttl) });
      return got.value;
    } finally {
      set.delete(token);
      if (set.size === 0) this.#inflight.delete(key);
    }
  }

  async set(key: string, value: V, options?: SetOptions): Promise<void> {
    await this.#l2.set(key, value, options);
    this.#markStale((k) => k === key);
    if (this.#l1Enabled) {
      const ttl = options?.ttl ?? this.#l2.defaultTtl;
      this.#l1.setSync(key, value, { ttl: ttl === null ? this.#l1Ttl : Math.min(ttl, this.#l1Ttl) });
    }
    await this.#publish({ v: 1, src: this.instanceId, op: 'del', keys: [key] });
  }

  async delete(key: string): Promise<boolean> {
    const had = await this.#l2.delete(key);
    this.#markStale((k) => k === key);
    this.#l1.deleteSync(key);
    await this.#publish({ v: 1, src: this.instanceId, op: 'del', keys: [key] });
    return had;
  }

  async exists(key: string): Promise<boolean> {
    if (this.#l1Enabled && this.#l1.hasSync(key)) return true;
    return this.#l2.exists(key);
  }

  getTtl(key: string): Promise<number | null | undefined> {
    return this.#l2.getTtl(key);
  }

  async clear(): Promise<void> {
    await this.#l2.clear();
    this.#markStale(() => true);
    await this.#l1.clear();
    await this.#publish({ v: 1, src: this.instanceId, op: 'clear' });
  }

  keys(pattern?: string): Promise<string[]> {
    return this.#l2.keys(pattern);
  }

  async invalidatePattern(pattern: string): Promise<number> {
    const glob = compileGlob(pattern);
    const n = await this.#l2.invalidatePattern(pattern);
    this.#markStale((k) => glob.test(k));
    await this.#l1.invalidatePattern(pattern);
    await this.#publish({ v: 1, src: this.instanceId, op: 'pattern', pattern });
    return n;
  }

  async stats(): Promise<CacheStats> {
    const l2 = await this.#l2.stats();
    const l1 = this.#l1.statsSync();
    return {
      backend: 'tiered',
      hits: this.#l1Hits + this.#l2Hits,
      misses: this.#misses,
      sets: l2.sets,
      deletes: l2.deletes,
      evictions: l1.evictions,
      expirations: l1.expirations,
      size: l2.size,
      defaultTtl: l2.defaultTtl,
      l1: { ...l1, hits: this.#l1Hits },
      l2,
      l1Enabled: this.#l1Enabled,
      invalidations: {
        sent: this.#sent,
        received: this.#received,
        malformed: this.#badMessages,
        publishErrors: this.#publishErrors,
        skippedFills: this.#skippedFills,
        resyncs: this.#resyncs,
      },
    };
  }

  async close(): Promise<void> {
    await this.#sub?.close();
    this.#sub = undefined;
    await this.#l1.close();
    await this.#l2.close();
  }

  async #subscribe(): Promise<void> {
    this.#sub = await this.#l2.subscribe(this.channel, (text) => this.#onMessage(text));
    const conn = this.#sub.connection;
    conn.on('disconnected', () => {
      if (!this.#l1Enabled) return;
      this.#l1Enabled = false;
      this.#resyncs++;
      this.#markStale(() => true);
      void this.#l1.clear().catch(() => {});
      this.emit('resync', { reason: 'subscriber-disconnected' });
      this.#logger.warn({ channel: this.channel }, 'invalidation channel lost; L1 emptied and bypassed until resubscribed');
    });
    conn.on('ready', () => {
      this.#l1Enabled = true;
    });
  }

  #onMessage(text: string): void {
    const msg = parseInvalidation(text);
    if (msg === undefined) {
      this.#badMessages++;
      return;
    }
    if (msg.src === this.instanceId) return;
    this.#received++;
    let removed = 0;
    if (msg.op === 'clear') {
      this.#markStale(() => true);
      removed = this.#l1.statsSync().size;
      void this.#l1.clear().catch(() => {});
    } else if (msg.op === 'del') {
      const keys = new Set(msg.keys);
      this.#markStale((k) => keys.has(k));
      for (const k of msg.keys) {
        try {
          if (this.#l1.deleteSync(k)) removed++;
        } catch {
          // a key this process could not hold: nothing to drop
        }
      }
    } else {
      let glob;
      try {
        glob = compileGlob(msg.pattern);
      } catch {
        this.#badMessages++;
        return;
      }
      this.#markStale((k) => glob.test(k));
      void this.#l1.invalidatePattern(msg.pattern).then((n) => this.emit('invalidated', { op: 'pattern', src: msg.src, removed: n }));
      return;
    }
    this.emit('invalidated', { op: msg.op, src: msg.src, removed });
  }

  #markStale(match: (key: string) => boolean): void {
    if (this.#inflight.size === 0) return;
    for (const [k, tokens] of this.#inflight) {
      if (match(k)) for (const t of tokens) t.stale = true;
    }
  }

  async #publish(msg: InvalidationMessage): Promise<void> {
    try {
      await this.#l2.publish(this.channel, JSON.stringify(msg));
      this.#sent++;
    } catch (err) {
      this.#publishErrors++;
      this.#logger.warn({ channel: this.channel, err: (err as Error).message }, 'invalidation message not published');
    }
  }
}
