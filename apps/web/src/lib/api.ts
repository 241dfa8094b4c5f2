/**
 * The node's HTTP API (DESIGN §6) for the browser: one fetch wrapper that sends the bearer
 * token and turns every error body `{ error: { code, message, details? } }` into an ApiError
 * with the same stable code, so screens can show "CODE: message" next to the right field.
 */
import type { AuditRecord, CacheStatsSnapshot, ListPage, ListSort, ProfileDiff, ProfileInput, ProfileSummary, ProfileView, RenderResult, VersionInfo } from '@profilesync/core';
import type { Conflict, Keep } from './conflicts.js';
import type { DeliveryAttempt, PeerInfo, PeersResponse, SyncReport, TokenCreate, TokenInfo, WebhookInfo } from './types.js';
import type { ClusterResponse } from './cluster.js';

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: Record<string, unknown> | undefined;
  constructor(status: number, code: string, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details;
  }
  /** The dotted field an error is about (core's details.path, the server's details.field). */
  get field(): string | undefined {
    const d = this.details;
    if (typeof d?.path === 'string' && d.path !== '') return d.path;
    if (typeof d?.field === 'string' && d.field !== '') return d.field;
    return undefined;
  }
}

/** Any thrown value as `{ code, message }` for display. */
export function describeError(err: unknown): { code: string; message: string } {
  if (err instanceof ApiError) return { code: err.code, message: err.message };
  if (err instanceof TypeError) return { code: 'NETWORK_ERROR', message: 'the node cannot be reached' };
  return { code: 'UI_ERROR', message: err instanceof Error ? err.message : String(err) };
}

/** A failure worth retrying: the node is unreachable, or answers 5xx / 429 for now. */
export function retryableError(err: unknown): boolean {
  if (err instanceof ApiError) return err.status >= 500 || err.status === 429;
  return describeError(err).code === 'NETWORK_ERROR';
}

/** Any thrown value as one "CODE: message" line. */
export function errorText(err: unknown): string {
  const d = describeError(err);
  return `${d.code}: ${d.message}`;
}

export const enc = encodeURIComponent;

export interface ListFilter {
  modelId?: string;
  label?: string;
  tag?: string;
}

/** One page of GET /api/profiles: filters, search words, sort, keyset cursor. */
export interface PageQuery extends ListFilter {
  /** 'open': only profiles with open conflicts */
  conflicts?: 'open';
  q?: string;
  sort?: ListSort;
  order?: 'asc' | 'desc';
  limit?: number;
  cursor?: string;
  facets?: boolean;
}

type Query = Record<string, string | number | undefined>;

/** `?a=1&b=2`, keys sorted (one spelling per query: primed requests are found by it). */
function queryString(q: Query | undefined): string {
  if (!q) return '';
  const p = new URLSearchParams();
  for (const k of Object.keys(q).sort()) {
    const v = q[k];
    if (v !== undefined && v !== '') p.set(k, String(v));
  }
  const s = p.toString();
  return s === '' ? '' : `?${s}`;
}

type PrimedSlot = { token: string; url: string; result: Promise<{ status: number; body: unknown }>; done?: { status: number; body: unknown } };
const slot = (): { __psPrimed?: PrimedSlot } => (typeof window === 'undefined' ? {} : (window as unknown as { __psPrimed?: PrimedSlot }));

/**
 * The answer the inline script of index.html fetched before the app loaded, when it is for this token and URL
 * (taken once). `sync` asks only for an answer that has already arrived.
 */
export function takePrimed(token: string, url: string, sync = false): Promise<{ status: number; body: unknown }> | { status: number; body: unknown } | undefined {
  const w = slot();
  const p = w.__psPrimed;
  if (!p || p.token !== token || p.url !== url) return undefined;
  if (sync && !p.done) return undefined;
  delete w.__psPrimed;
  return sync ? p.done : p.result;
}

/** The query string fields of a list page request. */
export function listQuery(q: PageQuery): Query {
  const { facets, ...rest } = q;
  return { ...rest, ...(facets ? { facets: 'true' } : {}) };
}

export class Api {
  readonly #token: string;
  readonly #base: string;
  /** called on every 401 (the token was revoked or is wrong): the app signs out */
  onUnauthorized: (() => void) | undefined;

  constructor(token: string, base = '') {
    this.#token = token;
    this.#base = base;
  }

  get token(): string {
    return this.#token;
  }

