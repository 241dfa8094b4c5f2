export * from './types.js';
export { openLog } from './log.js';
export { plainCodec } from './codec.js';
export { defaultSnapshotPolicy, snapshotEvery, SNAPSHOT_EVERY_BYTES, SNAPSHOT_EVERY_ENTRIES } from './policy.js';
export { FORMAT_VERSION } from './format.js';
export { LOG_ERROR_CODES, type LogErrorCode } from './errors.js';
export { isValidStreamName, STREAM_NAME_RE } from './validate.js';
export { buildSnapshot } from './snapshots.js';
