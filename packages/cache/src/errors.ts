/**
 * Error codes of @profilesync/cache. Every failure a caller can act on is a
 * ProfileSyncError with one of these stable codes (README.md has the table).
 */
import { ProfileSyncError } from '@profilesync/errors';

export const CacheErrorCode = {
  /** Redis cannot be reached (refused, closed socket, offline while reconnecting, timeout). */
  UNAVAILABLE: 'CACHE_UNAVAILABLE',
  /** Redis answered a command with an error reply (OOM, WRONGTYPE, NOAUTH, ...). */
  COMMAND_FAILED: 'CACHE_COMMAND_FAILED',
  /** The cache was closed; it accepts no more operations. */
  CLOSED: 'CACHE_CLOSED',
  /** A key is not a non-empty string within the length limit, or holds control characters. */
  INVALID_KEY: 'CACHE_INVALID_KEY',
  /** A glob pattern is empty, malformed (unclosed `[`, trailing `\`) or holds control characters. */
  INVALID_PATTERN: 'CACHE_INVALID_PATTERN',
  /** A ttl is not a positive finite number of milliseconds. */
  INVALID_TTL: 'CACHE_INVALID_TTL',
  /** A value is `undefined` (which would be indistinguishable from a miss). */
  INVALID_VALUE: 'CACHE_INVALID_VALUE',
  /** A value cannot be stored as JSON (BigInt, cycle, function, symbol, NaN/Infinity, Map/Set, typed array). */
  SERIALIZATION_FAILED: 'CACHE_SERIALIZATION_FAILED',
  /** A serialized value is larger than the configured maxValueBytes. */
  VALUE_TOO_LARGE: 'CACHE_VALUE_TOO_LARGE',
  /** A stored entry cannot be decoded (unknown marker/version, bad zlib stream, bad JSON). */
  CORRUPT_ENTRY: 'CACHE_CORRUPT_ENTRY',
  /** A configuration value (options object or environment variable) is invalid. */
  INVALID_CONFIG: 'CACHE_INVALID_CONFIG',
  /** A registry lookup names a cache that is not registered. */
  NOT_FOUND: 'CACHE_NOT_FOUND',
  /** A registry name is already taken. */
  ALREADY_REGISTERED: 'CACHE_ALREADY_REGISTERED',
  /** A ResponseCache / ConversationCache request field is invalid (profile id, version, operation, ids). */
  INVALID_REQUEST: 'CACHE_INVALID_REQUEST',
} as const;

export type CacheErrorCode = (typeof CacheErrorCode)[keyof typeof CacheErrorCode];

export function cacheError(
  code: CacheErrorCode,
  message: string,
  details?: Record<string, unknown>,
  cause?: unknown,
): ProfileSyncError {
  const opts: { details?: Record<string, unknown>; cause?: unknown } = {};
  if (details !== undefined) opts.details = details;
  if (cause !== undefined) opts.cause = cause;
  return new ProfileSyncError(code, message, opts);
}
