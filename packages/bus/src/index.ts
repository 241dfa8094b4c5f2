export { START_CURSOR, MEMBER_ID_RE, CHANNEL_RE, MAX_PAYLOAD_BYTES, type Bus, type BusEntry, type BusEvents, type Cursor, type GapReason, type MemberRecord, type ReadOptions, type ShardBatch } from './types.js';
export { BusErrorCode, busError } from './errors.js';
export { comparePositions, parsePosition } from './validate.js';
export { MemoryBus, MemoryBusServer, NO_FAULTS, type MemoryBusFaults, type MemoryBusServerOptions } from './memory.js';
export { RedisStreamsBus, DEFAULT_SHARDS, DEFAULT_PREFIX, redactUrl, type RedisBusOptions, type BusLogger } from './redis.js';
