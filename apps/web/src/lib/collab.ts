/**
 * A live editing session on one profile: a Y.Doc bound to the node's /yjs/:profileId room
 * through the stock y-websocket WebsocketProvider (room = profile id, `?token=`), presence
 * through its awareness, and a sync state a person can read:
 *
 *   connecting -> syncing (first exchange) -> connected (up to date)
 *   local edit -> syncing -> saved (the node's durable view shows exactly these texts)
 *   socket lost -> offline (the provider reconnects with backoff); 44xx close -> closed (stop)
 *
 * "saved" is checked, not assumed: once local edits are quiet and the socket has flushed, the
 * session reads GET /api/profiles/:id and compares its texts with the local doc.
 */
import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';
import type { Awareness } from 'y-protocols/awareness';
import type { ProfileView } from '@profilesync/core';
import { plainMessages } from './messages.js';

export type SyncState = 'connecting' | 'syncing' | 'connected' | 'saved' | 'offline' | 'closed';

export interface CollabUser {
  name: string;
  color: string;
  colorLight: string;
}

export interface CollabStatus {
  state: SyncState;
  /** true once the first sync with the node finished (the profile's texts exist locally) */
  ready: boolean;
  /** why the node closed the room (e.g. AUTH_FORBIDDEN, PROFILE_NOT_FOUND) */
  error?: { code: string; message: string };
  /** local edits the node has not been seen to hold yet (true from the first local edit until "saved") */
  unsent?: boolean;
}

export interface CollabOptions {
  profileId: string;
  token: string;
  user: CollabUser;
  /** reads the node's current view, to confirm "saved" */
  fetchView: () => Promise<ProfileView>;
  /** ws(s)://host/yjs; default: this page's host */
  serverUrl?: string;
  /** quiet time after the last local edit before checking the node, ms */
  settleMillis?: number;
  /**
   * A Yjs update to start from (this tab's copy of edits not yet sent, lib/livedocs.ts): applied
   * before the provider connects, so it is sent with the first sync; the session starts unsent.
   */
  seed?: Uint8Array;
  /** start without connecting (a stored copy not yet checked against the profile on the node); `connect()` starts */
  hold?: boolean;
}

