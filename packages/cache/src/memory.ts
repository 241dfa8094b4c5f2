/**
 * MemoryCache: CacheInterface on lru-cache, plus a synchronous fast path
 * (getSync/setSync/hasSync/deleteSync) for hot in-process use.
 *
 * - Bounds: `maxEntries` and/or `maxBytes` (sizes from `sizeOf`, default: an estimate
 *   of the JSON length). An entry larger than maxBytes is not stored (counted as
 *   `oversize`); any previous value under that key is dropped.
 * - TTL: per entry or `defaultTtl`; the clock is injectable (lru-cache's `perf`), and
 *   with an injected clock every staleness check reads it (ttlResolution 0).
 * - Values are held by reference: do not mutate what you put in or get out.
 * - getSync validates the key only on a miss: a hit proves the key was valid when set.
 * - close() drops every entry; afterwards every operation fails with CACHE_CLOSED.
 */
import { LRUCache } from 'lru-cache';
import { CacheErrorCode, cacheError } from './errors.js';
import { compileGlob } from './glob.js';
import type { CacheMonitor } from './monitor.js';
import type { CacheInterface, CacheStats, Clock, SetOptions } from './types.js';
import {
  DEFAULT_MAX_KEY_LENGTH,
  optObject,
  optPositiveInt,
  optTtl,
  resolveTtl,
  validateKey,
  validateSetOptions,
  validateValue,
} from './validate.js';

export interface MemoryCacheOptions {
  /** most entries held (default 10 000 unless maxBytes is given) */
  maxEntries?: number;
  /** most bytes held, as measured by sizeOf */
  maxBytes?: number;
  /** size of one entry in bytes (default: estimateSize) */
  sizeOf?: (value: unknown, key: string) => number;
  /** default ttl in ms; null/omitted = entries never expire unless set with a ttl */
  defaultTtl?: number | null;
  /** time source for TTLs (ms); inject one in tests */
  clock?: Clock;
  maxKeyLength?: number;
  monitor?: CacheMonitor;
}

/** Rough byte size of a value: UTF-16 length of strings, byteLength of buffers, JSON length otherwise. */
export function estimateSize(value: unknown, key: string): number {
  let n = key.length * 2 + 48;
  if (typeof value === 'string') n += value.length * 2;
  else if (value instanceof Uint8Array) n += value.byteLength;
  else if (typeof value === 'number' || typeof value === 'boolean' || value === null) n += 8;
  else {
    try {
      n += (JSON.stringify(value)?.length ?? 0) * 2;
    } catch {
      n += 1024;
    }
  }
  return Math.max(1, n);
}

const RESOLVED: Promise<void> = Promise.resolve();
const RESOLVED_UNDEFINED: Promise<undefined> = Promise.resolve(undefined);

/**
 * What the LRU holds per key: the value, and the settled promise `get` hands out for it
 * (made on the first async read, reused after: no promise per hit). A set stores a new Entry.
 */
interface Entry<V> {
  v: V;
  p?: Promise<V>;
}

export class MemoryCache<V = unknown> implements CacheInterface<V> {
  readonly #lru: LRUCache<string, Entry<V>>;
  readonly #defaultTtl: number | null;
  readonly #maxKeyLength: number;
  readonly #maxBytes: number | undefined;
  readonly #maxEntries: number | undefined;
  readonly #monitor: CacheMonitor | undefined;
  #hits = 0;
  #misses = 0;
  #sets = 0;
  #deletes = 0;
  #evictions = 0;
  #expirations = 0;
  #oversize = 0;
  #closed = false;

