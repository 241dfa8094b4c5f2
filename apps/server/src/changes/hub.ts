/**
 * The change hub: one ordered stream of profile changes for the change feed (GET /api/changes)
 * and webhooks, with positions taken from the log.
 *
 * - Order and positions: the log's `appended` event gives every profile entry its lsn in
 *   commit order; the store's change notification gives the entry's view. A change is
 *   released once every profile entry before it (by lsn) has been released, so released
 *   positions only grow and a consumer's "last position" means "everything up to here".
 * - Coalescing: changes released together (one event-loop turn) are merged per profile
 *   (the latest wins), as DESIGN §6 allows ("several changes may share one event").
 * - Resume: the hub keeps the latest released change of every profile (`latest`); `since(L)`
 *   is every profile whose latest change is after L, oldest first. At open that table is read
 *   from the log heads and the persisted views, so a position taken before a restart resumes
 *   against the reopened log with no gap and no duplicate.
 * - Epoch: positions are only comparable within one log, so each carries the log's creation
 *   time; `parsePosition` treats another epoch (or a position past the log's end, e.g. after a
 *   truncated restore) as unknown, and consumers then start from 0 (everything).
 */
import { Emitter } from '@profilesync/errors';

/** The data of one change event (DESIGN §6): `{ id, version, labels, deleted }`, plus the open conflict count (issue 13). */
export interface ChangeData {
  id: string;
  version: string;
  labels: Readonly<Record<string, string>>;
  deleted: boolean;
  /** open conflict records of the profile (view.conflicts) */
  conflicts: number;
}

export type ChangeKind = 'profile.created' | 'profile.updated' | 'profile.deleted' | 'label.moved' | 'conflict.opened' | 'conflict.resolved';

/** A released change: its data, its log position, and what it changed when the hub saw the state before it. */
export interface FeedChange {
  lsn: number;
  data: ChangeData;
  /** what changed against the previous released state; undefined when the previous state is unknown (catch-up after a restart) */
  kinds: ChangeKind[] | undefined;
  /** ms since the epoch of the (last) entry */
  at: number;
}

/** The slice of the event log the hub needs. */
export interface HubLog {
  on(event: 'appended', listener: (e: { stream: string; seq: number; lsn: number }) => void): () => void;
  head(stream: string): { lsn: number; ts: number } | undefined;
  streams(): string[];
  info(): { lastLsn: number; createdAt: number };
}

/** The slice of the profile store the hub needs. */
export interface HubStore {
  subscribe(listener: (e: { id: string; seq: number; view: ViewLike }) => void): () => void;
  /** the store's typed events: `action` tells a label move from a content change */
  on(event: 'profile-written', listener: (e: { id: string; seq: number; action: string }) => void): () => void;
  exportJson(ids?: string[]): Promise<ViewLike[]>;
  /** profiles known to be damaged (left out: they answer PROFILE_DAMAGED until repaired, then come as a change) */
  damaged?(): { profiles: { id: string }[] };
}

export interface ViewLike {
  id: string;
  version: string;
  labels: Readonly<Record<string, string>>;
  deleted: boolean;
  conflicts?: number;
}

export interface HubEvents {
  /** a change was committed but its view never arrived; it was read from the store instead */
  'stalled-change': { id: string; lsn: number; waitedMillis: number };
}

export interface ChangeHubOptions {
  /** how long a committed change may wait for its view before it is read from the store (ms) */
  stallMs?: number;
  clock?: () => number;
}

interface Pending {
  lsn: number;
  id: string;
  seq: number;
  data: ChangeData | undefined;
  /** the store's action for this entry ('update', 'label.set', 'delete', 'sync', ...), when known */
  action: string | undefined;
  since: number;
}

const LABEL_ACTIONS = new Set(['label.set', 'label.remove']);

const isProfileStream = (s: string): boolean => !s.startsWith('#');

function dataOf(v: ViewLike): ChangeData {
  return { id: v.id, version: v.version, labels: v.labels, deleted: v.deleted, conflicts: v.conflicts ?? 0 };
}

function sameLabels(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (a[k] !== b[k]) return false;
  return true;
}

/**
 * What changed from `prev` to `next` (pure; tested alone). `labelsOnly`: every entry merged
 * into this change was a label move (the version moves with the labels, the content did not).
 */
