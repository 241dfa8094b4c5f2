import { ProfileSyncError } from '@profilesync/errors';

/** Every error code the sync package raises itself (API misuse and protocol failures). */
export const SyncErrorCode = {
  INVALID_ARGUMENT: 'SYNC_INVALID_ARGUMENT',
  PEER_EXISTS: 'SYNC_PEER_EXISTS',
  PEER_NOT_FOUND: 'SYNC_PEER_NOT_FOUND',
  CLOSED: 'SYNC_CLOSED',
  TIMEOUT: 'SYNC_TIMEOUT',
  NOT_CONNECTED: 'SYNC_NOT_CONNECTED',
  BAD_MESSAGE: 'SYNC_BAD_MESSAGE',
  BAD_UPDATE: 'SYNC_BAD_UPDATE',
  MESSAGE_TOO_LARGE: 'SYNC_MESSAGE_TOO_LARGE',
  HANDSHAKE_TIMEOUT: 'SYNC_HANDSHAKE_TIMEOUT',
  PROTOCOL_UNSUPPORTED: 'SYNC_PROTOCOL_UNSUPPORTED',
  DUPLICATE_CONNECTION: 'SYNC_DUPLICATE_CONNECTION',
  PEER_REMOVED: 'SYNC_PEER_REMOVED',
  BUSY: 'SYNC_BUSY',
  PING_TIMEOUT: 'SYNC_PING_TIMEOUT',
  CONNECTION_LOST: 'SYNC_CONNECTION_LOST',
  INTERNAL: 'SYNC_INTERNAL',
  YJS_BAD_MESSAGE: 'YJS_BAD_MESSAGE',
  YJS_SLOW_CONSUMER: 'YJS_SLOW_CONSUMER',
  YJS_AUTH_TIMEOUT: 'YJS_AUTH_TIMEOUT',
  FLEET_INVALID_KEY: 'SYNC_FLEET_INVALID_KEY',
  FLEET_KEY_MISMATCH: 'SYNC_FLEET_KEY_MISMATCH',
  FLEET_BAD_ENTRY: 'SYNC_FLEET_BAD_ENTRY',
} as const;

export type SyncErrorCode = (typeof SyncErrorCode)[keyof typeof SyncErrorCode];

export function syncError(code: SyncErrorCode, message: string, details?: Record<string, unknown>, cause?: unknown): ProfileSyncError {
  const opts: { details?: Record<string, unknown>; cause?: unknown } = {};
  if (details !== undefined) opts.details = details;
  if (cause !== undefined) opts.cause = cause;
  return new ProfileSyncError(code, message, opts);
}

export function codeOf(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof (err as { code: unknown }).code === 'string') {
    return (err as { code: string }).code;
  }
  return SyncErrorCode.INTERNAL;
}

/**
 * WebSocket close codes. 4400-4499 mirror HTTP 4xx: the other side made a decision that a
 * plain reconnect does not fix (y-websocket clients stop reconnecting on them); 4500-4599 are
 * transient. The close reason text is always the stable error code (e.g. CRYPTO_DECRYPT_FAILED).
 */
export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  BAD_MESSAGE: 4400,
  UNAUTHORIZED: 4401,
  FORBIDDEN: 4403,
  NOT_FOUND: 4404,
  FRAME_REJECTED: 4406,
  HANDSHAKE_TIMEOUT: 4408,
  DUPLICATE: 4409,
  GONE: 4410,
  TOO_LARGE: 4413,
  UNPROCESSABLE: 4422,
  VERSION: 4426,
  BUSY: 4429,
  INTERNAL: 4500,
  SLOW_CONSUMER: 4529,
} as const;

const BY_CODE: Record<string, number> = {
  // peer protocol
  SYNC_BAD_MESSAGE: CloseCode.BAD_MESSAGE,
  PROFILE_INVALID_ID: CloseCode.BAD_MESSAGE,
  SYNC_BAD_UPDATE: CloseCode.UNPROCESSABLE,
  PROFILE_BAD_UPDATE: CloseCode.UNPROCESSABLE,
  SYNC_MESSAGE_TOO_LARGE: CloseCode.TOO_LARGE,
  SYNC_HANDSHAKE_TIMEOUT: CloseCode.HANDSHAKE_TIMEOUT,
  SYNC_PROTOCOL_UNSUPPORTED: CloseCode.VERSION,
  SYNC_DUPLICATE_CONNECTION: CloseCode.DUPLICATE,
  SYNC_PEER_REMOVED: CloseCode.GONE,
  SYNC_BUSY: CloseCode.BUSY,
  SYNC_PING_TIMEOUT: CloseCode.INTERNAL,
  SYNC_INTERNAL: CloseCode.INTERNAL,
  // handshake and frames (codes from @profilesync/crypto)
  CRYPTO_PEER_UNKNOWN: CloseCode.FORBIDDEN,
  CRYPTO_NETWORK_MISMATCH: CloseCode.UNAUTHORIZED,
  CRYPTO_HANDSHAKE_FAILED: CloseCode.UNAUTHORIZED,
  CRYPTO_HANDSHAKE_REPLAY: CloseCode.UNAUTHORIZED,
  CRYPTO_VERSION_MISMATCH: CloseCode.VERSION,
  CRYPTO_DECRYPT_FAILED: CloseCode.FRAME_REJECTED,
  CRYPTO_FRAME_REPLAY: CloseCode.FRAME_REJECTED,
  CRYPTO_FRAME_REORDER: CloseCode.FRAME_REJECTED,
  CRYPTO_FRAME_TRUNCATED: CloseCode.FRAME_REJECTED,
  CRYPTO_FRAME_MALFORMED: CloseCode.FRAME_REJECTED,
  CRYPTO_FRAME_TOO_LARGE: CloseCode.FRAME_REJECTED,
  CRYPTO_SESSION_CLOSED: CloseCode.FRAME_REJECTED,
  // y-websocket endpoint
  YJS_BAD_MESSAGE: CloseCode.BAD_MESSAGE,
  AUTH_UNAUTHORIZED: CloseCode.UNAUTHORIZED,
  YJS_AUTH_TIMEOUT: CloseCode.UNAUTHORIZED,
  AUTH_FORBIDDEN: CloseCode.FORBIDDEN,
  PROFILE_NOT_FOUND: CloseCode.NOT_FOUND,
  PROFILE_DELETED: CloseCode.GONE,
  PROFILE_TOO_LARGE: CloseCode.TOO_LARGE,
  PROFILE_INVALID: CloseCode.UNPROCESSABLE,
  PROFILE_READONLY_FIELD: CloseCode.UNPROCESSABLE,
  YJS_SLOW_CONSUMER: CloseCode.SLOW_CONSUMER,
  // the server's live-connection registry: a token over tokens.max_connections
  TOKEN_TOO_MANY_CONNECTIONS: CloseCode.BUSY,
};

/** The WebSocket close code for an error code (pure; unknown codes are internal errors). */
export function closeCodeFor(code: string): number {
  return BY_CODE[code] ?? CloseCode.INTERNAL;
}
