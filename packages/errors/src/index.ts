/**
 * The one error type of profilesync. Every failure a caller can act on carries a
 * stable `code` (documented in docs/errors.md); tests assert codes, never messages.
 * The HTTP layer maps codes to statuses in one table (apps/server).
 */
export interface ProfileSyncErrorOptions {
  cause?: unknown;
  /** Small, non-secret facts about the failure (a path, a field, a seq). */
  details?: Record<string, unknown>;
}

export class ProfileSyncError extends Error {
  readonly code: string;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, message: string, options: ProfileSyncErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ProfileSyncError';
    this.code = code;
    this.details = options.details;
  }

  toJSON(): { code: string; message: string; details?: Record<string, unknown> } {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

export function isProfileSyncError(err: unknown, code?: string): err is ProfileSyncError {
  return err instanceof ProfileSyncError && (code === undefined || err.code === code);
}

/** The code of any error-like value, or undefined. Works across package copies. */
export function errorCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

export { Emitter, TypedEmitter, type Listener } from './emitter.js';
