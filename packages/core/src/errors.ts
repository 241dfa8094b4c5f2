import { ProfileSyncError } from '@profilesync/errors';

/** Every error code core raises. Stable: tests and the HTTP layer depend on them. */
export const CoreErrorCode = {
  INVALID: 'PROFILE_INVALID',
  TOO_LARGE: 'PROFILE_TOO_LARGE',
  INVALID_ID: 'PROFILE_INVALID_ID',
  EXISTS: 'PROFILE_EXISTS',
  NOT_FOUND: 'PROFILE_NOT_FOUND',
  DELETED: 'PROFILE_DELETED',
  BAD_VERSION: 'PROFILE_BAD_VERSION',
  VERSION_UNAVAILABLE: 'PROFILE_VERSION_UNAVAILABLE',
  READONLY_FIELD: 'PROFILE_READONLY_FIELD',
  BAD_UPDATE: 'PROFILE_BAD_UPDATE',
  LABEL_NOT_FOUND: 'LABEL_NOT_FOUND',
  LABEL_INVALID: 'LABEL_INVALID',
  AUDIT_INVALID: 'AUDIT_INVALID',
  IMPORT_INVALID: 'IMPORT_INVALID',
  LIST_INVALID: 'PROFILE_LIST_INVALID',
  STORE_CLOSED: 'STORE_CLOSED',
  DAMAGED: 'PROFILE_DAMAGED',
  CONFLICT_NOT_FOUND: 'CONFLICT_NOT_FOUND',
  CONFLICT_RESOLVED: 'CONFLICT_RESOLVED',
} as const;

export type CoreErrorCode = (typeof CoreErrorCode)[keyof typeof CoreErrorCode];

export function coreError(code: CoreErrorCode, message: string, details?: Record<string, unknown>, cause?: unknown): ProfileSyncError {
  const opts: { details?: Record<string, unknown>; cause?: unknown } = {};
  if (details !== undefined) opts.details = details;
  if (cause !== undefined) opts.cause = cause;
  return new ProfileSyncError(code, message, opts);
}

/** Log codes that mean "this profile's stored data is damaged" when they come from reading it. */
const DAMAGE_CODES = new Set(['LOG_STREAM_DAMAGED', 'LOG_CHECKSUM_MISMATCH', 'LOG_CORRUPT']);

export function isDamageCode(code: string | undefined): boolean {
  return code !== undefined && DAMAGE_CODES.has(code);
}

/** PROFILE_DAMAGED for `id` (details.findings: what the log knows), the log's error as the cause. */
export function damagedError(id: string, findings: unknown[], cause?: unknown): ProfileSyncError {
  return coreError(CoreErrorCode.DAMAGED, `profile ${id} is damaged on this node; it is repaired from a peer that holds it, or with \`profilesync verify --repair --from BACKUP\``, { id, findings }, cause);
}
