/**
 * The cache port. Small on purpose (like automerge-repo's StorageAdapterInterface):
 * every backend (memory, Redis, tiered, fallback) implements exactly this, and one
 * contract suite (test/contract.ts) runs against each of them.
 *
 * Units: every duration is in milliseconds. Keys are strings (validated: non-empty,
 * at most `maxKeyLength` characters, no control characters). Patterns are globs
 * (see glob.ts): `*`, `?`, `[abc]`, `[a-z]`, `[!a]` / `[^a]`, `\` escapes.
 */

export interface SetOptions {
  /** time to live in ms (positive, finite); omitted = the cache's default ttl (maybe none) */
  ttl?: number;
}

export interface CacheInterface<V = unknown> {
  /** The value, or undefined on a miss (absent or expired). */
  get(key: string): Promise<V | undefined>;
  set(key: string, value: V, options?: SetOptions): Promise<void>;
  /** true when the key existed. */
  delete(key: string): Promise<boolean>;
  exists(key: string): Promise<boolean>;
  /** Remaining ttl in ms; null when the key never expires; undefined when the key is absent. */
  getTtl(key: string): Promise<number | null | undefined>;
  /** Removes every entry of this cache (only this cache's prefix for Redis). */
  clear(): Promise<void>;
  /** Keys matching the glob pattern (default '*'), unordered. */
  keys(pattern?: string): Promise<string[]>;
  /** Deletes every key matching the pattern; returns how many were deleted. */
  invalidatePattern(pattern: string): Promise<number>;
  stats(): Promise<CacheStats>;
  /** Releases connections, timers and entries held in process. Further calls fail with CACHE_CLOSED. Idempotent. */
  close(): Promise<void>;
}

/** Per-cache counters. Backends add their own fields (compression, l1/l2, fallback, ...). */
export interface CacheStats {
  backend: string;
  hits: number;
  misses: number;
  sets: number;
  deletes: number;
  evictions: number;
  expirations: number;
  /** entries currently held (Redis: keys under the prefix, counted with SCAN) */
  size: number;
  /** default ttl in ms, null when entries never expire by default */
  defaultTtl: number | null;
  bytes?: number;
  maxBytes?: number;
  maxEntries?: number;
  [extra: string]: unknown;
}

/**
 * Stats of one cache in the shape GET /api/cache/stats returns. Structurally identical
 * to CacheStatsSnapshot in @profilesync/core (types.ts); a type test pins that.
 * `ttl` is the default ttl in SECONDS (null = none), `hit_rate` is hits / (hits + misses)
 * in 0..1 (0 before the first lookup).
 */
export interface CacheStatsSnapshot {
  name: string;
  hits: number;
  misses: number;
  size: number;
  hit_rate: number;
  ttl: number | null;
  evictions: number;
  bytes?: number;
  maxBytes?: number;
  [extra: string]: unknown;
}

/** Time source in ms. Inject one in tests; default is performance.now (monotonic). */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => performance.now() };

/** Wall-clock time source in ms since the epoch (for createdAt stamps). */
export const wallClock: Clock = { now: () => Date.now() };

/** pino-compatible subset: (mergingObject, message). */
export interface CacheLogger {
  debug(obj: Record<string, unknown>, msg: string): void;
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

export const silentLogger: CacheLogger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};
