/**
 * CacheRegistry: every cache of a process under a name, for GET /api/cache/stats,
 * POST /api/cache/clear[/:name] and /metrics. The server owns HTTP and prom-client;
 * this module only produces snapshots and plain metric samples.
 */
import { CacheErrorCode, cacheError } from './errors.js';
import type { CacheMonitor, MonitorSnapshot } from './monitor.js';
import type { CacheStats, CacheStatsSnapshot } from './types.js';

/** Anything with stats() and clear(): a CacheInterface, a ResponseCache, a ConversationCache, ... */
export interface RegistrableCache {
  stats(): Promise<CacheStats> | CacheStats;
  clear(): Promise<void> | void;
}

export interface MetricSample {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  labels: Record<string, string>;
  value: number;
}

export const CACHE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const r4 = (x: number): number => Math.round(x * 1e4) / 1e4;

/** The /api/cache/stats shape of one cache: ttl in seconds, hit_rate in 0..1. */
export function toSnapshot(name: string, s: CacheStats, monitor?: MonitorSnapshot): CacheStatsSnapshot {
  const lookups = s.hits + s.misses;
  const { backend, hits, misses, size, evictions, defaultTtl, bytes, maxBytes, sets, deletes, expirations, ...rest } = s;
  const snap: CacheStatsSnapshot = {
    name,
    hits,
    misses,
    size,
    hit_rate: lookups === 0 ? 0 : r4(hits / lookups),
    ttl: defaultTtl === null ? null : defaultTtl / 1000,
    ttl_ms: defaultTtl,
    evictions,
    backend,
    sets,
    deletes,
    expirations,
  };
  if (bytes !== undefined) snap.bytes = bytes;
  if (maxBytes !== undefined) snap.maxBytes = maxBytes;
  if (monitor) {
    snap.ops_per_sec = r4(monitor.opsPerSec);
    const latency: Record<string, { p50: number; p95: number; p99: number; count: number }> = {};
    for (const [op, l] of Object.entries(monitor.ops)) latency[op] = { p50: l.p50, p95: l.p95, p99: l.p99, count: l.count };
    snap.latency_ms = latency;
    snap.compression_ratio = monitor.compression.ratio === null ? null : r4(monitor.compression.ratio);
    snap.size_tiers = monitor.tiers;
    snap.errors = monitor.errors;
  }
  if (Object.keys(rest).length > 0) snap.details = rest;
  return snap;
}

interface Entry {
  cache: RegistrableCache;
  monitor: CacheMonitor | undefined;
}

export class CacheRegistry {
  #caches = new Map<string, Entry>();

  /** Registers a cache; returns the function that unregisters it. */
  register(name: string, cache: RegistrableCache, options: { monitor?: CacheMonitor } = {}): () => void {
    if (typeof name !== 'string' || !CACHE_NAME_RE.test(name)) {
      throw cacheError(CacheErrorCode.INVALID_CONFIG, `cache name must match ${CACHE_NAME_RE}`, { field: 'name', name: String(name) });
    }
    if (typeof cache?.stats !== 'function' || typeof cache?.clear !== 'function') {
      throw cacheError(CacheErrorCode.INVALID_CONFIG, `cache ${name} must have stats() and clear()`, { field: 'cache', name });
    }
    if (this.#caches.has(name)) {
      throw cacheError(CacheErrorCode.ALREADY_REGISTERED, `a cache named ${name} is already registered`, { name });
    }
    const entry = { cache, monitor: options.monitor };
    this.#caches.set(name, entry);
    return () => {
      if (this.#caches.get(name) === entry) this.#caches.delete(name);
    };
  }

  unregister(name: string): boolean {
    return this.#caches.delete(name);
  }

  names(): string[] {
    return [...this.#caches.keys()].sort();
  }

  get(name: string): RegistrableCache {
    const e = this.#caches.get(name);
    if (!e) throw cacheError(CacheErrorCode.NOT_FOUND, `no cache named ${name}`, { name });
    return e.cache;
  }

  /** One snapshot per cache, sorted by name. A cache whose stats fail is listed with `error` (code) and zeros. */
  async stats(): Promise<CacheStatsSnapshot[]> {
    return Promise.all(
      this.names().map(async (name) => {
        const e = this.#caches.get(name) as Entry;
        try {
          return toSnapshot(name, await e.cache.stats(), e.monitor?.snapshot());
        } catch (err) {
          const code = (err as { code?: string })?.code ?? 'INTERNAL';
          return { name, hits: 0, misses: 0, size: 0, hit_rate: 0, ttl: null, evictions: 0, error: code };
        }
      }),
    );
  }

  /** Clears one cache (CACHE_NOT_FOUND when unknown) or all; returns the names cleared. */
  async clear(name?: string): Promise<string[]> {
    if (name !== undefined) {
      await this.get(name).clear();
      return [name];
    }
    const names = this.names();
    await Promise.all(names.map((n) => (this.#caches.get(n) as Entry).cache.clear()));
    return names;
  }

  /** Plain metric samples for the server's /metrics (it owns prom-client). */
  async metrics(): Promise<MetricSample[]> {
    const out: MetricSample[] = [];
    const add = (name: string, type: MetricSample['type'], help: string, labels: Record<string, string>, value: number | undefined): void => {
      if (value !== undefined && Number.isFinite(value)) out.push({ name, help, type, labels, value });
    };
    for (const snap of await this.stats()) {
      const l = { cache: snap.name };
      add('profilesync_cache_up', 'gauge', '1 when the cache answered its stats, else 0', l, snap.error === undefined ? 1 : 0);
      if (snap.error !== undefined) continue;
      add('profilesync_cache_hits_total', 'counter', 'cache lookups that found a value', l, snap.hits);
      add('profilesync_cache_misses_total', 'counter', 'cache lookups that found nothing', l, snap.misses);
      add('profilesync_cache_sets_total', 'counter', 'values written', l, snap.sets as number | undefined);
      add('profilesync_cache_evictions_total', 'counter', 'entries evicted by the size bound', l, snap.evictions);
      add('profilesync_cache_expirations_total', 'counter', 'entries dropped by their ttl', l, snap.expirations as number | undefined);
      add('profilesync_cache_entries', 'gauge', 'entries currently held', l, snap.size);
      add('profilesync_cache_bytes', 'gauge', 'bytes currently held (bounded caches)', l, snap.bytes);
      add('profilesync_cache_hit_ratio', 'gauge', 'hits / lookups since start', l, snap.hit_rate);
      const fb = (snap.details as { fallback?: { mode?: string } } | undefined)?.fallback;
      if (fb) add('profilesync_cache_fallback_active', 'gauge', '1 while serving from memory because Redis is down', l, fb.mode === 'fallback' ? 1 : 0);
      if (snap.compression_ratio !== undefined && snap.compression_ratio !== null) {
        add('profilesync_cache_compression_ratio', 'gauge', 'stored bytes / raw JSON bytes of values written', l, snap.compression_ratio as number);
      }
      const lat = snap.latency_ms as Record<string, { p50: number; p95: number; p99: number; count: number }> | undefined;
      for (const [op, q] of Object.entries(lat ?? {})) {
        add('profilesync_cache_operations_total', 'counter', 'cache operations by kind', { ...l, op }, q.count);
        for (const [quantile, v] of [['0.5', q.p50], ['0.95', q.p95], ['0.99', q.p99]] as const) {
          add('profilesync_cache_operation_latency_ms', 'gauge', 'recent operation latency quantiles (ms)', { ...l, op, quantile }, v);
        }
      }
    }
    return out;
  }
}