export function defaultServerUrl(): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/yjs`;
}

/** Close codes of the /yjs endpoint -> a stable code when the reason text carries none. */
const CLOSE_CODES: Readonly<Record<number, string>> = { 4400: 'YJS_BAD_MESSAGE', 4401: 'AUTH_UNAUTHORIZED', 4403: 'AUTH_FORBIDDEN', 4404: 'PROFILE_NOT_FOUND', 4410: 'PROFILE_DELETED', 4422: 'PROFILE_INVALID' };

/** What a close code means for the person at the editor, when the node's reason carries only the code. */
const CLOSE_MEANINGS: Readonly<Record<string, string>> = {
  SYNC_BAD_MESSAGE: 'the node could not read a message from this page; reload the page',
  YJS_BAD_MESSAGE: 'the node could not read a message from this page; reload the page',
  AUTH_UNAUTHORIZED: 'the node no longer accepts this token (revoked?); sign in again',
  AUTH_FORBIDDEN: 'this token may not open this profile',
  PROFILE_NOT_FOUND: 'this profile does not exist on the node',
  PROFILE_INVALID_ID: 'this is no valid profile id (letters, digits and . _ : -, at most 128 characters)',
  PROFILE_DELETED: 'this profile was deleted',
  PROFILE_INVALID: 'the node refused a change from this page',
};

/** `{ code, reason }` of a WebSocket close -> `{ code, message }` for display (never the code twice). */
export function describeClose(code: number, reason: string): { code: string; message: string } {
  const m = /^([A-Z][A-Z0-9_]{2,})(?::\s*|\s+-\s+|\s+)?(.*)$/.exec(reason);
  const c = m ? m[1]! : (CLOSE_CODES[code] ?? `WS_CLOSE_${code}`);
  const text = m ? m[2]! : reason;
  return { code: c, message: text || CLOSE_MEANINGS[c] || `the node closed the connection (${code})` };
}

/** The texts a person edits live, as plain strings (for the "saved" check); messages in order. */
export function textsOf(profile: Y.Map<unknown>): { description: string; systemMessage: string; templates: Record<string, string>; messages: { id: string; role: string; content: string }[] } {
  const templates: Record<string, string> = {};
  const t = profile.get('templates');
  if (t instanceof Y.Map) for (const [k, v] of t.entries()) templates[k] = String(v);
  return { description: String(profile.get('description') ?? ''), systemMessage: String(profile.get('systemMessage') ?? ''), templates, messages: plainMessages(profile) };
}

/** Whether the node's view holds exactly the local texts (and messages: same ids, order, roles, contents). */
export function sameTexts(local: ReturnType<typeof textsOf>, view: Pick<ProfileView, 'description' | 'systemMessage' | 'templates'> & { messages?: { id: string; role: string; content: string }[] }): boolean {
  if (local.description !== view.description || local.systemMessage !== view.systemMessage) return false;
  const a = Object.keys(local.templates);
  const b = Object.keys(view.templates ?? {});
  if (a.length !== b.length || !a.every((k) => view.templates[k] === local.templates[k])) return false;
  const vm = view.messages ?? [];
  return vm.length === local.messages.length && vm.every((m, i) => m.id === local.messages[i]!.id && m.role === local.messages[i]!.role && m.content === local.messages[i]!.content);
}

/** Failed connection attempts (never connected) before the badge says the endpoint is unreachable. */
export const UNREACHABLE_AFTER = 3;

/** Delay before the next "saved" check: the settle time, doubling per retry, at most 5 s. */
export function checkDelay(settleMillis: number, retries: number): number {
  return Math.min(settleMillis * 2 ** Math.min(retries, 10), 5000);
}

export class CollabSession {
  readonly doc = new Y.Doc();
  readonly provider: WebsocketProvider;
  readonly profile: Y.Map<unknown>;
  readonly #opts: CollabOptions;
  #status: CollabStatus = { state: 'connecting', ready: false };
  readonly #listeners = new Set<(s: CollabStatus) => void>();
  #dirty = false;
  #checkTimer: ReturnType<typeof setTimeout> | undefined;
  #retries = 0;
  #destroyed = false;

  constructor(opts: CollabOptions) {
    this.#opts = opts;
    this.profile = this.doc.getMap('profile');
    if (opts.seed !== undefined && opts.seed.length > 0) {
      Y.applyUpdate(this.doc, opts.seed, 'seed');
      this.#dirty = true;
      this.#status = { ...this.#status, unsent: true };
    }
    this.provider = new WebsocketProvider(opts.serverUrl ?? defaultServerUrl(), opts.profileId, this.doc, {
      params: { token: opts.token },
      disableBc: true, // every tab talks to the node: "saved" and read-only mean what they say
      maxBackoffTime: 5000,
      connect: opts.hold !== true,
    });
    this.awareness.setLocalStateField('user', opts.user);
    this.provider.on('status', ({ status }) => {
      if (status === 'connecting') {
        if (this.#status.error === undefined) this.#set({ state: this.#status.ready ? 'offline' : 'connecting' });
      }
      else if (status === 'connected') this.#set({ state: 'syncing' });
      else if (this.#status.state !== 'closed') this.#set({ state: 'offline' });
    });
    this.provider.on('sync', (synced: boolean) => {
      if (!synced) return;
      this.#set({ state: this.#dirty ? 'syncing' : 'connected', ready: true });
      if (this.#dirty) this.#scheduleCheck();
    });
    this.provider.on('connection-close', () => {
      // never connected after a few tries: say so instead of "Connecting…" forever
      if (!this.#status.ready && this.provider.wsUnsuccessfulReconnects >= UNREACHABLE_AFTER && this.#status.state !== 'closed') {
        this.#set({ state: 'offline', error: { code: 'YJS_UNREACHABLE', message: 'the live endpoint /yjs does not answer (is peer sync enabled on this node?); retrying' } });
      }
    });
    this.provider.on('closed', (e: { code: number; reason: string }) => {
      this.#set({ state: 'closed', error: describeClose(e.code, e.reason) });
    });
    this.doc.on('update', (_u: Uint8Array, origin: unknown) => {
      if (origin === this.provider) {
        // a remote change may make the node's view and ours equal again
        if (this.#dirty) this.#scheduleCheck();
        return;
      }
      this.#dirty = true;
      this.#retries = 0;
      if (this.#status.state !== 'offline' && this.#status.state !== 'closed' && this.#status.state !== 'connecting') this.#set({ state: 'syncing', unsent: true });
      else if (!this.#status.unsent) this.#set({ unsent: true });
      this.#scheduleCheck();
    });
  }

  get awareness(): Awareness {
    return this.provider.awareness;
  }

  get status(): CollabStatus {
    return this.#status;
  }

  /** Local edits the node has not been seen to hold yet. */
  get unsent(): boolean {
    return this.#dirty;
  }

  subscribe(fn: (s: CollabStatus) => void): () => void {
    this.#listeners.add(fn);
    fn(this.#status);
    return () => this.#listeners.delete(fn);
  }

  /** The Y.Text of a top-level text field or of a template (undefined before the first sync). */
  text(field: 'description' | 'systemMessage' | { template: string }): Y.Text | undefined {
    if (typeof field === 'string') {
      const t = this.profile.get(field);
      return t instanceof Y.Text ? t : undefined;
    }
    const templates = this.profile.get('templates');
    const t = templates instanceof Y.Map ? templates.get(field.template) : undefined;
    return t instanceof Y.Text ? t : undefined;
  }

  /** Connects a session started with `hold` (no-op otherwise). */
  connect(): void {
    if (!this.#destroyed && !this.provider.shouldConnect) this.provider.connect();
  }

  destroy(): void {
    this.#destroyed = true;
    clearTimeout(this.#checkTimer);
    this.#listeners.clear();
    this.provider.destroy();
    this.doc.destroy();
  }

  #set(patch: Partial<CollabStatus>): void {
    if (this.#destroyed) return;
    const next = { ...this.#status, ...patch };
    if (patch.state !== undefined && patch.state !== 'closed' && patch.error === undefined) delete next.error;
    this.#status = next;
    for (const fn of this.#listeners) fn(next);
  }

  #scheduleCheck(): void {
    clearTimeout(this.#checkTimer);
    this.#checkTimer = setTimeout(() => void this.#check(), checkDelay(this.#opts.settleMillis ?? 400, this.#retries));
  }

  /** Confirms "saved" against the node's durable view; retries while edits are in flight. */
  async #check(): Promise<void> {
    if (this.#destroyed || !this.#dirty) return;
    const ws = this.provider.ws;
    this.#retries++;
    if (!this.provider.synced || ws === null || ws.bufferedAmount > 0) return this.#scheduleCheck();
    const before = textsOf(this.profile);
    let view: ProfileView;
    try {
      view = await this.#opts.fetchView();
    } catch {
      return this.#scheduleCheck();
    }
    if (this.#destroyed) return;
    const now = textsOf(this.profile);
    if (sameTexts(before, view) && sameTexts(now, view)) {
      this.#dirty = false;
      this.#retries = 0;
      this.#set({ state: 'saved', unsent: false });
    } else {
      this.#scheduleCheck();
    }
  }
}
