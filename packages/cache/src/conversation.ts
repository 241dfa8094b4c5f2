/**
 * ConversationCache: per (conversation, model) state such as a provider's signature
 * token, with created time and request count. LRU + TTL (default 7 days).
 *
 * Entries live in a CacheInterface store (default: a MemoryCache of maxEntries, which
 * gives the LRU) under `conv:<conversationId>:<modelId>` (ids percent-escaped). A read
 * validates the stored entry in four layers, in order:
 *
 *   1 format        an object { value, createdAt, requestCount, conversationId, modelId }
 *                   with the right types, and `value` accepted by validateValue
 *   2 ttl           now - createdAt <= ttl (and createdAt not in the future beyond maxSkew);
 *                   like lru-cache and Redis, an entry is expired once MORE than ttl ms passed
 *   3 conversation  entry.conversationId === the requested one
 *   4 model         entry.modelId === the requested one
 *
 * A failed layer is a miss: the entry is deleted and invalid[layer] is counted.
 * Layers 3-4 catch entries that reached the wrong key (a shared or external store, a bug).
 */
import { CacheErrorCode, cacheError } from './errors.js';
import { escapeComponent } from './response-keys.js';
import { MemoryCache } from './memory.js';
import type { CacheInterface, CacheStats, Clock } from './types.js';
import { wallClock } from './types.js';
import { hasControlChars, optPositiveInt, optTtl } from './validate.js';

export interface ConversationEntry<T = string> {
  value: T;
  /** ms since the epoch (from the injected clock) */
  createdAt: number;
  /** reads served from this entry */
  requestCount: number;
  conversationId: string;
  modelId: string;
}

export type ValidationLayer = 'format' | 'ttl' | 'conversation' | 'model';

export interface ConversationCacheOptions<T> {
  /** where entries live (default: a MemoryCache bounded by maxEntries, sharing the clock) */
  store?: CacheInterface<unknown>;
  /** LRU bound of the default store (default 1000) */
  maxEntries?: number;
  /** entry lifetime in ms (default 7 days) */
  ttl?: number;
  /** ms since the epoch (default Date.now) */
  clock?: Clock;
  /** format check of `value` (default: a non-empty string of at most 64 KiB) */
  validateValue?: (value: unknown) => value is T;
  /** tolerated clock skew for createdAt in the future (default 60 s) */
  maxSkewMs?: number;
}

export const SEVEN_DAYS_MS = 7 * 24 * 3600_000;

const defaultValidate = (v: unknown): v is never => typeof v === 'string' && v.length > 0 && v.length <= 65_536;

function checkId(field: string, id: unknown): asserts id is string {
  if (typeof id !== 'string' || id.length === 0 || id.length > 256 || hasControlChars(id)) {
    throw cacheError(CacheErrorCode.INVALID_REQUEST, `${field}: a non-empty string of at most 256 chars without control characters`, { field });
  }
}

export function conversationKey(conversationId: string, modelId: string): string {
  return `conv:${escapeComponent(conversationId)}:${escapeComponent(modelId)}`;
}

export class ConversationCache<T = string> {
  readonly #store: CacheInterface<unknown>;
  readonly #ownStore: MemoryCache | undefined;
  readonly #ttl: number;
  readonly #clock: Clock;
  readonly #validate: (v: unknown) => v is T;
  readonly #maxSkew: number;
  #hits = 0;
  #misses = 0;
  #sets = 0;
  #invalid: Record<ValidationLayer, number> = { format: 0, ttl: 0, conversation: 0, model: 0 };
  #cleaned = 0;

  constructor(options: ConversationCacheOptions<T> = {}) {
    this.#clock = options.clock ?? wallClock;
    const ttl = optTtl('conversation.ttl', options.ttl, SEVEN_DAYS_MS);
    if (ttl === null) throw cacheError(CacheErrorCode.INVALID_CONFIG, 'conversation.ttl: must be a positive number of ms', { field: 'conversation.ttl' });
    this.#ttl = ttl;
    this.#maxSkew = options.maxSkewMs ?? 60_000;
    this.#validate = (options.validateValue ?? defaultValidate) as (v: unknown) => v is T;
    if (options.store) {
      this.#store = options.store;
    } else {
      this.#ownStore = new MemoryCache({ maxEntries: optPositiveInt('conversation.maxEntries', options.maxEntries, 1000), clock: this.#clock });
      this.#store = this.#ownStore;
    }
  }

