/**
 * FallbackCache: a Redis-backed cache (RedisCache or TieredCache) that keeps serving
 * from memory while Redis is unreachable, and moves back when it returns.
 *
 * - An operation failing with CACHE_UNAVAILABLE switches to memory and is retried
 *   there: no outage error reaches the caller. Other errors (bad key, bad value, ...)
 *   still throw.
 * - In memory mode values go through JSON like they would through Redis (same
 *   validation, same copy semantics).
 * - While on memory, every key written or deleted, every pattern and every clear is
 *   journaled (bounded by journalLimit; beyond it the journal collapses into "clear").
 * - Probing: node-redis reconnects in the background with its backoff; in addition a
 *   probe (PING) runs with the `probe` backoff. Once Redis answers, the journal is
 *   replayed there (deletes, pattern invalidations or a clear) so Redis never serves a
 *   value older than one written or deleted during the outage; then the cache switches
 *   back and the memory copy is dropped.
 */
import { type BackoffPolicy, backoffDelay } from './backoff.js';
import { TypedEmitter } from '@profilesync/errors';
import { serializeJson } from './envelope.js';
import { CacheErrorCode } from './errors.js';
import { compileGlob } from './glob.js';
import type { MemoryCache } from './memory.js';
import type { RedisCache } from './redis.js';
import type { CacheInterface, CacheLogger, CacheStats, Clock, SetOptions } from './types.js';
import { systemClock } from './types.js';
import { validateValue } from './validate.js';

export type FallbackMode = 'primary' | 'fallback';

export interface FallbackCacheEvents {
  fallback: { reason: string; code: string };
  restored: { durationMillis: number; replayedKeys: number; replayedPatterns: number; cleared: boolean };
}

export interface FallbackCacheOptions<V> {
  name: string;
  /** the Redis connection whose health decides the mode */
  redis: RedisCache<V>;
  /** builds the primary once Redis is ready (the RedisCache itself, or a TieredCache on it) */
  makePrimary: (redis: RedisCache<V>) => Promise<CacheInterface<V>>;
  memory: MemoryCache<V>;
  probe: BackoffPolicy;
  journalLimit: number;
  logger: CacheLogger;
  clock?: Clock;
  random?: () => number;
}

interface Journal {
  keys: Set<string>;
  patterns: Set<string>;
  clear: boolean;
}

const emptyJournal = (): Journal => ({ keys: new Set(), patterns: new Set(), clear: false });

export function isOutage(err: unknown): boolean {
  return (err as { code?: string })?.code === CacheErrorCode.UNAVAILABLE;
}

export class FallbackCache<V = unknown> extends TypedEmitter<FallbackCacheEvents> implements CacheInterface<V> {
  readonly name: string;
  readonly #o: FallbackCacheOptions<V>;
  readonly #clock: Clock;
  #primary: CacheInterface<V> | undefined;
  #primaryPending: Promise<CacheInterface<V>> | undefined;
  #started = false;
  #mode: FallbackMode = 'fallback';
  #journal: Journal = emptyJournal();
  #since: number;
  #probeTimer: NodeJS.Timeout | undefined;
  #probeAttempt = 0;
  #probing = false;
  #closed = false;
  #fallbacks = 0;
  #restores = 0;
  #offReady: () => void;

  constructor(options: FallbackCacheOptions<V>) {
    super('@profilesync/cache');
    this.#o = options;
    this.name = options.name;
    this.#clock = options.clock ?? systemClock;
    this.#since = this.#clock.now();
    this.#offReady = options.redis.on('ready', () => void this.#probe());
  }

  /** Starts on Redis when it is ready within timeoutMs, else on memory (probing in the background). */
  async start(timeoutMs: number): Promise<void> {
    try {
      await this.#o.redis.whenReady(timeoutMs);
      await this.#ensurePrimary();
      this.#mode = 'primary';
    } catch (err) {
      this.#enterFallback(err);
    } finally {
      this.#started = true;
    }
  }

