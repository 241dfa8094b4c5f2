/**
 * Reconnect / probe backoff: a small pure policy, tested alone. Used as node-redis'
 * reconnectStrategy (RedisCache) and for the fallback probe (createCache).
 *
 *   delay(attempt) = min(maxMs, baseMs * 2^attempt), then with jitter j in [0, 1]:
 *   delay * (1 - j * random())   (random() injected; default jitter 0.2)
 */
import { optNonNegInt, optObject, optPositiveInt } from './validate.js';
import { CacheErrorCode, cacheError } from './errors.js';

export interface BackoffPolicy {
  /** first delay in ms (default 50) */
  baseMs: number;
  /** cap in ms (default 5000) */
  maxMs: number;
  /** fraction of the delay removed at random, 0..1 (default 0.2; 0 = deterministic) */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 50, maxMs: 5000, jitter: 0.2 };

export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const exp = Math.min(Math.max(0, Math.floor(attempt)), 30);
  const capped = Math.min(policy.maxMs, policy.baseMs * 2 ** exp);
  const r = Math.min(1, Math.max(0, random()));
  return Math.max(0, Math.round(capped * (1 - policy.jitter * r)));
}

/** Validates a partial policy (CACHE_INVALID_CONFIG) and fills defaults. */
export function backoffPolicy(field: string, input: unknown): BackoffPolicy {
  const o = optObject(field, input) as Partial<BackoffPolicy>;
  const baseMs = optNonNegInt(`${field}.baseMs`, o.baseMs, DEFAULT_BACKOFF.baseMs, 3_600_000);
  const maxMs = optPositiveInt(`${field}.maxMs`, o.maxMs, Math.max(baseMs, DEFAULT_BACKOFF.maxMs), 3_600_000);
  if (maxMs < baseMs) {
    throw cacheError(CacheErrorCode.INVALID_CONFIG, `${field}.maxMs must be >= baseMs`, { field: `${field}.maxMs` });
  }
  const jitter = o.jitter ?? DEFAULT_BACKOFF.jitter;
  if (typeof jitter !== 'number' || !(jitter >= 0 && jitter <= 1)) {
    throw cacheError(CacheErrorCode.INVALID_CONFIG, `${field}.jitter must be in 0..1`, { field: `${field}.jitter` });
  }
  return { baseMs, maxMs, jitter };
}
