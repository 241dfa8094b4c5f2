/**
 * Validation at the edge: public methods call these once, primitives trust their input.
 */
import { CacheErrorCode, cacheError } from './errors.js';

export const DEFAULT_MAX_KEY_LENGTH = 1024;

// C0 controls, DEL and C1 controls.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

export function hasControlChars(s: string): boolean {
  return CONTROL.test(s);
}

/** Throws CACHE_INVALID_KEY unless `key` is a non-empty string of at most maxLength chars without control chars. */
export function validateKey(key: unknown, maxLength = DEFAULT_MAX_KEY_LENGTH): asserts key is string {
  if (typeof key !== 'string') {
    throw cacheError(CacheErrorCode.INVALID_KEY, `cache key must be a string, got ${typeof key}`, { rule: 'type' });
  }
  if (key.length === 0) throw cacheError(CacheErrorCode.INVALID_KEY, 'cache key must not be empty', { rule: 'empty' });
  if (key.length > maxLength) {
    throw cacheError(CacheErrorCode.INVALID_KEY, `cache key is ${key.length} chars; the limit is ${maxLength}`, {
      rule: 'length',
      limit: maxLength,
    });
  }
  if (CONTROL.test(key)) {
    throw cacheError(CacheErrorCode.INVALID_KEY, 'cache key must not contain control characters', { rule: 'control' });
  }
}

/**
 * Resolves the ttl of one set: the per-call ttl when given (validated), else the default.
 * Returns undefined for "no expiry".
 */
export function resolveTtl(ttl: unknown, defaultTtl: number | null): number | undefined {
  if (ttl === undefined) return defaultTtl ?? undefined;
  if (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl <= 0) {
    throw cacheError(CacheErrorCode.INVALID_TTL, `ttl must be a positive finite number of ms, got ${String(ttl)}`, {
      field: 'ttl',
    });
  }
  return ttl;
}

export function validateSetOptions(options: unknown): { ttl?: unknown } {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw cacheError(CacheErrorCode.INVALID_TTL, 'set options must be an object like { ttl: 60000 }', { field: 'options' });
  }
  return options as { ttl?: unknown };
}

export function validateValue(value: unknown): void {
  if (value === undefined) {
    throw cacheError(CacheErrorCode.INVALID_VALUE, 'cache value must not be undefined (undefined means a miss)', {
      field: 'value',
    });
  }
}

// ---- configuration helpers (CACHE_INVALID_CONFIG) ----

export function configError(field: string, message: string): Error {
  return cacheError(CacheErrorCode.INVALID_CONFIG, `${field}: ${message}`, { field });
}

export function optPositiveInt(field: string, v: unknown, dflt: number, max = Number.MAX_SAFE_INTEGER): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0 || v > max) {
    throw configError(field, `must be an integer in 1..${max}, got ${String(v)}`);
  }
  return v;
}

export function optNonNegInt(field: string, v: unknown, dflt: number, max = Number.MAX_SAFE_INTEGER): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) {
    throw configError(field, `must be an integer in 0..${max}, got ${String(v)}`);
  }
  return v;
}

/** A default ttl: undefined -> dflt, null -> no expiry, else positive finite ms. */
export function optTtl(field: string, v: unknown, dflt: number | null): number | null {
  if (v === undefined) return dflt;
  if (v === null) return null;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw configError(field, `must be a positive number of ms or null, got ${String(v)}`);
  }
  return v;
}

export function optObject(field: string, v: unknown): Record<string, unknown> {
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw configError(field, 'must be an object');
  return v as Record<string, unknown>;
}
