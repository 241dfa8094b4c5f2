export * from './errors.js';
export * from './types.js';
export { validateKey, DEFAULT_MAX_KEY_LENGTH } from './validate.js';
export { compileGlob, escapeGlob, type CompiledGlob } from './glob.js';
export { TypedEmitter, type Listener } from '@profilesync/errors';
export * from './monitor.js';
export { MemoryCache, estimateSize, type MemoryCacheOptions } from './memory.js';
export { backoffDelay, backoffPolicy, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.js';
export {
  encodeEnvelope,
  decodeEnvelope,
  decodeEnvelopeAsync,
  serializeJson,
  shouldCompress,
  ENVELOPE_MAGIC,
  ENVELOPE_VERSION,
  ENCODING_JSON,
  ENCODING_ZLIB,
  HEADER_BYTES,
  type EnvelopeOptions,
  type Encoded,
} from './envelope.js';
export { RedisConnection, toCacheError, redact, type RedisConnectionEvents } from './redis-connection.js';
export { RedisCache, DEFAULT_PREFIX, type RedisCacheOptions, type RedisCacheEvents, type RedisSubscription } from './redis.js';
export {
  TieredCache,
  parseInvalidation,
  type TieredCacheOptions,
  type TieredCacheEvents,
  type InvalidationMessage,
} from './tiered.js';
export { FallbackCache, isOutage, type FallbackCacheOptions, type FallbackCacheEvents, type FallbackMode } from './fallback.js';
export { createCache, resolveCacheConfig, CACHE_ENV, type CacheConfig, type CacheBackend } from './factory.js';
export {
  ResponseKeyGenerator,
  canonicalJson,
  escapeComponent,
  sha256Hex,
  PROFILE_ID_RE,
  type ResponseRequest,
  type ResponseKeyGeneratorOptions,
} from './response-keys.js';
export { ResponseCache, DEFAULT_OPERATION_TTLS, type ResponseCacheOptions } from './response.js';
export {
  ConversationCache,
  conversationKey,
  SEVEN_DAYS_MS,
  type ConversationEntry,
  type ConversationCacheOptions,
  type ValidationLayer,
} from './conversation.js';
export { CacheRegistry, toSnapshot, CACHE_NAME_RE, type RegistrableCache, type MetricSample } from './registry.js';
