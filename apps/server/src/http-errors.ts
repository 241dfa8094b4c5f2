/**
 * The ONE table mapping error codes to HTTP statuses, and the error body shape
 * `{ "error": { "code", "message" } }`. Everything that leaves the server as an error
 * passes through `toHttpError`.
 */
import { ProfileSyncError, errorCode } from '@profilesync/errors';

export const ERROR_STATUS: Readonly<Record<string, number>> = Object.freeze({
  // request shape (this server)
  REQUEST_INVALID: 400,
  REQUEST_MALFORMED_JSON: 400,
  REQUEST_TOO_LARGE: 413,
  REQUEST_HEADERS_TOO_LARGE: 431,
  REQUEST_TIMEOUT: 408,
  REQUEST_UNSUPPORTED_MEDIA_TYPE: 415,
  ROUTE_NOT_FOUND: 404,
  SERVER_SHUTTING_DOWN: 503,
  SERVER_STARTING: 503,
  BACKUP_IN_PROGRESS: 503,
  CHANGES_TOO_MANY_CONNECTIONS: 503,
  TOKEN_TOO_MANY_CONNECTIONS: 429,
  WEBHOOK_INVALID: 400,
  WEBHOOK_NOT_FOUND: 404,
  WEBHOOK_EXISTS: 409,
  WEBHOOK_READONLY: 409,
  WEBHOOK_STORE_CORRUPT: 500,
  WEB_UI_NOT_BUILT: 503,
  // auth and tokens
  AUTH_UNAUTHORIZED: 401,
  AUTH_FORBIDDEN: 403,
  TOKEN_NOT_FOUND: 404,
  TOKEN_LAST_ADMIN: 409,
  TOKEN_INVALID: 400,
  TOKEN_STORE_CORRUPT: 500,
  // profiles (core)
  PROFILE_NOT_FOUND: 404,
  PROFILE_EXISTS: 409,
  PROFILE_INVALID: 422,
  PROFILE_INVALID_ID: 400,
  PROFILE_TOO_LARGE: 422,
  PROFILE_READONLY_FIELD: 422,
  PROFILE_DELETED: 410,
  PROFILE_BAD_VERSION: 400,
  PROFILE_VERSION_UNAVAILABLE: 404,
  PROFILE_BAD_UPDATE: 400,
  PROFILE_RENDER_MISSING_VARIABLES: 422,
  PROFILE_RENDER_INVALID: 400,
  PROFILE_TEMPLATE_NOT_FOUND: 404,
  LABEL_NOT_FOUND: 404,
  CONFLICT_NOT_FOUND: 404,
  CONFLICT_RESOLVED: 409,
  LABEL_INVALID: 400,
  AUDIT_INVALID: 400,
  IMPORT_INVALID: 400,
  PROFILE_LIST_INVALID: 400,
  STORE_CLOSED: 503,
  PROFILE_DAMAGED: 503,
  // caches (every code of @profilesync/cache; a test checks the package's code list)
  CACHE_INVALID_KEY: 400,
  CACHE_INVALID_PATTERN: 400,
  CACHE_INVALID_TTL: 400,
  CACHE_INVALID_VALUE: 400,
  CACHE_SERIALIZATION_FAILED: 400,
  CACHE_INVALID_REQUEST: 400,
  CACHE_VALUE_TOO_LARGE: 413,
  CACHE_NOT_FOUND: 404,
  CACHE_ALREADY_REGISTERED: 409,
  CACHE_UNAVAILABLE: 503,
  CACHE_COMMAND_FAILED: 503,
  CACHE_CLOSED: 503,
  CACHE_INVALID_CONFIG: 500,
  CACHE_CORRUPT_ENTRY: 500,
  // peers and sync
  PEER_NOT_FOUND: 404,
  PEER_EXISTS: 409,
  PEER_INVALID: 400,
  PEER_STORE_CORRUPT: 500,
  SYNC_UNAVAILABLE: 503,
  SYNC_TIMEOUT: 504,
  SYNC_INVALID_ARGUMENT: 400,
  SYNC_PEER_EXISTS: 409,
  SYNC_PEER_NOT_FOUND: 404,
  SYNC_CLOSED: 503,
  // storage (log)
  LOG_WRITE_FAILED: 503,
  LOG_DISK_FULL: 503,
  LOG_OPEN_FAILED: 503,
  LOG_CLOSED: 503,
  LOG_LOCKED: 503,
  LOG_STREAM_NOT_FOUND: 404,
  LOG_STREAM_DAMAGED: 503,
  LOG_INVALID_ARGUMENT: 400,
  LOG_CHECKSUM_MISMATCH: 500,
  LOG_CORRUPT: 500,
  LOG_BACKUP_WRITE_FAILED: 503,
  // crypto
  CRYPTO_AUTH_FAILED: 500,
  CRYPTO_UNKNOWN_KEY: 500,
  CRYPTO_KEYRING_CLOSED: 503,
  CRYPTO_BAD_PUBLIC_KEY: 400,
  // catch-all
  INTERNAL: 500,
});