  /** Builds the primary once (single flight; a failed attempt can be retried). */
  async #ensurePrimary(): Promise<CacheInterface<V>> {
    if (this.#primary) return this.#primary;
    this.#primaryPending ??= this.#o.makePrimary(this.#o.redis).then(
      (p) => {
        this.#primary = p;
        return p;
      },
      (err: unknown) => {
        this.#primaryPending = undefined;
        throw err;
      },
    );
    return this.#primaryPending;
  }

  get mode(): FallbackMode {
    return this.#mode;
  }

  async get(key: string): Promise<V | undefined> {
    return this.#run((c) => c.get(key), (m) => m.get(key));
  }

  async set(key: string, value: V, options?: SetOptions): Promise<void> {
    return this.#run(
      (c) => c.set(key, value, options),
      (m) => {
        validateValue(value);
        const copy = JSON.parse(serializeJson(value)) as V;
        m.setSync(key, copy, options); // validates; journal only what was accepted, in the same tick
        this.#journalKey(key);
      },
    );
  }

  async delete(key: string): Promise<boolean> {
    return this.#run(
      (c) => c.delete(key),
      (m) => {
        const had = m.deleteSync(key);
        this.#journalKey(key);
        return had;
      },
    );
  }

  async exists(key: string): Promise<boolean> {
    return this.#run((c) => c.exists(key), (m) => m.exists(key));
  }

  async getTtl(key: string): Promise<number | null | undefined> {
    return this.#run((c) => c.getTtl(key), (m) => m.getTtl(key));
  }

  async clear(): Promise<void> {
    return this.#run(
      (c) => c.clear(),
      (m) => {
        this.#journal = { keys: new Set(), patterns: new Set(), clear: true };
        return m.clear();
      },
    );
  }

  async keys(pattern?: string): Promise<string[]> {
    return this.#run((c) => c.keys(pattern), (m) => m.keys(pattern));
  }

  async invalidatePattern(pattern: string): Promise<number> {
    return this.#run(
      (c) => c.invalidatePattern(pattern),
      (m) => {
        compileGlob(pattern); // throws CACHE_INVALID_PATTERN before anything is journaled
        const n = m.invalidatePattern(pattern);
        if (!this.#journal.clear) {
          this.#journal.patterns.add(pattern);
          this.#checkJournal();
        }
        return n;
      },
    );
  }

  async stats(): Promise<CacheStats> {
    const s = await this.#run((c) => c.stats(), (m) => m.stats());
    return {
      ...s,
      backend: this.#mode === 'primary' ? s.backend : `${s.backend}(fallback)`,
      fallback: {
        mode: this.#mode,
        /** ms in the current mode */
        forMillis: this.#clock.now() - this.#since,
        fallbacks: this.#fallbacks,
        restores: this.#restores,
        journal: { keys: this.#journal.keys.size, patterns: this.#journal.patterns.size, clear: this.#journal.clear },
      },
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#offReady();
    if (this.#probeTimer) clearTimeout(this.#probeTimer);
    await this.#o.memory.close();
    const primary = this.#primary ?? (await this.#primaryPending?.catch(() => undefined));
    if (primary) await primary.close();
    await this.#o.redis.close();
  }

  async #run<T>(viaPrimary: (c: CacheInterface<V>) => Promise<T>, viaMemory: (m: MemoryCache<V>) => T | Promise<T>): Promise<T> {
    if (this.#mode === 'primary' && this.#primary) {
      try {
        return await viaPrimary(this.#primary);
      } catch (err) {
        if (!isOutage(err) || this.#closed) throw err;
        this.#enterFallback(err);
      }
    }
    return viaMemory(this.#o.memory);
  }

  #journalKey(key: string): void {
    if (this.#journal.clear) return;
    this.#journal.keys.add(key);
    this.#checkJournal();
  }

  #checkJournal(): void {
    const j = this.#journal;
    if (j.keys.size + j.patterns.size > this.#o.journalLimit) this.#journal = { keys: new Set(), patterns: new Set(), clear: true };
  }

  #enterFallback(err: unknown): void {
    if (this.#mode === 'fallback' && this.#fallbacks > 0) return;
    this.#mode = 'fallback';
    this.#fallbacks++;
    this.#since = this.#clock.now();
    const code = (err as { code?: string })?.code ?? 'UNKNOWN';
    const reason = (err as Error)?.message ?? String(err);
    this.#o.logger.warn({ cache: this.name, code, err: reason }, 'cache backend unavailable; serving from memory');
    this.emit('fallback', { reason, code });
    this.#probeAttempt = 0;
    this.#scheduleProbe();
  }

  #scheduleProbe(): void {
    if (this.#closed || this.#probeTimer) return;
    const delay = backoffDelay(this.#probeAttempt++, this.#o.probe, this.#o.random);
    this.#probeTimer = setTimeout(() => {
      this.#probeTimer = undefined;
      void this.#probe();
    }, delay);
    this.#probeTimer.unref?.();
  }

  /** One probe: PING, build the primary if needed, replay the journal, switch back. */
  async #probe(): Promise<void> {
    if (this.#closed || !this.#started || this.#mode === 'primary' || this.#probing) return;
    this.#probing = true;
    try {
      await this.#o.redis.ping();
      const primary = await this.#ensurePrimary();
      let keys = 0;
      let patterns = 0;
      let cleared = false;
      for (;;) {
        const j = this.#journal;
        if (!j.clear && j.keys.size === 0 && j.patterns.size === 0) break;
        this.#journal = emptyJournal();
        try {
          if (j.clear) await primary.clear();
          else {
            for (const p of j.patterns) await primary.invalidatePattern(p);
            const list = [...j.keys];
            for (let i = 0; i < list.length; i += 256) await Promise.all(list.slice(i, i + 256).map((k) => primary.delete(k)));
          }
        } catch (err) {
          this.#merge(j);
          throw err;
        }
        keys += j.keys.size;
        patterns += j.patterns.size;
        cleared ||= j.clear;
      }
      // no await between the empty-journal check above and the switch
      this.#mode = 'primary';
      this.#restores++;
      const durationMillis = this.#clock.now() - this.#since;
      this.#since = this.#clock.now();
      if (this.#probeTimer) clearTimeout(this.#probeTimer);
      this.#probeTimer = undefined;
      void this.#o.memory.clear().catch(() => {});
      this.#o.logger.info({ cache: this.name, durationMillis, replayedKeys: keys, replayedPatterns: patterns, cleared }, 'cache backend restored; back on redis');
      this.emit('restored', { durationMillis, replayedKeys: keys, replayedPatterns: patterns, cleared });
    } catch {
      this.#scheduleProbe();
    } finally {
      this.#probing = false;
    }
  }

  #merge(j: Journal): void {
    const cur = this.#journal;
    if (j.clear || cur.clear) {
      this.#journal = { keys: new Set(), patterns: new Set(), clear: true };
      return;
    }
    for (const k of j.keys) cur.keys.add(k);
    for (const p of j.patterns) cur.patterns.add(p);
    this.#checkJournal();
  }
}
