/**
 * The node's HTTP API over `fetch` (Node 20+, browsers, edge runtimes). Answers become values
 * or coded errors: the node's `{ error: { code, message, details } }` keeps its code; a network
 * failure, a timeout, a 502/503/504 or an answer that is not the API's JSON is
 * CLIENT_UNAVAILABLE (the caller may serve what it has); a 503 PROFILE_DAMAGED keeps its code
 * (the node is up; its copy of the profile is damaged).
 */
import { ClientError, ClientErrorCode } from './errors.js';

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface HttpOptions {
  url: string;
  token: string | undefined;
  fetch: FetchLike;
  timeoutMs: number;
}

export interface HttpResult<T> {
  status: number;
  body: T | undefined;
  etag: string | undefined;
}

const UNAVAILABLE_STATUS = new Set([502, 503, 504]);

export class Http {
  readonly base: string;
  readonly #token: string | undefined;
  readonly #fetch: FetchLike;
  readonly #timeoutMs: number;

  constructor(opts: HttpOptions) {
    this.base = opts.url.replace(/\/+$/, '');
    this.#token = opts.token;
    this.#fetch = opts.fetch;
    this.#timeoutMs = opts.timeoutMs;
  }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    const h: Record<string, string> = { accept: 'application/json', ...extra };
    if (this.#token !== undefined) h.authorization = `Bearer ${this.#token}`;
    return h;
  }

  /** One JSON request. 304 gives `body: undefined`. */
  async request<T>(method: string, path: string, opts: { body?: unknown; headers?: Record<string, string>; signal?: AbortSignal } = {}): Promise<HttpResult<T>> {
    const headers = this.headers(opts.headers);
    let body: string | undefined;
    if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] = 'application/json';
    }
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const signal = opts.signal ? anySignal(opts.signal, timeout) : timeout;
    let res: Response;
    try {
      res = await this.#fetch(this.base + path, { method, headers, ...(body !== undefined ? { body } : {}), signal });
    } catch (err) {
      const timedOut = timeout.aborted;
      throw new ClientError(ClientErrorCode.UNAVAILABLE, timedOut ? `${method} ${path}: no answer within ${this.#timeoutMs} ms` : `${method} ${path}: ${describe(err)}`, { cause: err, details: { reason: timedOut ? 'timeout' : 'network' } });
    }
    const requestId = res.headers.get('x-request-id') ?? undefined;
    if (res.status === 304) {
      await res.body?.cancel();
      return { status: 304, body: undefined, etag: res.headers.get('etag') ?? undefined };
    }
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      throw new ClientError(ClientErrorCode.UNAVAILABLE, `${method} ${path}: the answer was cut off (${describe(err)})`, { cause: err, status: res.status, ...(requestId ? { requestId } : {}), details: { reason: 'network' } });
    }
    let parsed: unknown;
    if (text.length > 0) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
    }
    if (res.ok) {
      if (text.length > 0 && parsed === undefined) {
        throw new ClientError(ClientErrorCode.BAD_RESPONSE, `${method} ${path}: the answer is not JSON`, { status: res.status, ...(requestId ? { requestId } : {}) });
      }
      return { status: res.status, body: parsed as T, etag: res.headers.get('etag') ?? undefined };
    }
    const e = (parsed as { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined)?.error;
    if (res.status === 503 && e?.code === 'PROFILE_DAMAGED') {
      // the node is up and says its copy of this profile is damaged: not "unreachable"
      const details = typeof e.details === 'object' && e.details !== null ? (e.details as Record<string, unknown>) : undefined;
      throw new ClientError('PROFILE_DAMAGED', typeof e.message === 'string' ? e.message : 'PROFILE_DAMAGED', { status: 503, ...(requestId ? { requestId } : {}), ...(details ? { details } : {}) });
    }
    if (UNAVAILABLE_STATUS.has(res.status) || typeof e?.code !== 'string') {
      // a proxy's error page, a node that is starting or stopping: try again later, serve what we have
      const code = typeof e?.code === 'string' ? e.code : undefined;
      throw new ClientError(ClientErrorCode.UNAVAILABLE, `${method} ${path}: the node answered ${res.status}${code ? ` ${code}` : ''}`, {
        status: res.status,
        ...(requestId ? { requestId } : {}),
        details: { reason: 'status', ...(code ? { nodeCode: code } : {}) },
      });
    }
    const details = typeof e.details === 'object' && e.details !== null ? (e.details as Record<string, unknown>) : undefined;
    throw new ClientError(e.code, typeof e.message === 'string' ? e.message : e.code, { status: res.status, ...(requestId ? { requestId } : {}), ...(details ? { details } : {}) });
  }
}

/** AbortSignal.any where it exists (Node 20.3+, current browsers), a small equivalent elsewhere. */
export function anySignal(a: AbortSignal, b: AbortSignal): AbortSignal {
  const any = (AbortSignal as { any?: (s: AbortSignal[]) => AbortSignal }).any;
  if (any) return any([a, b]);
  const c = new AbortController();
  const abort = (s: AbortSignal) => () => c.abort(s.reason);
  if (a.aborted) c.abort(a.reason);
  else if (b.aborted) c.abort(b.reason);
  else {
    a.addEventListener('abort', abort(a), { once: true });
    b.addEventListener('abort', abort(b), { once: true });
  }
  return c.signal;
}

/** What failed, in a word when there is one (ECONNREFUSED, ...): undici's `fetch failed` keeps it in `cause`. */
export function describe(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  return e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err);
}

export function encodePath(id: string): string {
  return encodeURIComponent(id);
}
