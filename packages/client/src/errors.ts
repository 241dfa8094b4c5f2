/**
 * Errors of the SDK. Every error the SDK throws or reports is a `ClientError` with a stable
 * `code`: the node's own code when the node answered (PROFILE_NOT_FOUND, AUTH_FORBIDDEN, ...;
 * `status` holds the HTTP status and `requestId` the node's x-request-id), the code of the
 * shared render module (PROFILE_RENDER_MISSING_VARIABLES, ...; `status`: what the node answers
 * for the same render, so errors map the same wherever the render ran) or of the response cache
 * (CACHE_INVALID_REQUEST, ...), or one of the CLIENT_* codes below.
 */

export const ClientErrorCode = {
  /** the node could not be reached: network error, timeout, 502/503/504 (503 PROFILE_DAMAGED keeps its code), or an unreadable answer */
  UNAVAILABLE: 'CLIENT_UNAVAILABLE',
  /** the node answered 2xx with something that is not what the API promises */
  BAD_RESPONSE: 'CLIENT_BAD_RESPONSE',
  /** a bad argument or option (details.field names it) */
  INVALID_ARGUMENT: 'CLIENT_INVALID_ARGUMENT',
  /** the client was closed */
  CLOSED: 'CLIENT_CLOSED',
  /** a webhook request's signature does not match the body (verifyWebhook) */
  BAD_SIGNATURE: 'CLIENT_BAD_SIGNATURE',
} as const;

export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];

export interface ClientErrorOptions {
  details?: Record<string, unknown>;
  cause?: unknown;
  /** HTTP status of the node's answer (a local render's error: the node's status for its code) */
  status?: number;
  /** the node's x-request-id */
  requestId?: string;
}

export class ClientError extends Error {
  readonly code: string;
  readonly details: Record<string, unknown> | undefined;
  readonly status: number | undefined;
  readonly requestId: string | undefined;

  constructor(code: string, message: string, opts: ClientErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'ClientError';
    this.code = code;
    this.details = opts.details;
    this.status = opts.status;
    this.requestId = opts.requestId;
  }

  toJSON(): { code: string; message: string; details?: Record<string, unknown>; status?: number } {
    return {
      code: this.code,
      message: this.message,
      ...(this.details !== undefined ? { details: this.details } : {}),
      ...(this.status !== undefined ? { status: this.status } : {}),
    };
  }
}

/**
 * The node's HTTP status for each code of the shared model/render module (the same numbers as
 * the server's ERROR_STATUS table; a test compares them), so an error of a render the SDK ran
 * locally carries the `status` the node answers for the same render.
 */
export const MODEL_ERROR_STATUS: Readonly<Record<string, number>> = Object.freeze({
  PROFILE_INVALID: 422,
  PROFILE_TOO_LARGE: 422,
  PROFILE_INVALID_ID: 400,
  PROFILE_BAD_VERSION: 400,
  PROFILE_RENDER_MISSING_VARIABLES: 422,
  PROFILE_RENDER_INVALID: 400,
  PROFILE_TEMPLATE_NOT_FOUND: 404,
});

/**
 * The same failure as a ClientError (errors of the shared modules keep their code and details;
 * those of the model/render module get the node's status for the code).
 */
export function asClientError(err: unknown): ClientError {
  if (err instanceof ClientError) return err;
  const e = err as { code?: unknown; message?: unknown; details?: unknown };
  if (typeof e?.code === 'string') {
    const status = Object.hasOwn(MODEL_ERROR_STATUS, e.code) ? MODEL_ERROR_STATUS[e.code] : undefined;
    return new ClientError(e.code, typeof e.message === 'string' ? e.message : e.code, {
      cause: err,
      ...(typeof e.details === 'object' && e.details !== null ? { details: e.details as Record<string, unknown> } : {}),
      ...(status !== undefined ? { status } : {}),
    });
  }
  return err as ClientError;
}

export function invalidArgument(field: string, message: string): ClientError {
  return new ClientError(ClientErrorCode.INVALID_ARGUMENT, `${field}: ${message}`, { details: { field } });
}

/** Whether the node answered that its copy of the profile is damaged (503 PROFILE_DAMAGED). */
export function isDamaged(err: unknown): boolean {
  return err instanceof ClientError && err.code === 'PROFILE_DAMAGED';
}

/** Whether an error means "the node could not be reached" (serve what we have) rather than "the node said no". */
export function isUnavailable(err: unknown): boolean {
  return err instanceof ClientError && err.code === ClientErrorCode.UNAVAILABLE;
}
