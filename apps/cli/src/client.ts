/**
 * HTTP client for a running node. Errors come back as ProfileSyncError with the server's
 * code; a node that cannot be reached is SERVER_UNREACHABLE with a hint.
 */
import { ProfileSyncError } from '@profilesync/errors';

export interface ApiTarget {
  url: string;
  token: string | undefined;
}

export interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | number | boolean | undefined>;
  /** a binary body instead of JSON */
  raw?: { type: string; bytes: Uint8Array };
  /** accept these non-2xx statuses as results instead of errors */
  accept?: number[];
  timeoutMs?: number;
}

export class ApiClient {
  readonly url: string;
  #token: string | undefined;
  #timeoutMs: number;

  constructor(target: ApiTarget, opts: { timeoutMs?: number } = {}) {
    this.url = target.url.replace(/\/+$/, '');
    this.#token = target.token;
    this.#timeoutMs = opts.timeoutMs ?? 60_000;
  }

  async request<T = unknown>(method: string, path: string, opts: RequestOptions = {}): Promise<{ status: number; data: T; headers: Headers }> {
    const u = new URL(this.url + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) u.searchParams.set(k, String(v));
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    let body: string | Uint8Array | undefined;
    if (opts.raw !== undefined) {
      headers['content-type'] = opts.raw.type;
      body = opts.raw.bytes;
    } else if (opts.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.body);
    }
    let res: Response;
    try {
      res = await fetch(u, { method, headers, body, signal: AbortSignal.timeout(opts.timeoutMs ?? this.#timeoutMs) });
    } catch (err) {
      const c = (err as { cause?: { code?: string; message?: string; errors?: { code?: string }[] } }).cause;
      const cause = c?.code ?? c?.errors?.[0]?.code ?? c?.message ?? (err as Error).name;
      if (cause === 'TimeoutError') {
        throw new ProfileSyncError('SERVER_UNREACHABLE', `no answer from ${this.url} within ${opts.timeoutMs ?? this.#timeoutMs} ms`, { details: { url: this.url } });
      }
      throw new ProfileSyncError('SERVER_UNREACHABLE', `no profilesync server at ${this.url} (${cause})`, { details: { url: this.url }, cause: err });
    }
    const text = await res.text();
    let data: unknown = undefined;
    if (text.length > 0) {
      const type = res.headers.get('content-type') ?? '';
      if (type.includes('json')) {
        try {
          data = JSON.parse(text);
        } catch {
          data = text;
        }
      } else {
        data = text;
      }
    }
    if (res.ok || opts.accept?.includes(res.status)) return { status: res.status, data: data as T, headers: res.headers };
    const e = (data as { error?: { code?: string; message?: string; details?: Record<string, unknown> } } | undefined)?.error;
    throw this.#answered(res.status, method, path, e);
  }

  /**
   * A request whose (binary) response body is streamed, e.g. POST /api/backup. The timeout
   * covers reaching the node and its response headers only, not the body. Non-2xx answers
   * throw like request().
   */
  async stream(method: string, path: string, opts: { timeoutMs?: number } = {}): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/octet-stream, application/json' };
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    const ctl = new AbortController();
    const ms = opts.timeoutMs ?? this.#timeoutMs;
    const timer = setTimeout(() => ctl.abort(new DOMException('timeout', 'TimeoutError')), ms);
    let res: Response;
    try {
      res = await fetch(new URL(this.url + path), { method, headers, signal: ctl.signal });
    } catch (err) {
      const c = (err as { cause?: { code?: string; message?: string; errors?: { code?: string }[] } }).cause;
      const cause = c?.code ?? c?.errors?.[0]?.code ?? c?.message ?? (err as Error).name;
      if (cause === 'TimeoutError' || (err as Error).name === 'TimeoutError') throw new ProfileSyncError('SERVER_UNREACHABLE', `no answer from ${this.url} within ${ms} ms`, { details: { url: this.url } });
      throw new ProfileSyncError('SERVER_UNREACHABLE', `no profilesync server at ${this.url} (${cause})`, { details: { url: this.url }, cause: err });
    } finally {
      clearTimeout(timer);
    }
    if (res.ok) return res;
    const text = await res.text().catch(() => '');
    let e: { code?: string; message?: string; details?: Record<string, unknown> } | undefined;
    try {
      e = (JSON.parse(text) as { error?: typeof e }).error;
    } catch {
      e = undefined;
    }
    throw this.#answered(res.status, method, path, e);
  }

  /** An error answer as a ProfileSyncError with the node's code; the message names the URL that answered. */
  #answered(status: number, method: string, path: string, e: { code?: string; message?: string; details?: Record<string, unknown> } | undefined): ProfileSyncError {
    const what = e?.message ?? `HTTP ${status} from ${method} ${path}`;
    return new ProfileSyncError(e?.code ?? `HTTP_${status}`, `${what} (answered by ${this.url})`, { details: { status, ...(e?.details ?? {}), url: this.url } });
  }

  get<T = unknown>(path: string, query?: RequestOptions['query']): Promise<T> {
    return this.request<T>('GET', path, query ? { query } : {}).then((r) => r.data);
  }
  post<T = unknown>(path: string, body?: unknown, opts: RequestOptions = {}): Promise<T> {
    return this.request<T>('POST', path, { ...opts, body }).then((r) => r.data);
  }
  patch<T = unknown>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PATCH', path, { body }).then((r) => r.data);
  }
  put<T = unknown>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PUT', path, { body }).then((r) => r.data);
  }
  delete<T = unknown>(path: string): Promise<T> {
    return this.request<T>('DELETE', path).then((r) => r.data);
  }

  /** A GET of an event stream (the change feed) the caller reads until it aborts; node errors as for request(). */
  async events(path: string, headers: Record<string, string>, signal?: AbortSignal): Promise<Response> {
    const h: Record<string, string> = { ...headers };
    if (this.#token) h.authorization = `Bearer ${this.#token}`;
    let res: Response;
    try {
      res = await fetch(this.url + path, { headers: h, ...(signal ? { signal } : {}) });
    } catch (err) {
      const c = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new ProfileSyncError('SERVER_UNREACHABLE', `no profilesync server at ${this.url} (${c?.code ?? c?.message ?? (err as Error).name})`, { details: { url: this.url }, cause: err });
    }
    if (res.ok) return res;
    const text = await res.text();
    let e: { code?: string; message?: string; details?: Record<string, unknown> } | undefined;
    try {
      e = (JSON.parse(text) as { error?: typeof e }).error;
    } catch {
      e = undefined;
    }
    throw this.#answered(res.status, 'GET', path, e);
  }
}

export const enc = encodeURIComponent;

/** Base URL a local CLI uses for a node bound to `host:port` (wildcard binds -> loopback). */
export function localUrl(host: string, port: number): string {
  const h = host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host;
  return `http://${h}:${port}`;
}
