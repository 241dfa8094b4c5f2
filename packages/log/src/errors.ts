/**
 * Error codes of @profilesync/log and the helpers that build them. Every failure a caller
 * can act on is a ProfileSyncError with one of these stable codes (see README.md).
 */
import { ProfileSyncError, errorCode } from '@profilesync/errors';

export const LOG_ERROR_CODES = [
  'LOG_LOCKED',
  'LOG_OPEN_FAILED',
  'LOG_WRITE_FAILED',
  'LOG_DISK_FULL',
  'LOG_CHECKSUM_MISMATCH',
  'LOG_CORRUPT',
  'LOG_FORMAT_UNSUPPORTED',
  'LOG_CODEC_MISMATCH',
  'LOG_CLOSED',
  'LOG_STREAM_NOT_FOUND',
  'LOG_STREAM_DAMAGED',
  'LOG_INVALID_ARGUMENT',
  'LOG_BACKUP_CORRUPT',
  'LOG_BACKUP_WRITE_FAILED',
  'LOG_RESTORE_NOT_EMPTY',
  'LOG_MIGRATION_FAILED',
] as const;

export type LogErrorCode = (typeof LOG_ERROR_CODES)[number];

export function logError(
  code: LogErrorCode,
  message: string,
  options: { cause?: unknown; details?: Record<string, unknown> } = {},
): ProfileSyncError {
  return new ProfileSyncError(code, message, options);
}

export function invalid(message: string, details?: Record<string, unknown>): ProfileSyncError {
  return logError('LOG_INVALID_ARGUMENT', message, details === undefined ? {} : { details });
}

/** True for abstract-level errors meaning "the handle was closed under us" (reopen after a failed write). */
export function isNotOpenError(err: unknown): boolean {
  const code = errorCode(err);
  return code === 'LEVEL_DATABASE_NOT_OPEN' || code === 'LEVEL_ITERATOR_NOT_OPEN';
}

/**
 * Maps an error thrown by LevelDB during a read to a coded error. Errors that already carry a
 * ProfileSyncError code pass through; LevelDB corruption becomes LOG_CORRUPT.
 */
export function readFailure(err: unknown, what: string, details: Record<string, unknown>): Error {
  if (err instanceof ProfileSyncError) return err;
  const code = errorCode(err);
  if (code === 'LEVEL_CORRUPTION' || /corrupt/i.test(String((err as Error)?.message ?? ''))) {
    return logError('LOG_CORRUPT', `storage reports corruption while reading ${what}`, { cause: err, details });
  }
  return logError('LOG_CORRUPT', `storage read failed for ${what}: ${String((err as Error)?.message ?? err)}`, {
    cause: err,
    details,
  });
}
