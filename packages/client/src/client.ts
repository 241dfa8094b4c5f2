/**
 * createClient(): reads profiles from a node through an in-memory cache.
 *
 * Reads (`get`):
 * - fresh (fetched within ttlMs, or — with `live` — kept current by the change feed): served
 *   from memory (the entry's own settled promise: no I/O, no allocation per hit);
 * - stale: served at once, refreshed in the background (one request per key at a time,
 *   `If-None-Match`, failures retried after `retryMs`);
 * - missing: fetched (concurrent gets of one key share one request).
 * When the node cannot be reached the client serves the last value it saw (memory, then the
 * `persist` store), then the configured `fallback`; the failure goes to `on('error')`. Only a
 * read with nothing to serve throws (CLIENT_UNAVAILABLE). Answers of the node itself (not
 * found, deleted, forbidden, bad input) are thrown with the node's code.
 *
 * Live: one change feed stream per client. A change event refreshes the entries it makes stale
 * (the current view, labels that moved, `@N` refs), drops deleted profiles, and is emitted as
 * `change`. The stream resumes with its last event id, so nothing is missed across reconnects.
 */
import { LRUCache } from 'lru-cache';
import { render as renderProfile } from '@profilesync/model';
import { asClientError, ClientError, ClientErrorCode, invalidArgument, isDamaged, isUnavailable } from './errors.js';
import { Events } from './emitter.js';
import { encodePath, Http, type FetchLike } from './http.js';
import { LiveFeed, type BackoffOptions } from './live.js';
import type { PersistStore } from './persist.js';
import { AppResponseCache, type CachedOptions, type ProfileStamp, type ResponseCacheOptions } from './responses.js';
import type { CacheStats, ChangeData, FallbackProfile, ProfileView, RenderResult, RenderVariables, Selector, ValueSource } from './types.js';

/** The render input of each cached view (a WeakMap: gone with the view). */
const RENDERABLE = new WeakMap<object, object>();

export interface ClientOptions {
  /** the node's base URL, e.g. http://127.0.0.1:7878 */
  url: string;
  /** an API token (any role; a viewer token is enough) */
  token?: string;
  /** how long a fetched value counts as fresh (ms, default 60 000) */
  ttlMs?: number;
  /** follow the node's change feed, so cached values change as soon as the profile does (default false) */
  live?: boolean;
  /** what to serve, per profile id, when the node cannot be reached and nothing was seen yet */
  fallback?: Record<string, FallbackProfile>;
  /** keeps last known values across restarts (fileStore from @profilesync/client/file, storageStore) */
  persist?: PersistStore;
  /** the LLM response cache behind `cached()`: memory by default, `{ url: 'redis://…' }` for Redis */
  responseCache?: ResponseCacheOptions;
  /** most entries kept in memory (default 1000) */
  maxEntries?: number;
  /** per-request timeout (ms, default 10 000) */
  timeoutMs?: number;
  /** after a failed refresh, wait this long before trying that entry again (ms, default 1000) */
  retryMs?: number;
  /**
   * what a read does when the node answers that its copy of the profile is damaged (503
   * PROFILE_DAMAGED): 'serve-last' (default) serves what it would serve while the node is down
   * (the last value this client saw, then `persist`, then `fallback`) and reports the
   * PROFILE_DAMAGED error; 'fail' throws it and drops the value held for it
   */
  onDamaged?: 'serve-last' | 'fail';
  /** change feed reconnect backoff (default 500 ms doubling to 30 s, with jitter) */
  reconnect?: Partial<BackoffOptions>;
  /** fetch implementation (default globalThis.fetch) */
  fetch?: FetchLike;
  /** wall clock in ms (default: Date.now, read at most every 10 ms) */
  clock?: () => number;
}

export interface ClientEvents {
  /** a failure that did not reach a caller (a background refresh, the change feed, serving a last known value) */
  error: ClientError;
  /** a change of a profile, from the change feed (live clients) */
  change: ChangeData;
  /** the change feed connected (after its catch-up) or lost its stream */
  live: { connected: boolean };
  /** a cached entry was replaced by a newer value from the node */
  updated: { id: string; label?: string; version: string };
}