  /** Stores (or replaces) the entry; createdAt = now, requestCount = 0. */
  async put(conversationId: string, modelId: string, value: T): Promise<ConversationEntry<T>> {
    checkId('conversationId', conversationId);
    checkId('modelId', modelId);
    if (!this.#validate(value)) {
      throw cacheError(CacheErrorCode.INVALID_VALUE, 'conversation value rejected by validateValue', { field: 'value' });
    }
    const entry: ConversationEntry<T> = { value, createdAt: this.#clock.now(), requestCount: 0, conversationId, modelId };
    await this.#store.set(conversationKey(conversationId, modelId), entry, { ttl: this.#ttl });
    this.#sets++;
    return { ...entry };
  }

  /** The valid entry (requestCount already incremented for this read), or undefined. */
  async get(conversationId: string, modelId: string): Promise<ConversationEntry<T> | undefined> {
    checkId('conversationId', conversationId);
    checkId('modelId', modelId);
    const key = conversationKey(conversationId, modelId);
    const raw = await this.#store.get(key);
    if (raw === undefined) {
      this.#misses++;
      return undefined;
    }
    const failed = this.validationFailure(raw, conversationId, modelId);
    if (failed !== undefined) {
      this.#invalid[failed]++;
      this.#misses++;
      await this.#store.delete(key);
      return undefined;
    }
    const e = raw as ConversationEntry<T>;
    const next: ConversationEntry<T> = { ...e, requestCount: e.requestCount + 1 };
    const left = e.createdAt + this.#ttl - this.#clock.now();
    await this.#store.set(key, next, { ttl: Math.max(1, left) });
    this.#hits++;
    return { ...next };
  }

  async delete(conversationId: string, modelId: string): Promise<boolean> {
    checkId('conversationId', conversationId);
    checkId('modelId', modelId);
    return this.#store.delete(conversationKey(conversationId, modelId));
  }

  /** The first failing layer for a stored entry, or undefined when it is valid (pure; exported for tests). */
  validationFailure(raw: unknown, conversationId: string, modelId: string): ValidationLayer | undefined {
    if (typeof raw !== 'object' || raw === null) return 'format';
    const e = raw as Partial<ConversationEntry<unknown>>;
    if (
      typeof e.conversationId !== 'string' ||
      typeof e.modelId !== 'string' ||
      typeof e.createdAt !== 'number' ||
      !Number.isFinite(e.createdAt) ||
      typeof e.requestCount !== 'number' ||
      !Number.isSafeInteger(e.requestCount) ||
      e.requestCount < 0 ||
      !this.#validate(e.value)
    ) {
      return 'format';
    }
    const now = this.#clock.now();
    if (now - e.createdAt > this.#ttl || e.createdAt > now + this.#maxSkew) return 'ttl';
    if (e.conversationId !== conversationId) return 'conversation';
    if (e.modelId !== modelId) return 'model';
    return undefined;
  }

  /** Removes expired (and unreadable) entries now; returns how many were removed. */
  async cleanupExpired(): Promise<number> {
    // a MemoryCache store drops expired entries lazily: purge (and count) them first
    let removed = this.#store instanceof MemoryCache ? this.#store.purgeExpired() : 0;
    const now = this.#clock.now();
    for (const key of await this.#store.keys('conv:*')) {
      const raw = (await this.#store.get(key)) as Partial<ConversationEntry<unknown>> | undefined;
      if (raw === undefined) continue;
      const expired =
        typeof raw !== 'object' || raw === null || typeof raw.createdAt !== 'number' || !(now - raw.createdAt <= this.#ttl);
      if (expired && (await this.#store.delete(key))) removed++;
    }
    this.#cleaned += removed;
    return removed;
  }

  async clear(): Promise<void> {
    await this.#store.invalidatePattern('conv:*');
  }

  async stats(): Promise<CacheStats> {
    const s = await this.#store.stats();
    const corrupt = this.#invalid.format + this.#invalid.conversation + this.#invalid.model;
    const lookups = this.#hits + this.#misses;
    return {
      backend: `conversation(${s.backend})`,
      hits: this.#hits,
      misses: this.#misses,
      sets: this.#sets,
      deletes: s.deletes,
      evictions: s.evictions,
      expirations: s.expirations,
      size: this.#ownStore ? s.size : (await this.#store.keys('conv:*')).length,
      defaultTtl: this.#ttl,
      invalid: { ...this.#invalid },
      corruptions: corrupt,
      corruption_rate: lookups === 0 ? 0 : corrupt / lookups,
      cleaned: this.#cleaned,
    };
  }

  async close(): Promise<void> {
    if (this.#ownStore) await this.#ownStore.close();
  }
}