export function changeKinds(prev: ChangeData | undefined, next: ChangeData, labelsOnly = false): ChangeKind[] {
  if (prev === undefined) return next.deleted ? ['profile.deleted'] : ['profile.created'];
  const out: ChangeKind[] = [];
  if (next.deleted && !prev.deleted) out.push('profile.deleted');
  else if (!labelsOnly && (prev.version !== next.version || prev.deleted !== next.deleted)) out.push('profile.updated');
  if (!sameLabels(prev.labels, next.labels)) out.push('label.moved');
  // a merge that found a conflict, or a resolution (also when the content did not move)
  if (next.conflicts > prev.conflicts) out.push('conflict.opened');
  else if (next.conflicts < prev.conflicts) out.push('conflict.resolved');
  if (out.length === 0) out.push('profile.updated');
  return out;
}

/** Epoch of a log: its creation time in base 36. */
export function epochOf(createdAt: number): string {
  return Math.max(0, Math.floor(createdAt)).toString(36);
}

/** `EPOCH-LSN`: the SSE event id / webhook position of a change. */
export function formatPosition(epoch: string, lsn: number): string {
  return `${epoch}-${lsn}`;
}

const POSITION_RE = /^([0-9a-z]{1,13})-(\d{1,16})$/;

/** Whether `s` has the shape of a position (any epoch). */
export function isPositionShape(s: string): boolean {
  return POSITION_RE.test(s);
}

/**
 * The lsn to resume after, for a position given by a client: its lsn when it belongs to this
 * log (same epoch, not past the end), 0 (everything) otherwise. Undefined for a malformed one.
 */
export function parsePosition(s: string, epoch: string, lastLsn: number): number | undefined {
  const m = POSITION_RE.exec(s);
  if (!m) return undefined;
  const lsn = Number(m[2]);
  if (!Number.isSafeInteger(lsn)) return undefined;
  if (m[1] !== epoch || lsn > lastLsn) return 0;
  return lsn;
}

export type BatchListener = (batch: readonly FeedChange[]) => void;

export class ChangeHub {
  readonly epoch: string;
  readonly events = new Emitter<HubEvents>('change-hub');
  readonly #log: HubLog;
  readonly #store: HubStore;
  readonly #stallMs: number;
  readonly #clock: () => number;
  /** latest released change per profile */
  readonly #latest = new Map<string, FeedChange>();
  /** committed profile entries not yet released, in lsn order */
  #pending: Pending[] = [];
  readonly #bySeq = new Map<string, Pending>();
  readonly #listeners = new Set<BatchListener>();
  #released = 0;
  #flushScheduled = false;
  #stallTimer: ReturnType<typeof setTimeout> | undefined;
  #unsubscribe: (() => void)[] = [];
  #closed = false;

  private constructor(log: HubLog, store: HubStore, opts: ChangeHubOptions) {
    this.#log = log;
    this.#store = store;
    this.#stallMs = opts.stallMs ?? 250;
    this.#clock = opts.clock ?? Date.now;
    this.epoch = epochOf(log.info().createdAt);
  }