export interface ClientStats {
  entries: number;
  hits: number;
  stale: number;
  misses: number;
  fetches: number;
  notModified: number;
  errors: number;
  /** values served from persist / fallback; damaged: times the node reported a profile damaged and a last value was served for it (onDamaged: serve-last) */
  served: { persisted: number; fallback: number; damaged: number };
  live: { enabled: boolean; connected: boolean; position: string | undefined; changes: number };
}

type Kind = 'current' | 'label' | 'version' | 'ref';

interface Entry {
  key: string;
  id: string;
  kind: Kind;
  /** label name or version reference */
  sel: string | undefined;
  value: ProfileView;
  promise: Promise<ProfileView>;
  source: ValueSource;
  fetchedAt: number;
  etag: string | undefined;
  /** fetched after the change feed's first `ready`: every later change of it will arrive */
  covered: boolean;
  /** a change event said it is out of date */
  stale: boolean;
  refreshing: boolean;
  retryAt: number;
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const LABEL_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
/** portable refs name immutable content */
const PORTABLE_RE = /^v[12]\./;
const SEP = '\u0000';

/**
 * A shared coarse wall clock (10 ms steps) for clients without an injected clock: reading the
 * real clock costs 100-200 ns on some machines, more than a whole cache hit. One interval for
 * every client of the process (unref'd), started on first use and stopped when the last client
 * closes; where timers are not allowed (some edge runtimes at load time) it reads Date.now().
 */
const coarse: { now: number; users: number; timer: ReturnType<typeof setInterval> | undefined } = { now: 0, users: 0, timer: undefined };

function coarseAcquire(): () => number {
  coarse.users++;
  return () => {
    if (coarse.timer === undefined) {
      try {
        coarse.now = Date.now();
        coarse.timer = setInterval(() => {
          coarse.now = Date.now();
        }, 10);
        (coarse.timer as { unref?: () => void }).unref?.();
      } catch {
        return Date.now();
      }
    }
    return coarse.now;
  };
}

function coarseRelease(): void {
  if (--coarse.users <= 0 && coarse.timer !== undefined) {
    clearInterval(coarse.timer);
    coarse.timer = undefined;
    coarse.users = 0;
  }
}

function settled(value: ProfileView): Promise<ProfileView> {
  return Promise.resolve(value);
}

function normalizeFallback(id: string, fb: FallbackProfile): ProfileView {
  return {
    id,
    name: id,
    description: '',
    systemMessage: '',
    messages: [],
    templates: {},
    parameters: {},
    labels: {},
    meta: {},
    deleted: false,
    conflicts: 0,
    schema: 2,
    version: 'fallback',
    updatedAt: '',
    updatedBy: '',
    ...fb,
  } as ProfileView;
}

function isView(v: unknown, id: string): v is ProfileView {
  const p = v as ProfileView;
  return typeof p === 'object' && p !== null && p.id === id && typeof p.version === 'string' && typeof p.modelId === 'string' && typeof p.labels === 'object' && p.labels !== null;
}

export class ProfileSyncClient {
  readonly #http: Http;
  readonly #fetch: FetchLike;
  readonly #ttl: number;
  readonly #retryMs: number;
  /** onDamaged: 'serve-last' */
  readonly #serveDamaged: boolean;
  readonly #clock: () => number;
  readonly #fallback: Record<string, FallbackProfile>;
  readonly #persist: PersistStore | undefined;
  readonly #events = new Events<ClientEvents>();
  readonly #lru: LRUCache<string, Entry>;
  /** secondary keys (labels, versions, refs) per profile id */
  readonly #byId = new Map<string, Set<string>>();
  readonly #inflight = new Map<string, Promise<ProfileView>>();
  /** change events seen per profile (a fetch that raced one is redone) */
  readonly #gens = new Map<string, number>();
  readonly #live: LiveFeed | undefined;
  readonly #responses: AppResponseCache;
  #liveReady = false;
  #everReady = false;
  /** ready() calls waiting for the feed: settled by its `ready`, a refusal by the node, or close() */
  readonly #readyWaiters = new Set<{ resolve: () => void; reject: (err: ClientError) => void }>();
  readonly #coarse: boolean;
  #closed = false;
  #persisted: Map<string, ProfileView> | undefined;
  #persistLoading: Promise<void> | undefined;
  #persistTimer: ReturnType<typeof setTimeout> | undefined;
  #persistDirty = false;
  #stats = { hits: 0, stale: 0, misses: 0, fetches: 0, notModified: 0, errors: 0, persisted: 0, fallback: 0, damaged: 0, changes: 0 };

