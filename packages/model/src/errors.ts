/**
 * Error codes raised by @profilesync/model. They are the codes core, the server, the CLI and the
 * SDK report (docs/errors.md); tests assert codes, never messages.
 */
import { ProfileSyncError } from '@profilesync/errors';

export const ModelErrorCode = {
  INVALID: 'PROFILE_INVALID',
  TOO_LARGE: 'PROFILE_TOO_LARGE',
  INVALID_ID: 'PROFILE_INVALID_ID',
  BAD_VERSION: 'PROFILE_BAD_VERSION',
  RENDER_MISSING_VARIABLES: 'PROFILE_RENDER_MISSING_VARIABLES',
  RENDER_INVALID: 'PROFILE_RENDER_INVALID',
  TEMPLATE_NOT_FOUND: 'PROFILE_TEMPLATE_NOT_FOUND',
} as const;

export type ModelErrorCode = (typeof ModelErrorCode)[keyof typeof ModelErrorCode];

export function modelError(code: ModelErrorCode, message: string, details?: Record<string, unknown>, cause?: unknown): ProfileSyncError {
  const opts: { details?: Record<string, unknown>; cause?: unknown } = {};
  if (details !== undefined) opts.details = details;
  if (cause !== undefined) opts.cause = cause;
  return new ProfileSyncError(code, message, opts);
}
