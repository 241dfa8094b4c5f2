import { ProfileSyncError } from '@profilesync/errors';

/** Every error code the bus package raises. */
export const BusErrorCode = {
  UNAVAILABLE: 'BUS_UNAVAILABLE',
  COMMAND_FAILED: 'BUS_COMMAND_FAILED',
  CLOSED: 'BUS_CLOSED',
  INVALID_ARGUMENT: 'BUS_INVALID_ARGUMENT',
  UNSUPPORTED: 'BUS_UNSUPPORTED',
} as const;

export type BusErrorCode = (typeof BusErrorCode)[keyof typeof BusErrorCode];

export function busError(code: BusErrorCode, message: string, details?: Record<string, unknown>, cause?: unknown): ProfileSyncError {
  const opts: { details?: Record<string, unknown>; cause?: unknown } = {};
  if (details !== undefined) opts.details = details;
  if (cause !== undefined) opts.cause = cause;
  return new ProfileSyncError(code, message, opts);
}