  constructor(opts: ClientOptions) {
    if (typeof opts !== 'object' || opts === null) throw invalidArgument('options', 'createClient needs { url, token, ... }');
    let url: URL;
    try {
      url = new URL(opts.url);
    } catch {
      throw invalidArgument('url', 'must be the node\'s http:// or https:// URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalidArgument('url', 'must be the node\'s http:// or https:// URL');
    if (opts.token !== undefined && (typeof opts.token !== 'string' || !/^[\x21-\x7e]{1,512}$/.test(opts.token))) throw invalidArgument('token', 'must be the API token string');
    const positive = (name: string, v: number | undefined, dflt: number): number => {
      if (v === undefined) return dflt;
      if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw invalidArgument(name, 'must be a positive number');
      return v;
    };
    this.#ttl = positive('ttlMs', opts.ttlMs, 60_000);
    this.#retryMs = positive('retryMs', opts.retryMs, 1000);
    if (opts.onDamaged !== undefined && opts.onDamaged !== 'serve-last' && opts.onDamaged !== 'fail') throw invalidArgument('onDamaged', "must be 'serve-last' or 'fail'");
    this.#serveDamaged = opts.onDamaged !== 'fail';
    const timeoutMs = positive('timeoutMs', opts.timeoutMs, 10_000);
    const maxEntries = positive('maxEntries', opts.maxEntries, 1000);
    if (!Number.isInteger(maxEntries)) throw invalidArgument('maxEntries', 'must be an integer');
    const fetchImpl = opts.fetch ?? (globalThis.fetch?.bind(globalThis) as FetchLike | undefined);
    if (typeof fetchImpl !== 'function') throw invalidArgument('fetch', 'no fetch in this runtime: pass one');
    this.#fetch = fetchImpl;
    this.#coarse = opts.clock === undefined;
    this.#clock = opts.clock ?? coarseAcquire();
    this.#fallback = {};
    for (const [id, fb] of Object.entries(opts.fallback ?? {})) {
      if (!ID_RE.test(id)) throw invalidArgument(`fallback.${id}`, 'not a profile id');
      if (typeof fb !== 'object' || fb === null || typeof fb.modelId !== 'string') throw invalidArgument(`fallback.${id}`, 'a fallback profile needs at least modelId');
      this.#fallback[id] = fb;
    }
    this.#persist = opts.persist;
    this.#http = new Http({ url: url.href, token: opts.token, fetch: this.#fetch, timeoutMs });
    this.#lru = new LRUCache<string, Entry>({
      max: maxEntries,
      dispose: (e, key, reason) => {
        if (reason === 'set') return;
        if (e.kind !== 'current') this.#byId.get(e.id)?.delete(key);
      },
    });
    this.#responses = new AppResponseCache(opts.responseCache);
    if (opts.live) {
      const backoff: BackoffOptions = { baseMs: opts.reconnect?.baseMs ?? 500, maxMs: opts.reconnect?.maxMs ?? 30_000 };
      this.#live = new LiveFeed(
        { http: this.#http, fetch: this.#fetch, backoff },
        {
          change: (d) => this.#onChange(d),
          ready: () => {
            this.#liveReady = true;
            this.#everReady = true;
            for (const w of this.#readyWaiters) w.resolve();
            this.#readyWaiters.clear();
            this.#events.emit('live', { connected: true });
          },
          down: (err) => {
            const was = this.#liveReady;
            this.#liveReady = false;
            if (err) this.#report(err);
            // the node itself refused the stream (a bad or revoked token, ...): waiting cannot
            // help, so ready() says why; an unreachable node (CLIENT_UNAVAILABLE) is waited for
            if (err && !isUnavailable(err)) {
              for (const w of this.#readyWaiters) w.reject(err);
              this.#readyWaiters.clear();
            }
            // a transition only: a failed reconnect of a feed that is already down is an error event, not a `live` one
            if (was) this.#events.emit('live', { connected: false });
          },
        },
      );
      this.#live.start();
    }
  }

  on<E extends keyof ClientEvents>(event: E, listener: (payload: ClientEvents[E]) => void): () => void {
    return this.#events.on(event, listener);
  }

  off<E extends keyof ClientEvents>(event: E, listener: (payload: ClientEvents[E]) => void): void {
    this.#events.off(event, listener);
  }

  /** Whether the change feed is connected and caught up (live clients). */
  get live(): boolean {
    return this.#liveReady;
  }

  /**
   * Resolves when the change feed is connected and caught up (live clients; resolves at once
   * otherwise). While the node cannot be reached it keeps waiting (the feed reconnects); it
   * rejects with the node's error when the node refuses the stream (AUTH_UNAUTHORIZED for a bad or
   * revoked token, ...), and with CLIENT_CLOSED when the client is closed first.
   */
  ready(): Promise<void> {
    if (this.#closed) return Promise.reject(new ClientError(ClientErrorCode.CLOSED, 'the client is closed'));
    if (!this.#live || this.#liveReady) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#readyWaiters.add({ resolve, reject });
    });
  }

  /**
   * A profile view: the current one, `{ label }`'s, or `{ version }`'s (a portable ref, `@N`, or
   * a label name). Served from memory when it can be (see the module comment).
   */
  get(id: string, sel?: Selector): Promise<ProfileView> {
    if (sel === undefined && !this.#closed) {
      // hot path: a cached current entry (its id was checked when it was stored)
      const e = this.#lru.get(id);
      if (e !== undefined) {
        if (this.#isFresh(e)) {
          this.#stats.hits++;
          return e.promise;
        }
        this.#stats.stale++;
        this.#refresh(e);
        return e.promise;
      }
    }
    let key: string;
    let kind: Kind = 'current';
    let s: string | undefined;
    try {
      if (this.#closed) throw new ClientError(ClientErrorCode.CLOSED, 'the client is closed');
      if (typeof id !== 'string' || !ID_RE.test(id)) throw invalidArgument('id', 'must be a profile id');
      if (sel === undefined || (sel.label === undefined && sel.version === undefined)) key = id;
      else {
        if (typeof sel !== 'object') throw invalidArgument('selector', 'must be { label } or { version }');
        if (sel.label !== undefined && sel.version !== undefined) throw invalidArgument('selector', 'give label or version, not both');
        if (sel.label !== undefined) {
          if (typeof sel.label !== 'string' || !LABEL_RE.test(sel.label)) throw invalidArgument('label', 'must be a label name');
          kind = 'label';
          s = sel.label;
        } else {
          const v = sel.version;
          if (typeof v !== 'string' || v.length === 0 || v.length > 16_384) throw invalidArgument('version', 'must be a version reference');
          kind = PORTABLE_RE.test(v) ? 'version' : LABEL_RE.test(v) ? 'label' : 'ref';
          s = v;
        }
        key = `${id}${SEP}${kind === 'label' ? 'L' : 'V'}${s}`;
      }
    } catch (err) {
      return Promise.reject(err);
    }
    const e = this.#lru.get(key);
    if (e !== undefined) {
      if (this.#isFresh(e)) {
        this.#stats.hits++;
        return e.promise;
      }
      this.#stats.stale++;
      this.#refresh(e);
      return e.promise;
    }
    this.#stats.misses++;
    return this.#load(key, id, kind, s);
  }

  /**
   * Renders a profile's prompt locally with the node's own render module: `{{name}}` variables
   * filled, a non-empty systemMessage first, then the messages, then `template` (if named) as
   * a user message. Throws PROFILE_RENDER_MISSING_VARIABLES (details.missing) like the node.
   */
  async render(id: string, variables: RenderVariables = {}, opts: Selector & { template?: string } = {}): Promise<RenderResult> {
    const sel: Selector = {};
    if (opts.label !== undefined) sel.label = opts.label;
    if (opts.version !== undefined) sel.version = opts.version;
    const view = await this.get(id, sel);
    // one frozen renderable per cached view object, so the render module's compiled prompt
    // (kept per frozen object) is reused by every render of the same cached value
    let renderable = RENDERABLE.get(view);
    if (renderable === undefined) {
      renderable = Object.freeze({
        id: view.id,
        version: view.version,
        modelId: view.modelId,
        systemMessage: view.systemMessage ?? '',
        messages: view.messages ?? [],
        templates: view.templates ?? {},
        parameters: view.parameters ?? {},
      });
      RENDERABLE.set(view, renderable);
    }
    try {
      // like the node: the current state (no label or version asked for) warns while it has open conflicts
      const current = opts.label === undefined && opts.version === undefined;
      const openConflicts = current && typeof view.conflicts === 'number' ? view.conflicts : 0;
      return renderProfile(renderable as never, variables, { ...(opts.template !== undefined ? { template: opts.template } : {}), ...(openConflicts > 0 ? { openConflicts } : {}) }) as unknown as RenderResult;
    } catch (err) {
      throw asClientError(err);
    }
  }

  /**
   * The LLM response cache: the answer stored for (profile id, profile version, operation,
   * input), or `fn()`'s answer, stored. Pass the view or render result the call is made with.
   */
  cached<R>(profile: ProfileStamp, input: unknown, fn: () => R | Promise<R>, opts?: CachedOptions): Promise<R> {
    if (this.#closed) return Promise.reject(new ClientError(ClientErrorCode.CLOSED, 'the client is closed'));
    return this.#responses.cached(profile, input, fn, opts).catch((err: unknown) => {
      // the model call's own failure passes through untouched; the cache's are ClientErrors
      throw err instanceof Error && (err as { code?: unknown }).code !== undefined && (err as Error).name === 'ProfileSyncError' ? asClientError(err) : err;
    });
  }

  /** Stats of the response cache. */
  responseStats(): Promise<CacheStats> {
    return this.#responses.stats();
  }

  stats(): ClientStats {
    const s = this.#stats;
    return {
      entries: this.#lru.size,
      hits: s.hits,
      stale: s.stale,
      misses: s.misses,
      fetches: s.fetches,
      notModified: s.notModified,
      errors: s.errors,
      served: { persisted: s.persisted, fallback: s.fallback, damaged: s.damaged },
      live: { enabled: this.#live !== undefined, connected: this.#liveReady, position: this.#live?.position, changes: s.changes },
    };
  }

  /** Stops the change feed, writes the last known values (persist), closes the response cache. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#coarse) coarseRelease();
    for (const w of this.#readyWaiters) w.reject(new ClientError(ClientErrorCode.CLOSED, 'the client was closed before the change feed was ready'));
    this.#readyWaiters.clear();
    await this.#live?.close();
    this.#liveReady = false;
    if (this.#persistTimer !== undefined) clearTimeout(this.#persistTimer);
    if (this.#persistDirty) await this.#savePersisted().catch((err) => this.#report(err));
    await this.#responses.close().catch((err) => this.#report(err));
  }

  // --- internals ---------------------------------------------------------------

  #isFresh(e: Entry): boolean {
    if (e.source !== 'node' || e.stale) return false;
    if (e.kind === 'version') return true;
    if (this.#liveReady && e.covered) return true;
    return this.#clock() - e.fetchedAt < this.#ttl;
  }

  #path(id: string, kind: Kind, sel: string | undefined): string {
    const base = `/api/profiles/${encodePath(id)}`;
    if (kind === 'current') return base;
    if (kind === 'label') return `${base}?label=${encodeURIComponent(sel!)}`;
    return `${base}?version=${encodeURIComponent(sel!)}`;
  }

  async #fetchView(id: string, kind: Kind, sel: string | undefined, etag?: string): Promise<{ view: ProfileView; etag: string | undefined } | undefined> {
    this.#stats.fetches++;
    const r = await this.#http.request<ProfileView>('GET', this.#path(id, kind, sel), etag ? { headers: { 'if-none-match': etag } } : {});
    if (r.status === 304) {
      this.#stats.notModified++;
      return undefined;
    }
    if (!isView(r.body, id)) throw new ClientError(ClientErrorCode.BAD_RESPONSE, `GET ${this.#path(id, kind, sel)}: the answer is not a profile view`, { status: r.status });
    return { view: r.body, etag: r.etag };
  }

  #gen(id: string): number {
    return this.#gens.get(id) ?? 0;
  }

  #store(key: string, id: string, kind: Kind, sel: string | undefined, value: ProfileView, source: ValueSource, etag: string | undefined, covered: boolean): Entry {
    const e: Entry = {
      key,
      id,
      kind,
      sel,
      value,
      promise: settled(value),
      source,
      fetchedAt: this.#clock(),
      etag,
      covered,
      stale: false,
      refreshing: false,
      retryAt: 0,
    };
    this.#lru.set(key, e);
    if (kind !== 'current') {
      let set = this.#byId.get(id);
      if (!set) {
        set = new Set();
        this.#byId.set(id, set);
      }
      set.add(key);
    }
    if (source === 'node' && kind !== 'version' && this.#persist) this.#schedulePersist();
    return e;
  }

  #load(key: string, id: string, kind: Kind, sel: string | undefined): Promise<ProfileView> {
    const pending = this.#inflight.get(key);
    if (pending) return pending;
    const p = (async () => {
      const gen = this.#gen(id);
      const covered = this.#everReady;
      try {
        const r = await this.#fetchView(id, kind, sel);
        const e = this.#store(key, id, kind, sel, r!.view, 'node', r!.etag, covered);
        if (this.#gen(id) !== gen) {
          e.stale = true; // a change arrived while we fetched: this answer may predate it
          this.#refresh(e);
        }
        return r!.view;
      } catch (err) {
        const damaged = isDamaged(err);
        if (!isUnavailable(err) && !(damaged && this.#serveDamaged)) throw err;
        const last = await this.#lastKnown(key, id);
        if (last === undefined) throw err;
        this.#report(err as ClientError);
        const e = this.#store(key, id, kind, sel, last.value, last.source, undefined, false);
        e.retryAt = this.#clock() + this.#retryMs;
        this.#stats[last.source === 'persisted' ? 'persisted' : 'fallback']++;
        if (damaged) this.#stats.damaged++;
        return last.value;
      }
    })();
    this.#inflight.set(key, p);
    const done = () => {
      if (this.#inflight.get(key) === p) this.#inflight.delete(key);
    };
    p.then(done, done);
    return p;
  }

  #refresh(e: Entry): void {
    if (e.refreshing || this.#closed) return;
    if (!e.stale && this.#clock() < e.retryAt) return;
    e.refreshing = true;
    const gen = this.#gen(e.id);
    const covered = this.#everReady;
    void (async () => {
      let again = false;
      try {
        const r = await this.#fetchView(e.id, e.kind, e.sel, e.source === 'node' ? e.etag : undefined);
        if (this.#lru.peek(e.key) !== e) return; // dropped (deleted, evicted) meanwhile
        if (r === undefined) {
          e.fetchedAt = this.#clock();
          e.covered = covered;
          e.stale = false;
          e.retryAt = 0;
        } else {
          const n = this.#store(e.key, e.id, e.kind, e.sel, r.view, 'node', r.etag, covered);
          if (r.view.version !== e.value.version) this.#events.emit('updated', { id: e.id, ...(e.kind === 'label' ? { label: e.sel! } : {}), version: r.view.version });
          e = n;
        }
        again = this.#gen(e.id) !== gen;
        if (again) e.stale = true;
      } catch (err) {
        const ce = err as ClientError;
        if (ce.code === 'PROFILE_NOT_FOUND' || ce.code === 'PROFILE_DELETED' || ce.code === 'LABEL_NOT_FOUND' || (isDamaged(ce) && !this.#serveDamaged)) {
          // the node says it is gone (or, with onDamaged 'fail', damaged): the next get asks again (and throws its answer)
          if (this.#lru.peek(e.key) === e) this.#lru.delete(e.key);
        } else {
          e.retryAt = this.#clock() + this.#retryMs;
          if (isDamaged(ce)) this.#stats.damaged++;
        }
        this.#report(ce);
      } finally {
        e.refreshing = false;
      }
      if (again) this.#refresh(e);
    })();
  }

  #onChange(d: ChangeData): void {
    this.#stats.changes++;
    this.#gens.set(d.id, this.#gen(d.id) + 1);
    const cur = this.#lru.peek(d.id);
    if (cur !== undefined) {
      if (d.deleted) this.#lru.delete(d.id);
      else if (cur.value.version !== d.version || cur.source !== 'node') {
        cur.stale = true;
        this.#refresh(cur);
      }
    }
    const keys = this.#byId.get(d.id);
    if (keys) {
      for (const key of [...keys]) {
        const e = this.#lru.peek(key);
        if (e === undefined) {
          keys.delete(key);
          continue;
        }
        if (e.kind === 'version') continue; // immutable content
        if (e.kind === 'label') {
          const ref = d.labels[e.sel!];
          if (d.deleted || ref === undefined) this.#lru.delete(key);
          else if (ref !== e.value.version || e.source !== 'node') {
            e.stale = true;
            this.#refresh(e);
          }
          continue;
        }
        // '@N' refs: the open version moves with every change
        if (d.deleted) this.#lru.delete(key);
        else {
          e.stale = true;
          this.#refresh(e);
        }
      }
    }
    this.#events.emit('change', d);
  }

  async #lastKnown(key: string, id: string): Promise<{ value: ProfileView; source: ValueSource } | undefined> {
    if (this.#persist) {
      try {
        await this.#loadPersisted();
      } catch (err) {
        this.#report(new ClientError(ClientErrorCode.UNAVAILABLE, `persist: could not read the last known values (${(err as Error)?.message ?? String(err)})`, { cause: err }));
      }
      const v = this.#persisted?.get(key);
      if (v !== undefined && isView(v, id)) return { value: v, source: 'persisted' };
    }
    const fb = this.#fallback[id];
    if (fb !== undefined) return { value: normalizeFallback(id, fb), source: 'fallback' };
    return undefined;
  }

  #loadPersisted(): Promise<void> {
    this.#persistLoading ??= (async () => {
      const values = await this.#persist!.load();
      this.#persisted = new Map(Object.entries(values ?? {}));
    })();
    return this.#persistLoading;
  }

  #schedulePersist(): void {
    this.#persistDirty = true;
    if (this.#persistTimer !== undefined || this.#closed) return;
    this.#persistTimer = setTimeout(() => {
      this.#persistTimer = undefined;
      void this.#savePersisted().catch((err) => this.#report(new ClientError(ClientErrorCode.UNAVAILABLE, `persist: could not save the last known values (${(err as Error)?.message ?? String(err)})`, { cause: err })));
    }, 250);
    (this.#persistTimer as { unref?: () => void }).unref?.();
  }

  async #savePersisted(): Promise<void> {
    this.#persistDirty = false;
    try {
      await this.#loadPersisted();
    } catch {
      this.#persisted = new Map(); // unreadable file: replace it
    }
    const out = this.#persisted!;
    for (const e of this.#lru.values()) if (e.source === 'node' && e.kind !== 'version') out.set(e.key, e.value);
    await this.#persist!.save(Object.fromEntries(out));
  }

  #report(err: ClientError): void {
    this.#stats.errors++;
    this.#events.emit('error', err);
  }
}

/** A client for one node. See ClientOptions; `close()` it when done. */
export function createClient(opts: ClientOptions): ProfileSyncClient {
  return new ProfileSyncClient(opts);
}