  constructor(options: MemoryCacheOptions = {}) {
    optObject('memory', options);
    this.#maxBytes = options.maxBytes === undefined ? undefined : optPositiveInt('memory.maxBytes', options.maxBytes, 0);
    this.#maxEntries =
      options.maxEntries === undefined && this.#maxBytes !== undefined
        ? undefined
        : optPositiveInt('memory.maxEntries', options.maxEntries, 10_000, 1 << 30);
    this.#defaultTtl = optTtl('memory.defaultTtl', options.defaultTtl, null);
    this.#maxKeyLength = optPositiveInt('memory.maxKeyLength', options.maxKeyLength, DEFAULT_MAX_KEY_LENGTH);
    if (options.sizeOf !== undefined && typeof options.sizeOf !== 'function') {
      throw cacheError(CacheErrorCode.INVALID_CONFIG, 'memory.sizeOf: must be a function', { field: 'memory.sizeOf' });
    }
    if (options.clock !== undefined && typeof options.clock?.now !== 'function') {
      throw cacheError(CacheErrorCode.INVALID_CONFIG, 'memory.clock: must have now()', { field: 'memory.clock' });
    }
    this.#monitor = options.monitor;
    const sizeOf = options.sizeOf ?? estimateSize;
    const lruOptions: LRUCache.OptionsBase<string, Entry<V>, unknown> = {
      ttlResolution: options.clock ? 0 : 1,
      dispose: (_value, _key, reason) => {
        if (reason === 'evict') this.#evictions++;
        else if (reason === 'expire') this.#expirations++;
      },
    };
    if (this.#maxEntries !== undefined) lruOptions.max = this.#maxEntries;
    if (this.#maxBytes !== undefined) {
      lruOptions.maxSize = this.#maxBytes;
      lruOptions.sizeCalculation = (entry, key) => Math.max(1, Math.ceil(sizeOf(entry.v, key)));
    }
    if (options.clock) lruOptions.perf = options.clock;
    this.#lru = new LRUCache(lruOptions as LRUCache.Options<string, Entry<V>, unknown>);
  }

  // ---- synchronous fast path ----

  /** The value or undefined. Throws CACHE_INVALID_KEY for a bad key. */
  getSync(key: string): V | undefined {
    return this.#entry(key)?.v;
  }

  /** The live entry (counted as a hit) or undefined (a miss); validates the key only on a miss. */
  #entry(key: string): Entry<V> | undefined {
    const m = this.#monitor;
    const t = m === undefined ? -1 : m.begin('get');
    const e = this.#lru.get(key);
    if (e !== undefined) {
      this.#hits++;
      if (t >= 0) m?.end('get', t);
      return e;
    }
    this.#checkOpen();
    validateKey(key, this.#maxKeyLength);
    this.#misses++;
    if (t >= 0) m?.end('get', t);
    return undefined;
  }

  setSync(key: string, value: V, options?: SetOptions): void {
    this.#checkOpen();
    validateKey(key, this.#maxKeyLength);
    validateValue(value);
    const ttl = resolveTtl(validateSetOptions(options).ttl, this.#defaultTtl);
    const m = this.#monitor;
    const t = m === undefined ? -1 : m.begin('set');
    this.#sets++;
    // lru-cache treats ttl 0 as "no ttl"; a positive fraction below 1 ms rounds up to 1
    const status: LRUCache.Status<string, Entry<V>> = {};
    this.#lru.set(key, { v: value }, { ttl: ttl === undefined ? 0 : Math.max(1, Math.ceil(ttl)), status });
    if (status.maxEntrySizeExceeded) this.#oversize++;
    if (t >= 0) m?.end('set', t);
  }

  hasSync(key: string): boolean {
    this.#checkOpen();
    validateKey(key, this.#maxKeyLength);
    return this.#lru.has(key);
  }

  deleteSync(key: string): boolean {
    this.#checkOpen();
    validateKey(key, this.#maxKeyLength);
    const m = this.#monitor;
    const t = m === undefined ? -1 : m.begin('delete');
    const had = this.#lru.has(key);
    if (had) {
      this.#lru.delete(key);
      this.#deletes++;
    }
    if (t >= 0) m?.end('delete', t);
    return had;
  }

  /** Removes expired entries now; returns how many were removed. */
  purgeExpired(): number {
    const before = this.#expirations;
    this.#lru.purgeStale();
    return this.#expirations - before;
  }

  // ---- CacheInterface ----

  // get/set are plain functions returning settled promises (not `async`). A hit returns the
  // entry's own settled promise, made once per stored value: awaiting it costs a microtask but
  // no allocation, which was most of the async path's cost over getSync.
  get(key: string): Promise<V | undefined> {
    let e: Entry<V> | undefined;
    try {
      e = this.#entry(key);
    } catch (err) {
      return Promise.reject(err);
    }
    return e === undefined ? RESOLVED_UNDEFINED : (e.p ??= Promise.resolve(e.v));
  }

  set(key: string, value: V, options?: SetOptions): Promise<void> {
    try {
      this.setSync(key, value, options);
      return RESOLVED;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async delete(key: string): Promise<boolean> {
    return this.deleteSync(key);
  }

  async exists(key: string): Promise<boolean> {
    const m = this.#monitor;
    const t = m === undefined ? -1 : m.begin('exists');
    const r = this.hasSync(key);
    if (t >= 0) m?.end('exists', t);
    return r;
  }

  async getTtl(key: string): Promise<number | null | undefined> {
    this.#checkOpen();
    validateKey(key, this.#maxKeyLength);
    if (!this.#lru.has(key)) return undefined;
    const left = this.#lru.getRemainingTTL(key);
    // whole ms like PTTL; floor also absorbs lru-cache's 1 ms time caching (ttlResolution)
    return left === Infinity ? null : Math.max(0, Math.floor(left));
  }

  async clear(): Promise<void> {
    this.#checkOpen();
    const m = this.#monitor;
    const t = m === undefined ? -1 : m.begin('clear');
    this.#lru.clear();
    if (t >= 0) m?.end('clear', t);
  }

  async keys(pattern = '*'): Promise<string[]> {
    this.#checkOpen();
    const glob = compileGlob(pattern);
    const m = this.#monitor;
    const t = m === undefined ? -1 : m.begin('keys');
    const out: string[] = [];
    if (glob.literal !== undefined) {
      if (this.#lru.has(glob.literal)) out.push(glob.literal);
    } else {
      for (const k of this.#lru.keys()) if (glob.test(k)) out.push(k);
    }
    if (t >= 0) m?.end('keys', t);
    return out;
  }

  async invalidatePattern(pattern: string): Promise<number> {
    this.#checkOpen();
    const glob = compileGlob(pattern);
    const m = this.#monitor;
    const t = m === undefined ? -1 : m.begin('invalidatePattern');
    const victims: string[] = [];
    if (glob.literal !== undefined) {
      if (this.#lru.has(glob.literal)) victims.push(glob.literal);
    } else {
      for (const k of this.#lru.keys()) if (glob.test(k)) victims.push(k);
    }
    for (const k of victims) this.#lru.delete(k);
    this.#deletes += victims.length;
    if (t >= 0) m?.end('invalidatePattern', t);
    return victims.length;
  }

  async stats(): Promise<CacheStats> {
    return this.statsSync();
  }

  statsSync(): CacheStats {
    this.#lru.purgeStale();
    const s: CacheStats = {
      backend: 'memory',
      hits: this.#hits,
      misses: this.#misses,
      sets: this.#sets,
      deletes: this.#deletes,
      evictions: this.#evictions,
      expirations: this.#expirations,
      size: this.#lru.size,
      defaultTtl: this.#defaultTtl,
      oversize: this.#oversize,
    };
    if (this.#maxBytes !== undefined) {
      s.bytes = this.#lru.calculatedSize;
      s.maxBytes = this.#maxBytes;
    }
    if (this.#maxEntries !== undefined) s.maxEntries = this.#maxEntries;
    return s;
  }

  /** Drops every entry; further operations fail with CACHE_CLOSED. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#lru.clear();
  }

  #checkOpen(): void {
    if (this.#closed) throw cacheError(CacheErrorCode.CLOSED, 'memory cache is closed');
  }
}