  async request<T>(method: string, path: string, opts: { body?: unknown; query?: Query; type?: string; signal?: AbortSignal } = {}): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.#token}`, accept: 'application/json' };
    let body: string | undefined;
    if (opts.body !== undefined) {
      headers['content-type'] = opts.type ?? 'application/json';
      body = JSON.stringify(opts.body);
    }
    const url = `${this.#base}${path}${queryString(opts.query)}`;
    const early = method === 'GET' ? takePrimed(this.#token, url) : undefined;
    let status: number;
    let statusText = '';
    let data: unknown = undefined;
    if (early) {
      ({ status, body: data } = await early);
    } else {
      const res = await fetch(url, { method, headers, body, cache: 'no-store', ...(opts.signal ? { signal: opts.signal } : {}) });
      status = res.status;
      statusText = res.statusText;
      const text = await res.text();
      if (text !== '') {
        try {
          data = JSON.parse(text);
        } catch {
          data = undefined;
        }
      }
    }
    return this.#answer<T>(status, statusText, data);
  }

  /** A primed answer that has already arrived (for a first render with data), or undefined. */
  primedNow<T>(path: string, query?: Query): T | undefined {
    const url = `${this.#base}${path}${queryString(query)}`;
    const done = takePrimed(this.#token, url, true) as { status: number; body: unknown } | undefined;
    if (!done) return undefined;
    return this.#answer<T>(done.status, '', done.body);
  }

  #answer<T>(status: number, statusText: string, data: unknown): T {
    if (status < 200 || status >= 300) {
      const e = (data as { error?: { code?: string; message?: string; details?: Record<string, unknown> } } | undefined)?.error;
      const err = new ApiError(status, e?.code ?? `HTTP_${status}`, e?.message ?? (statusText || 'request failed'), e?.details);
      if (status === 401) this.onUnauthorized?.();
      throw err;
    }
    return data as T;
  }

  // ---- profiles ------------------------------------------------------------------
  async listProfiles(filter: ListFilter = {}): Promise<ProfileSummary[]> {
    return (await this.request<{ profiles: ProfileSummary[] }>('GET', '/api/profiles', { query: { ...filter } })).profiles;
  }
  /** One page of the list (server-side search, sort and cursor). */
  listPage(q: PageQuery, signal?: AbortSignal): Promise<ListPage & { facets?: { models: string[]; labels: string[]; tags: string[] } }> {
    return this.request('GET', '/api/profiles', { query: listQuery(q), ...(signal ? { signal } : {}) });
  }
  /** The list page the inline script of index.html fetched before the app loaded, if it has arrived (else undefined). */
  listPagePrimed(q: PageQuery): (ListPage & { facets?: { models: string[]; labels: string[]; tags: string[] } }) | undefined {
    try {
      return this.primedNow('/api/profiles', listQuery(q));
    } catch {
      return undefined; // an error answer: the list asks again and shows it
    }
  }
  getProfile(id: string, at: { version?: string; label?: string } = {}): Promise<ProfileView> {
    return this.request('GET', `/api/profiles/${enc(id)}`, { query: at });
  }
  createProfile(input: ProfileInput): Promise<ProfileView> {
    return this.request('POST', '/api/profiles', { body: input });
  }
  patchProfile(id: string, patch: Record<string, unknown>): Promise<ProfileView> {
    return this.request('PATCH', `/api/profiles/${enc(id)}`, { body: patch, type: 'application/merge-patch+json' });
  }
  deleteProfile(id: string): Promise<void> {
    return this.request('DELETE', `/api/profiles/${enc(id)}`);
  }
  async history(id: string, limit?: number): Promise<VersionInfo[]> {
    return (await this.request<{ versions: VersionInfo[] }>('GET', `/api/profiles/${enc(id)}/history`, { query: { limit } })).versions;
  }
  diff(id: string, from: string, to: string): Promise<ProfileDiff> {
    return this.request('GET', `/api/profiles/${enc(id)}/diff`, { query: { from, to } });
  }
  revert(id: string, version: string): Promise<ProfileView> {
    return this.request('POST', `/api/profiles/${enc(id)}/revert`, { body: { version } });
  }
  /** The exact chat request the node renders (POST /render); 422 PROFILE_RENDER_MISSING_VARIABLES lists details.missing. */
  render(id: string, body: { variables: Record<string, string>; template?: string; version?: string }): Promise<RenderResult> {
    return this.request('POST', `/api/profiles/${enc(id)}/render`, { body });
  }
  /** Closes the open run of changes into a version now, with a message (201; 200 when nothing changed since the last version). */
  checkpoint(id: string, message: string): Promise<VersionInfo & { created: boolean }> {
    return this.request('POST', `/api/profiles/${enc(id)}/versions`, { body: { message } });
  }
  async conflicts(id: string): Promise<Conflict[]> {
    return (await this.request<{ conflicts: Conflict[] }>('GET', `/api/profiles/${enc(id)}/conflicts`)).conflicts;
  }
  /** Closes a conflict by keeping the merged text, one side, or a given value (a new version on the node). */
  resolveConflict(id: string, cid: string, keep: Keep, value?: unknown): Promise<unknown> {
    return this.request('POST', `/api/profiles/${enc(id)}/conflicts/${enc(cid)}/resolve`, { body: keep === 'value' ? { keep, value } : { keep } });
  }
  setLabel(id: string, label: string, version: string): Promise<ProfileView> {
    return this.request('PUT', `/api/profiles/${enc(id)}/labels/${enc(label)}`, { body: { version } });
  }