export interface HttpError {
  status: number;
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

/** Details worth returning to a client (small, non-secret facts such as a field path). */
const PUBLIC_DETAIL_KEYS = ['path', 'field', 'in', 'rule', 'limit', 'limitBytes', 'max', 'id', 'label', 'name', 'version', 'reason', 'importedThrough', 'suggestion', 'hint', 'template', 'variable'];
/** Details that are lists of short strings (render: the missing variables). */
const PUBLIC_LIST_KEYS = ['missing'];

function publicDetails(details: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!details) return undefined;
  const out: Record<string, unknown> = {};
  for (const k of PUBLIC_DETAIL_KEYS) {
    const v = details[k];
    if (v !== undefined && (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')) out[k] = v;
  }
  for (const k of PUBLIC_LIST_KEYS) {
    const v = details[k];
    if (Array.isArray(v) && v.length <= 100 && v.every((x) => typeof x === 'string' && x.length <= 256)) out[k] = v.slice();
  }
  const issues = publicIssues(details['issues']);
  if (issues !== undefined) out['issues'] = issues;
  return Object.keys(out).length > 0 ? out : undefined;
}

/** At most this many issues of one refused write are returned (the first is `path`/`rule`). */
const MAX_ISSUES = 50;

/**
 * PROFILE_INVALID / PROFILE_TOO_LARGE: every problem the validator found in the write, so a
 * client fixes them in one round instead of one per request: `{ path, rule, message, suggestion? }`
 * (strings only, each cut at 512 characters).
 */
function publicIssues(v: unknown): Record<string, string>[] | undefined {
  if (!Array.isArray(v) || v.length === 0) return undefined;
  const out: Record<string, string>[] = [];
  for (const i of v.slice(0, MAX_ISSUES)) {
    if (i === null || typeof i !== 'object') continue;
    const r = i as Record<string, unknown>;
    if (typeof r['path'] !== 'string' || typeof r['rule'] !== 'string' || typeof r['message'] !== 'string') continue;
    const issue: Record<string, string> = { path: r['path'].slice(0, 512), rule: r['rule'].slice(0, 512), message: r['message'].slice(0, 512) };
    if (typeof r['suggestion'] === 'string') issue['suggestion'] = r['suggestion'].slice(0, 512);
    out.push(issue);
  }
  return out.length > 0 ? out : undefined;
}

/** What the request's route allows (the message of a 413 names it). */
export interface RequestLimits {
  /** the route's body limit, bytes */
  bodyLimit?: number;
  /** the setting that sets it, when it is one (e.g. 'body_limit') */
  bodyLimitSetting?: string | undefined;
}

function bodyTooLarge(limits: RequestLimits): HttpError {
  const n = limits.bodyLimit;
  if (n === undefined) return { status: 413, code: 'REQUEST_TOO_LARGE', message: 'request body is larger than the body limit' };
  const setting = limits.bodyLimitSetting ? ` (${limits.bodyLimitSetting})` : '';
  return { status: 413, code: 'REQUEST_TOO_LARGE', message: `request body is larger than the limit of ${n} bytes${setting}`, details: { limitBytes: n } };
}

/** Fastify's own errors (parsing, limits) mapped to our codes. */
function fromFastify(err: { code?: string; statusCode?: number; message?: string }, limits: RequestLimits): HttpError | undefined {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return bodyTooLarge(limits);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_TYPE':
      return { status: 415, code: 'REQUEST_UNSUPPORTED_MEDIA_TYPE', message: 'unsupported content type; send application/json (or application/merge-patch+json)' };
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, code: 'REQUEST_MALFORMED_JSON', message: 'request body is not valid JSON' };
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { status: 400, code: 'REQUEST_INVALID', message: 'content-length does not match the body' };
    case 'FST_ERR_BAD_URL':
      return { status: 400, code: 'REQUEST_INVALID', message: 'malformed URL' };
    default:
      break;
  }
  if (err.code?.startsWith('FST_') && typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    return { status: err.statusCode, code: 'REQUEST_INVALID', message: 'bad request' };
  }
  return undefined;
}

/** Maps any thrown value to the status + body the client sees. Unknown errors: 500 INTERNAL, no stack. */
export function toHttpError(err: unknown, limits: RequestLimits = {}): HttpError {
  if (err instanceof ProfileSyncError || (errorCode(err) !== undefined && (err as Error).name === 'ProfileSyncError')) {
    const e = err as ProfileSyncError;
    const status = ERROR_STATUS[e.code] ?? 500;
    const details = publicDetails(e.details);
    return details ? { status, code: e.code, message: e.message, details } : { status, code: e.code, message: e.message };
  }
  const f = fromFastify(err as { code?: string; statusCode?: number }, limits);
  if (f) return f;
  return { status: 500, code: 'INTERNAL', message: 'internal error' };
}

export function errorBody(e: HttpError): { error: { code: string; message: string; details?: Record<string, unknown> } } {
  return e.details ? { error: { code: e.code, message: e.message, details: e.details } } : { error: { code: e.code, message: e.message } };
}

/** Status for a code (500 for codes not in the table). */
export function statusFor(code: string): number {
  return ERROR_STATUS[code] ?? 500;
}