  /**
   * Subscribes to the log and the store, then reads the latest state of every profile. Call it
   * before anything writes (the server opens it before it listens or mounts sync).
   */
  static async open(log: HubLog, store: HubStore, opts: ChangeHubOptions = {}): Promise<ChangeHub> {
    const hub = new ChangeHub(log, store, opts);
    hub.#unsubscribe.push(
      log.on('appended', (e) => hub.#onAppended(e.stream, e.seq, e.lsn)),
      store.on('profile-written', (e) => hub.#onWritten(e.id, e.seq, e.action)),
      store.subscribe((e) => hub.#onChange(e.id, e.seq, e.view)),
    );
    const damaged = new Set(store.damaged?.().profiles.map((p) => p.id) ?? []);
    const ids = log.streams().filter((id) => isProfileStream(id) && !damaged.has(id));
    const BATCH = 256;
    for (let i = 0; i < ids.length; i += BATCH) {
      const views = await store.exportJson(ids.slice(i, i + BATCH));
      for (const v of views) {
        if (hub.#latest.has(v.id)) continue; // released live while we were reading: newer
        const head = log.head(v.id);
        if (!head) continue;
        hub.#latest.set(v.id, { lsn: head.lsn, data: dataOf(v), kinds: undefined, at: head.ts });
      }
    }
    hub.#released = Math.max(hub.#released, log.info().lastLsn);
    return hub;
  }

  /** Highest position released so far (at open: the log's last lsn). */
  get position(): number {
    return this.#released;
  }

  /** Number of profiles known to the hub. */
  get size(): number {
    return this.#latest.size;
  }

  /** Changes committed but not yet released (waiting for an earlier one). */
  get pending(): number {
    return this.#pending.length;
  }

  /** The latest released change of every profile changed after `lsn`, oldest first. */
  since(lsn: number, filter?: (id: string) => boolean): FeedChange[] {
    const out: FeedChange[] = [];
    for (const c of this.#latest.values()) {
      if (c.lsn > lsn && (filter === undefined || filter(c.data.id))) out.push(c);
    }
    return out.sort((a, b) => a.lsn - b.lsn);
  }

  /** The latest released change of one profile. */
  latest(id: string): FeedChange | undefined {
    return this.#latest.get(id);
  }

  /**
   * Listens to released batches (each sorted by lsn, one change per profile). Synchronous with
   * `since`: a caller that reads `since(L)` and subscribes in the same turn sees every change
   * exactly once.
   */
  subscribe(listener: BatchListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Resolves once everything committed so far has been released. */
  async settled(): Promise<void> {
    while (this.#pending.length > 0 && !this.#closed) {
      await new Promise((r) => setImmediate(r));
    }
  }

  close(): void {
    this.#closed = true;
    for (const u of this.#unsubscribe.splice(0)) u();
    if (this.#stallTimer) clearTimeout(this.#stallTimer);
    this.#listeners.clear();
    this.#pending = [];
    this.#bySeq.clear();
  }

  #onAppended(stream: string, seq: number, lsn: number): void {
    if (this.#closed || !isProfileStream(stream)) return;
    const p: Pending = { lsn, id: stream, seq, data: undefined, action: undefined, since: this.#clock() };
    this.#pending.push(p);
    this.#bySeq.set(`${seq}:${stream}`, p);
  }

  #onWritten(id: string, seq: number, action: string): void {
    const p = this.#bySeq.get(`${seq}:${id}`);
    if (p !== undefined) p.action = action;
  }

  #onChange(id: string, seq: number, view: ViewLike): void {
    if (this.#closed) return;
    const p = this.#bySeq.get(`${seq}:${id}`);
    if (p === undefined) return; // not a committed entry we saw (cannot happen for a live log)
    p.data = dataOf(view);
    this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      this.#flush();
    });
  }

  #flush(): void {
    if (this.#closed) return;
    let n = 0;
    while (n < this.#pending.length && this.#pending[n]!.data !== undefined) n++;
    if (n > 0) {
      const ready = this.#pending.splice(0, n);
      const merged = new Map<string, Pending>();
      const labelsOnly = new Map<string, boolean>();
      for (const p of ready) {
        this.#bySeq.delete(`${p.seq}:${p.id}`);
        merged.delete(p.id); // re-insert: the map keeps lsn order of the last change
        merged.set(p.id, p);
        labelsOnly.set(p.id, (labelsOnly.get(p.id) ?? true) && p.action !== undefined && LABEL_ACTIONS.has(p.action));
      }
      const now = this.#clock();
      const batch: FeedChange[] = [];
      for (const p of merged.values()) {
        const prev = this.#latest.get(p.id);
        // an entry that changed nothing a client sees (a version record closing a run: same
        // content ref, labels, tombstone and open conflicts) is not a change event
        if (prev !== undefined && prev.data.version === p.data!.version && prev.data.deleted === p.data!.deleted && prev.data.conflicts === p.data!.conflicts && sameLabels(prev.data.labels, p.data!.labels)) continue;
        const c: FeedChange = { lsn: p.lsn, data: p.data!, kinds: changeKinds(prev?.data, p.data!, labelsOnly.get(p.id)), at: now };
        this.#latest.set(p.id, c);
        batch.push(c);
      }
      this.#released = Math.max(this.#released, ready[ready.length - 1]!.lsn);
      if (batch.length > 0) for (const l of this.#listeners) {
        try {
          l(batch);
        } catch {
          /* one consumer must not stop the others */
        }
      }
    }
    if (this.#pending.length > 0) this.#armStallTimer();
  }

  /** A committed change whose view never arrives would hold back every later one: read it from the store. */
  #armStallTimer(): void {
    if (this.#stallTimer !== undefined) return;
    this.#stallTimer = setTimeout(() => {
      this.#stallTimer = undefined;
      void this.#rescueStalled();
    }, this.#stallMs);
    this.#stallTimer.unref?.();
  }

  async #rescueStalled(): Promise<void> {
    const now = this.#clock();
    const stalled = this.#pending.filter((p) => p.data === undefined && now - p.since >= this.#stallMs);
    for (const p of stalled) {
      try {
        const [view] = await this.#store.exportJson([p.id]);
        if (view && p.data === undefined) {
          p.data = dataOf(view);
          this.events.emit('stalled-change', { id: p.id, lsn: p.lsn, waitedMillis: this.#clock() - p.since });
        }
      } catch {
        /* retried on the next timer */
      }
    }
    this.#flush();
    if (this.#pending.length > 0) this.#armStallTimer();
  }
}