  // ---- operators -----------------------------------------------------------------
  async audit(q: { profile?: string; actor?: string; action?: string; since?: string; until?: string; limit?: number }): Promise<AuditRecord[]> {
    return (await this.request<{ records: AuditRecord[] }>('GET', '/api/audit', { query: q })).records;
  }
  /** Profiles this token may see that the node knows to be damaged (503 PROFILE_DAMAGED until repaired). */
  async damage(): Promise<{ profiles: { id: string; findings: { kind: string; message: string }[] }[]; node: { kind: string; message: string }[] }> {
    return this.request('GET', '/api/damage');
  }
  async cacheStats(): Promise<CacheStatsSnapshot[]> {
    return (await this.request<{ caches: CacheStatsSnapshot[] }>('GET', '/api/cache/stats')).caches;
  }
  async clearCache(name?: string): Promise<string[]> {
    const path = name === undefined ? '/api/cache/clear' : `/api/cache/clear/${enc(name)}`;
    return (await this.request<{ cleared: string[] }>('POST', path)).cleared;
  }
  peers(): Promise<PeersResponse> {
    return this.request('GET', '/api/peers');
  }
  /** The peer record an add would store (its fingerprint, to confirm), without storing it. */
  previewPeer(input: { url: string; key: string; name?: string }): Promise<PeerInfo & { key: string }> {
    return this.request('POST', '/api/peers', { body: input, query: { dryRun: 'true' } });
  }
  addPeer(input: { url: string; key: string; name?: string }): Promise<PeerInfo & { key: string }> {
    return this.request('POST', '/api/peers', { body: input });
  }
  webhooks(): Promise<{ webhooks: WebhookInfo[] }> {
    return this.request('GET', '/api/webhooks');
  }
  addWebhook(input: { url: string; events?: string[]; profiles?: string[]; name?: string }): Promise<WebhookInfo & { secret: string }> {
    return this.request('POST', '/api/webhooks', { body: input });
  }
  removeWebhook(id: string): Promise<void> {
    return this.request('DELETE', `/api/webhooks/${enc(id)}`);
  }
  webhookDeliveries(id: string): Promise<{ deliveries: DeliveryAttempt[] }> {
    return this.request('GET', `/api/webhooks/${enc(id)}/deliveries`);
  }
  removePeer(id: string): Promise<void> {
    return this.request('DELETE', `/api/peers/${enc(id)}`);
  }
  syncNow(): Promise<SyncReport> {
    return this.request('POST', '/api/sync');
  }
  /** The fleet (bus and members); `{ bus: null, members: [] }` for a node without a bus. */
  cluster(): Promise<ClusterResponse> {
    return this.request('GET', '/api/cluster');
  }
  async tokens(): Promise<TokenInfo[]> {
    return (await this.request<{ tokens: TokenInfo[] }>('GET', '/api/tokens')).tokens;
  }
  createToken(input: TokenCreate): Promise<TokenInfo & { token: string }> {
    return this.request('POST', '/api/tokens', { body: input });
  }
  /** Changes a token's role and/or profile globs (null = every profile); its open live connections follow at once. */
  updateToken(id: string, change: { role?: TokenInfo['role']; profiles?: string[] | null }): Promise<TokenInfo> {
    return this.request('PATCH', `/api/tokens/${enc(id)}`, { body: change });
  }
  revokeToken(id: string): Promise<void> {
    return this.request('DELETE', `/api/tokens/${enc(id)}`);
  }
}
