/**
 * The ProfileStore core. Writes (DESIGN §2): per-profile queue -> validate -> apply to the live
 * Y.Doc in one transaction -> capture the exact update -> log.append (entry + version + view, one
 * atomic durable batch) -> replace the hot view -> notify. A refused change is never
 * acknowledged nor fanned out, and the live doc is dropped (reloaded from the log next time).
 * Versions (versions.ts): content changes made here form runs, closed into version records.
 */
import type { AppendInput, EventLog } from '@profilesync/log';
import { randomBytes } from 'node:crypto';
import { hashOf } from './state-hash.js';
import * as Y from 'yjs';
import { profileTag } from '@profilesync/model';
import { AUDIT_STREAM, encodeAudit, validateAuditInput } from './audit.js';
import { HotViews, LiveDocs, type LiveDoc } from './caches.js';
import { deepFreeze, jsonEqual } from './canonical.js';
import type { RawConflict } from './conflicts.js';
import { ContentTracker, VERSIONS_ROOT, contentSnapshotBytes, docAtSnapshot, holdsSnapshot } from './content-state.js';
import { changedPaths, summaryLine, type EntryAction } from './diff.js';
import { CoreErrorCode, coreError, damagedError, isDamageCode } from './errors.js';
import { Emitter, monoMs } from './events.js';
import { attributeItem, inlineVersion } from './history.js';
import { assertProfileId } from './ids.js';
import { decodePersisted, frozenView, iso, materializeDoc, persistedBytes } from './materialize.js';
import {
  applyContent,
  canonicalContent,
  contentOf,
  makeView,
  migrationUpdate,
  newProfileDoc,
  readContent,
  schemaOf,
  skeletonUpdate,
  type ProfileContent,
} from './model.js';
import { openCount as openConflicts } from './conflict-records.js';
import { ProfileIndex } from './profile-index.js';
import { ProfileQueues } from './queue.js';
import { validateContent, validateFields, DEFAULT_MAX_PROFILE_BYTES } from './schema.js';
import { VersionTracker } from './version.js';
import { byOf, DEFAULT_IDLE_MS, isLive, isReplicated, stampOf, toBase64url, VersionIndex, type VersionRecord } from './versions.js';
import type { ChangeEvent, ConflictRecord, ProfileView, VersionReason, WriteContext } from './types.js';

export interface StoreCoreOptions {
  clock?: () => number;
  hotCacheBytes?: number;
  maxDocs?: number;
  maxDocBytes?: number;
  /** limit on the canonical JSON of a profile's content (default 1 MiB) */
  maxProfileBytes?: number;
  /** limit on one remote Yjs update (default 4 x maxProfileBytes) */
  maxUpdateBytes?: number;
  /** whether close() closes the log (true when openStore opened it) */
  ownsLog?: boolean;
  /** this node's name in version records (default 'local'; the server passes its node id) */
  nodeId?: string;
  /** versions: the idle gap that closes a run (default 5000 ms) */
  versions?: { idleMs?: number };
}

const LOAD_ORIGIN = Symbol('load');
const SKELETON_ORIGIN = Symbol('skeleton');

export function checkContext(ctx: unknown): WriteContext {
  const c = ctx as Partial<WriteContext> | null;
  const ok = (v: unknown): boolean => typeof v === 'string' && v.length > 0 && v.length <= 256;
  if (c === null || typeof c !== 'object' || !ok(c.actor) || !ok(c.origin)) {
    throw coreError(CoreErrorCode.INVALID, 'write context needs actor and origin (1..256 characters)', { path: 'ctx', rule: 'context' });
  }
  return c as WriteContext;
}

interface Capture {
  origin: object | null;
  out: Uint8Array | null;
}
/** One permanent 'update' listener per doc that captureUpdate used (no on/off per write). */
const CAPTURES = new WeakMap<Y.Doc, Capture>();

function captureOf(doc: Y.Doc): Capture {
  let cap = CAPTURES.get(doc);
  if (cap === undefined) {
    const c: Capture = { origin: null, out: null };
    doc.on('update', (u: Uint8Array, o: unknown) => {
      if (c.origin !== null && o === c.origin) c.out = c.out === null ? u : Y.mergeUpdates([c.out, u]);
    });
    CAPTURES.set(doc, c);
    cap = c;
  }
  return cap;
}

/** Runs `fn` in one transaction and returns the exact update it emitted (null when nothing changed). */
export function captureUpdate(doc: Y.Doc, origin: object, fn: () => void): Uint8Array | null {
  const cap = captureOf(doc);
  cap.origin = origin;
  cap.out = null;
  try {
    doc.transact(fn, origin);
    return cap.out;
  } finally {
    cap.origin = null;
    cap.out = null;
  }
}

export { hashOf };

/** A run of content changes made on this node, not yet closed into a version. */
export interface Run {
  actors: string[];
  /** origin of the last change */
  origin: string;
  /** every origin of the run's changes */
  origins: string[];
  /** every change came through /yjs (live co-editing shares one run) */
  live: boolean;
  /** clock() of the last change (the version's `at`) */
  last: number;
  /** monotonic ms of the last change (the idle gap) */
  lastMono: number;
  /** content before the run's first change (fields are diffed against it); undefined: unknown (diffed against the newest version) */
  base: ProfileContent | null | undefined;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** the reason it closes with when idle: 'idle', or 'startup' for a run found open at open */
  idleReason?: VersionReason;
}

export interface CloseArgs {
  reason: VersionReason;
  message?: string;
  /** actors when no run is known (startup, label, checkpoint of another node's changes) */
  actors?: string[];
  /** content the version's fields are diffed against, when no run is known */
  base?: ProfileContent | null;
}

/**
 * The state of a doc before a peer's changes were merged into it (applyRemote): an open run is
 * closed at it, not at the merged state (docs/profile-model.md §5, "Runs and peers").
 */
export interface PreMerge {
  key: string;
  bytes: Uint8Array;
  /** `at` of the newest version the node knew before the merge */
  newestAt: number;
  /** what the run's fields are diffed against (its base, or the newest version before the merge); called only when a version is written */
  base: () => ProfileContent | null;
}

/** A version record written into the doc, ready to persist. */
export interface Closing {
  key: string;
  rec: VersionRecord;
  update: Uint8Array;
  /** '#audit' input (profile.edit), or undefined for create/revert/delete/import (their entry is the record) */
  audit: AppendInput | undefined;
}

interface PersistArgs {
  id: string;
  live: LiveDoc;
  update: Uint8Array;
  action: EntryAction;
  ctx: WriteContext;
  before: ProfileContent | null;
  created: boolean;
  conflicts?: RawConflict[];
  /** repair: write as a new chain segment (log.replaceStream) instead of appending */
  replace?: boolean;
  /** the content the doc now holds, when the caller knows it (local writes) */
  content?: ProfileContent;
  /** close a version in the same entry (create, revert, delete, import) */
  close?: CloseArgs;
  /** further inputs of the same atomic batch ('#audit' records) */
  extra?: AppendInput[];
  /** fields for the summary instead of the content diff (version entries) */
  summaryFields?: string[];
  /** a remote update's entry also holds structs this node wrote (the conflict records of a merge) */
  authored?: boolean;
}

/** Internal state and the write path; the public API is in ProfileStoreImpl (store-api.ts). */
export class StoreCore {
  readonly log: EventLog;
  readonly clock: () => number;
  readonly hot: HotViews;
  readonly docs: LiveDocs;
  readonly queues = new ProfileQueues();
  readonly index = new ProfileIndex();
  readonly events = new Emitter();
  readonly maxProfileBytes: number;
  readonly maxUpdateBytes: number;
  readonly ownsLog: boolean;
  readonly nodeId: string;
  readonly idleMs: number;
  /** this process's Yjs client id for local writes (random per open; never the skeleton's 0) */
  readonly clientId: number;
  /** open runs of content changes made on this node, by profile */
  readonly runs = new Map<string, Run>();
  readonly #listeners = new Set<(e: ChangeEvent) => void>();
  closed = false;

  constructor(log: EventLog, opts: StoreCoreOptions = {}) {
    this.log = log;
    this.clock = opts.clock ?? Date.now;
    this.hot = new HotViews(opts.hotCacheBytes);
    this.docs = new LiveDocs((id) => this.queues.busy(id), opts.maxDocs, opts.maxDocBytes);
    this.maxProfileBytes = opts.maxProfileBytes ?? DEFAULT_MAX_PROFILE_BYTES;
    this.maxUpdateBytes = opts.maxUpdateBytes ?? 4 * this.maxProfileBytes;
    this.ownsLog = opts.ownsLog ?? false;
    this.nodeId = opts.nodeId ?? 'local';
    const idle = opts.versions?.idleMs ?? DEFAULT_IDLE_MS;
    if (!Number.isInteger(idle) || idle < 1 || idle > 86_400_000) {
      throw coreError(CoreErrorCode.INVALID, 'versions.idleMs must be an integer 1..86400000', { path: 'versions.idleMs', rule: 'range' });
    }
    this.idleMs = idle;
    let id = 0;
    while (id === 0) id = randomBytes(4).readUInt32LE(0);
    this.clientId = id;
    // a profile found damaged (at open, or by any read) is dropped from every cache and from the
    // index (lists, the sync digest): nothing of it is served as current until it is repaired
    log.on('damaged', (d) => {
      if (d.stream === '' || d.stream.startsWith('#')) return;
      this.hot.delete(d.stream);
      this.docs.drop(d.stream);
      this.index.remove(d.stream);
      this.events.emit('profile-damaged', { id: d.stream, kind: d.kind, message: d.message });
    });
  }

  /** What the log knows about a damaged profile (for PROFILE_DAMAGED details). */
  findings(id: string): unknown[] {
    return this.log.damage().streams.find((s) => s.stream === id)?.findings ?? [];
  }

  /** Throws PROFILE_DAMAGED when the profile's stored data is known to be damaged. */
  assertIntact(id: string): void {
    if (this.log.isDamaged(id)) throw damagedError(id, this.findings(id));
  }

  /** A read of `id` failed: damage codes become PROFILE_DAMAGED, anything else passes. */
  readFailed(id: string, err: unknown): Error {
    if (isDamageCode((err as { code?: string })?.code)) {
      this.hot.delete(id);
      this.docs.drop(id);
      return damagedError(id, this.findings(id), err);
    }
    return err as Error;
  }

  assertOpen(): void {
    if (this.closed) throw coreError(CoreErrorCode.STORE_CLOSED, 'the profile store is closed');
  }

  exists(id: string): boolean {
    return this.log.head(id) !== undefined;
  }

  #live(doc: Y.Doc, bytes: number): LiveDoc {
    return { doc, bytes, tracker: new ContentTracker(doc), versions: new VersionIndex(doc), full: new VersionTracker(doc) };
  }

  /** The live doc of an existing profile (loaded from the log on a miss); call inside the queue. */
  async acquire(id: string): Promise<LiveDoc> {
    this.assertIntact(id);
    const cached = this.docs.get(id);
    if (cached !== undefined && !cached.doc.isDestroyed && this.exists(id)) return cached;
    if (!this.exists(id)) throw coreError(CoreErrorCode.NOT_FOUND, `profile ${id} not found`, { id });
    const t0 = monoMs();
    let loaded;
    try {
      loaded = await this.log.loadState(id);
    } catch (err) {
      throw this.readFailed(id, err);
    }
    const doc = newProfileDoc();
    let bytes = 0;
    doc.transact(() => {
      for (const u of loaded.updates) {
        Y.applyUpdate(doc, u, LOAD_ORIGIN);
        bytes += u.byteLength;
      }
    }, LOAD_ORIGIN);
    // set after loading: the state holds this client's own earlier structs
    doc.clientID = this.clientId;
    const live = this.#live(doc, bytes);
    this.docs.set(id, live);
    const ms = monoMs() - t0;
    this.docs.counters.coldLoads.record(ms);
    this.events.emit('document-loaded', { id, bytes: live.bytes, snapshotSeq: loaded.snapshotSeq, tailEntries: loaded.tailEntries, durationMillis: ms });
    return live;
  }

  /** A new live doc holding the skeleton and the schema-2 migration (for create). */
  freshDoc(id: string): LiveDoc {
    this.docs.drop(id);
    const doc = newProfileDoc();
    doc.transact(() => {
      Y.applyUpdate(doc, skeletonUpdate(id), SKELETON_ORIGIN);
      Y.applyUpdate(doc, migrationUpdate(), SKELETON_ORIGIN);
    }, SKELETON_ORIGIN);
    doc.clientID = this.clientId;
    const live = this.#live(doc, 0);
    this.docs.set(id, live);
    return live;
  }

  /** A new empty live doc (a profile first seen through a remote update). */
  emptyDoc(id: string): LiveDoc {
    this.docs.drop(id);
    const doc = newProfileDoc();
    doc.clientID = this.clientId;
    const live = this.#live(doc, 0);
    this.docs.set(id, live);
    return live;
  }

  /** Current content of a profile whose live doc is held (hot view when present: same content). */
  currentContent(id: string, live: LiveDoc): ProfileContent {
    const hot = this.hot.peek(id);
    if (hot !== undefined) return contentOf(hot);
    return validateContent(readContent(live.doc));
  }

  checkContent(id: string, content: unknown): ProfileContent {
    const c = validateContent(content);
    if (c.id !== id) throw coreError(CoreErrorCode.INVALID, 'id does not match the profile', { path: 'id', rule: 'id-mismatch', issues: [] });
    return c;
  }

  /** Validates only the fields that differ (by reference) from `before`, which is known valid. */
  checkChanged(id: string, before: ProfileContent, next: ProfileContent): ProfileContent {
    const changed = (Object.keys(next) as (keyof ProfileContent)[]).filter((k) => next[k] !== before[k]);
    if (next.id !== id) throw coreError(CoreErrorCode.INVALID, 'id does not match the profile', { path: 'id', rule: 'id-mismatch', issues: [] });
    return validateFields(next, changed, before);
  }

  tooLarge(bytes: number): Error {
    return coreError(CoreErrorCode.TOO_LARGE, `profile view is ${bytes} bytes, the limit is ${this.maxProfileBytes}`, { path: '', rule: 'max-profile-bytes', bytes, limit: this.maxProfileBytes });
  }

  // --- version refs ------------------------------------------------------------

  /** The version hash H of a live doc's current state (content snapshot; full snapshot for schema 1). */
  stateKey(live: LiveDoc, schema: 1 | 2 = schemaOf(live.doc)): { key: string; bytes: Uint8Array } {
    const bytes = schema === 2 ? live.tracker.bytes() : Y.encodeSnapshotV2(Y.snapshot(live.doc));
    return { key: hashOf(bytes), bytes };
  }

  refOf(id: string, key: string): string {
    return `v2.${profileTag(id)}.${key}`;
  }

  // --- runs and versions ---------------------------------------------------------

  /** Notes a content change made on this node (after it was applied to the doc). */
  noteChange(id: string, ctx: WriteContext, before: ProfileContent | null): void {
    if (isReplicated(ctx.origin)) return;
    const now = this.clock();
    const mono = monoMs();
    const run = this.runs.get(id);
    if (run === undefined) {
      const r: Run = { actors: [ctx.actor], origin: ctx.origin, origins: [ctx.origin], live: isLive(ctx.origin), last: now, lastMono: mono, base: before, timer: undefined };
      this.runs.set(id, r);
      this.#arm(id, r, this.idleMs);
      return;
    }
    if (!run.actors.includes(ctx.actor)) run.actors.push(ctx.actor);
    if (!run.origins.includes(ctx.origin) && run.origins.length < 16) run.origins.push(ctx.origin);
    run.live &&= isLive(ctx.origin);
    run.origin = ctx.origin;
    run.last = now;
    run.lastMono = mono;
  }

  /** Whether a write by ctx closes the open run first (another actor, unless both are live /yjs edits). */
  closesRun(id: string, ctx: WriteContext): boolean {
    const run = this.runs.get(id);
    if (run === undefined || isReplicated(ctx.origin) || run.actors.includes(ctx.actor)) return false;
    return !(run.live && isLive(ctx.origin));
  }

  #arm(id: string, run: Run, ms: number): void {
    run.timer = setTimeout(() => {
      run.timer = undefined;
      if (this.runs.get(id) !== run || this.closed) return;
      const left = run.lastMono + this.idleMs - monoMs();
      if (left > 1) {
        this.#arm(id, run, left);
        return;
      }
      this.queues
        .run(id, async () => {
          if (this.runs.get(id) !== run || this.closed) return;
          await this.closeAndPersist(id, await this.acquire(id), { reason: run.idleReason ?? 'idle' });
        })
        .catch((err: unknown) => {
          this.events.emit('version-close-failed', { id, code: (err as { code?: string }).code ?? 'UNKNOWN' });
          if (this.runs.get(id) === run && !this.closed && run.timer === undefined) this.#arm(id, run, this.idleMs);
        });
    }, ms);
    run.timer.unref?.();
  }

  /**
   * A run this node left open before it stopped (its persisted view says so): closed after the
   * idle gap like any run (reason startup), so opening writes nothing at once; `last` is its last
   * change (the persisted view's time). A peer's changes arriving first close it before they are
   * merged (applyRemote), at the state this node left.
   */
  resumeRun(id: string, actor: string, last: number = this.clock()): void {
    if (this.runs.has(id)) return;
    const r: Run = { actors: [actor], origin: `node:${this.nodeId}`, origins: [], live: false, last, lastMono: monoMs(), base: undefined, timer: undefined, idleReason: 'startup' };
    this.runs.set(id, r);
    this.#arm(id, r, this.idleMs);
  }

  dropRun(id: string): void {
    const run = this.runs.get(id);
    if (run?.timer !== undefined) clearTimeout(run.timer);
    this.runs.delete(id);
  }

  /**
   * Writes a version record for the doc's current state into the doc (inside the caller's queue
   * slot) and returns it, or null when the state is already a version (nothing to close).
   */
  prepareClose(id: string, live: LiveDoc, current: ProfileContent, args: CloseArgs, origin: object, pre?: PreMerge): Closing | null {
    const { key, bytes } = pre ?? this.stateKey(live);
    if (live.versions.has(key)) return null;
    const run = this.runs.get(id);
    const actors = run?.actors.slice() ?? args.actors ?? [this.hot.peek(id)?.updatedBy ?? 'unknown'];
    const base = pre !== undefined ? pre.base() : run !== undefined ? run.base : args.base;
    const fields = changedPaths(base === undefined ? this.newestVersionContent(id, live) : (base ?? emptyContentFor(id)), current).filter((f) => !f.startsWith('labels.'));
    const rec: VersionRecord = {
      at: Math.max(run?.last ?? this.clock(), (pre?.newestAt ?? live.versions.newestAt()) + 1),
      actors,
      by: byOf(actors),
      node: this.nodeId,
      reason: args.reason,
      fields: fields.slice(0, 256),
      snapshot: toBase64url(bytes),
    };
    if (args.message !== undefined) rec.message = args.message;
    const update = captureUpdate(live.doc, origin, () => live.doc.getMap(VERSIONS_ROOT).set(key, rec));
    if (update === null) return null;
    let audit: AppendInput | undefined;
    if (!['create', 'revert', 'delete', 'import', 'migrate', 'resolve'].includes(args.reason)) {
      // the record is written by this node when the version closes (possibly after its writers
      // left or were revoked): its origin is the node; the writes' origins are in details
      const details: Record<string, unknown> = { version: this.refOf(id, key), reason: args.reason, actors, origins: run?.origins.slice() ?? [] };
      if (args.message !== undefined) details['message'] = args.message;
      const stored = validateAuditInput({ actor: actors[0], origin: `node:${this.nodeId}`, action: 'profile.edit', outcome: 'ok', profile: id, fields: rec.fields.slice(0, 100), details });
      audit = { stream: AUDIT_STREAM, body: encodeAudit(stored), actor: stored.actor, origin: stored.origin, summary: 'profile.edit' };
    }
    return { key, rec, update, audit };
  }

  /** Content of the newest version (the base of a run whose start is unknown); empty when none. */
  newestVersionContent(id: string, live: LiveDoc): ProfileContent {
    const list = live.versions.sorted();
    return this.versionContent(id, live, list[list.length - 1]?.rec);
  }

  /** Content of a version record (labels left out); empty when none or not rebuildable here. */
  versionContent(id: string, live: LiveDoc, rec: VersionRecord | undefined): ProfileContent {
    if (rec === undefined) return emptyContentFor(id);
    try {
      const snap = Y.decodeSnapshotV2(Buffer.from(rec.snapshot, 'base64url'));
      if (!holdsSnapshot(live.doc, snap)) return emptyContentFor(id);
      const past = docAtSnapshot(live.doc, snap, newProfileDoc());
      try {
        // labels are not content (a rebuilt version has none)
        return { ...(readContent(past) as unknown as ProfileContent), labels: {} };
      } finally {
        past.destroy();
      }
    } catch {
      return emptyContentFor(id);
    }
  }

  /** Closes the open run (or the not-yet-versioned current state) into a version and persists it. */
  async closeAndPersist(id: string, live: LiveDoc, args: CloseArgs): Promise<{ key: string; rec: VersionRecord } | null> {
    const t0 = monoMs();
    const current = this.currentContent(id, live);
    const run = this.runs.get(id);
    const origin = { close: args.reason };
    let closing: Closing | null;
    try {
      closing = this.prepareClose(id, live, current, args, origin);
    } catch (err) {
      this.docs.drop(id);
      throw err;
    }
    if (closing === null) {
      this.dropRun(id);
      return null;
    }
    const actor = closing.rec.actors[0]!;
    const ctx: WriteContext = { actor, origin: run?.origin ?? `node:${this.nodeId}` };
    await this.persist({
      id,
      live,
      update: closing.update,
      action: 'version',
      ctx,
      before: current,
      created: false,
      content: current,
      summaryFields: closing.rec.fields,
      ...(closing.audit !== undefined ? { extra: [closing.audit] } : {}),
    });
    if (this.runs.get(id) === run) this.dropRun(id);
    this.events.emit('version-closed', { id, version: this.refOf(id, closing.key), reason: args.reason, actors: closing.rec.actors.length, fields: closing.rec.fields.length, durationMillis: monoMs() - t0 });
    return { key: closing.key, rec: closing.rec };
  }

  /** Before a local write by ctx: closes the open run when ctx is another (non-live) actor. */
  async closeBefore(id: string, live: LiveDoc, ctx: WriteContext): Promise<void> {
    if (this.closesRun(id, ctx)) await this.closeAndPersist(id, live, { reason: 'actor' });
  }

  /**
   * Applies `next` to the live doc as a forward change and persists it. Returns the current view
   * unchanged when `next` equals `before` (no entry is appended for a no-op).
   */
  async writeContent(id: string, live: LiveDoc, before: ProfileContent, next: ProfileContent, action: EntryAction, ctx: WriteContext, close?: CloseArgs): Promise<ProfileView> {
    if (jsonEqual(before, next)) return this.viewOrLoad(id);
    const origin = { ctx };
    let update: Uint8Array | null;
    try {
      update = captureUpdate(live.doc, origin, () => applyContent(live.doc, before, next));
    } catch (err) {
      this.docs.drop(id);
      throw err;
    }
    if (update === null) return this.viewOrLoad(id);
    return this.persist({ id, live, update, action, ctx, before, created: false, content: next, ...(close !== undefined ? { close } : {}) });
  }

  /** The current view (hot, else persisted); used inside the queue. */
  async viewOrLoad(id: string): Promise<ProfileView> {
    return this.hot.peek(id) ?? (await this.loadView(id));
  }

  /** Reads the persisted view (or replays) into the hot cache; call inside the queue. */
  async loadView(id: string): Promise<ProfileView> {
    try {
      return await this.#loadView(id);
    } catch (err) {
      throw this.readFailed(id, err);
    }
  }

  async #loadView(id: string): Promise<ProfileView> {
    this.assertIntact(id);
    const head = this.log.head(id);
    if (head === undefined) throw coreError(CoreErrorCode.NOT_FOUND, `profile ${id} not found`, { id });
    const t0 = monoMs();
    let bytes: Uint8Array | undefined;
    try {
      bytes = await this.log.getView(id, { current: true });
    } catch (err) {
      if ((err as { code?: string }).code === 'LOG_STREAM_DAMAGED') throw err;
      bytes = undefined; // unreadable derived data: fall back to replay
    }
    let view: ProfileView | undefined;
    let size = 0;
    let source: 'view' | 'replay' = 'view';
    let open = false;
    let digest: string | undefined;
    if (bytes !== undefined) {
      const p = decodePersisted(bytes);
      // a view written by schema-1 code (no `schema`) is rebuilt from the log (v2 refs, v2 shape)
      if (p.schema === 1 || p.schema === 2) {
        view = frozenView(p, iso(head.ts));
        size = bytes.byteLength;
        open = p.open === true;
        digest = p.digest;
      }
    }
    if (view === undefined) {
      source = 'replay';
      const last = await this.lastEntry(id);
      const loaded = await this.log.loadState(id);
      const doc = newProfileDoc();
      Y.applyUpdate(doc, loaded.state);
      const m = materializeDoc(id, doc, last);
      doc.destroy();
      const pbytes = persistedBytes(m.content, m.extras);
      view = frozenView(decodePersisted(pbytes), iso(head.ts));
      size = pbytes.byteLength;
      open = m.extras.open === true;
      digest = m.extras.digest;
    }
    this.hot.set(id, view, size);
    this.index.put(view, digest);
    if (open) this.pendingStartup.add(id);
    const ms = monoMs() - t0;
    this.hot.counters.coldLoads.record(ms);
    this.events.emit('view-loaded', { id, bytes: size, source, durationMillis: ms });
    return view;
  }

  /** Profiles whose persisted view says this node left a run open (closed with reason startup). */
  readonly pendingStartup = new Set<string>();

  async lastEntry(id: string): Promise<{ actor: string; origin: string; ts: number }> {
    for await (const e of this.log.read(id, { reverse: true, limit: 1 })) return e;
    throw coreError(CoreErrorCode.NOT_FOUND, `profile ${id} not found`, { id });
  }

  /** Appends the captured update with its version and view; on ack replaces the hot view and notifies. */
  async persist(a: PersistArgs): Promise<ProfileView> {
    const t0 = monoMs();
    const { id, live, ctx } = a;
    let update = a.update;
    let content: ProfileContent;
    let bytes: Uint8Array;
    let conflictInputs: AppendInput[] = [];
    let state: { key: string; bytes: Uint8Array };
    let extra = a.extra ?? [];
    let schema: 1 | 2;
    let conflicts: number;
    let digest: string;
    let stamp: { at: number; by: string } | undefined;
    try {
      content = canonicalContent(a.content ?? (readContent(live.doc) as unknown as ProfileContent));
      if (a.close !== undefined) {
        const closing = this.prepareClose(id, live, content, { ...a.close, base: a.before ?? null, actors: [ctx.actor] }, { close: a.close.reason });
        if (closing !== null) {
          update = Y.mergeUpdates([update, closing.update]);
          if (closing.audit !== undefined) extra = [...extra, closing.audit];
        }
      }
      state = this.stateKey(live);
      schema = schemaOf(live.doc);
      conflicts = openConflicts(live.doc);
      const open = schema === 2 && !isReplicated(ctx.origin) && !live.versions.has(state.key);
      digest = hashOf(live.full.bytes());
      stamp = schema === 2 ? stampOf(live.versions, state.key, open) : undefined;
      bytes = persistedBytes(content, { version: this.refOf(id, state.key), updatedBy: stamp?.by ?? ctx.actor, ...(stamp !== undefined ? { updatedAt: stamp.at } : {}), schema, conflicts, open, digest }, true);
      if (bytes.byteLength > this.maxProfileBytes) throw this.tooLarge(bytes.byteLength);
      if (a.conflicts && a.conflicts.length > 0) {
        await this.ensureAuditWritable();
        conflictInputs = await this.conflictEntries(id, a.conflicts, ctx);
      }
    } catch (err) {
      this.docs.drop(id);
      throw err;
    }
    const paths = a.summaryFields ?? (a.before === null ? changedPaths(emptyContentFor(id), content) : changedPaths(a.before, content));
    const input: AppendInput = {
      stream: id,
      body: update,
      actor: ctx.actor,
      origin: ctx.origin,
      summary: summaryLine(a.action, paths),
      version: inlineVersion(state.bytes),
      view: bytes,
    };
    const others = [...conflictInputs, ...extra];
    let ack;
    try {
      if (a.replace === true) {
        const { stream: _s, ...entry } = input;
        ack = (await this.log.replaceStream(id, [entry]))[0]!;
        // the repair's '#audit' records and conflict records go in their own batch after the segment
        if (others.length > 0) await this.log.appendMany(others);
      } else {
        ack = others.length === 0 ? await this.log.append(input) : (await this.log.appendMany([input, ...others]))[0]!;
      }
    } catch (err) {
      this.docs.drop(id);
      this.events.emit('write-rejected', { id, code: (err as { code?: string }).code ?? 'UNKNOWN', origin: ctx.origin, durationMillis: monoMs() - t0 });
      throw err;
    }
    live.bytes += update.byteLength;
    this.docs.resize(id, live);
    const view = deepFreeze(makeView(content, { version: this.refOf(id, state.key), schema, conflicts }, iso(stamp?.at ?? ack.ts), stamp?.by ?? ctx.actor));
    this.hot.set(id, view, bytes.byteLength);
    this.index.put(view, digest);
    if (a.close !== undefined) this.dropRun(id);
    this.events.emit('profile-written', { id, seq: ack.seq, bytes: update.byteLength, action: a.action, origin: ctx.origin, durationMillis: monoMs() - t0 });
    for (const c of a.conflicts ?? []) this.events.emit('conflict-recorded', { id, path: c.path, durationMillis: 0 });
    this.notify({ id, update, origin: ctx.origin, actor: ctx.actor, view, seq: ack.seq, lsn: ack.lsn, created: a.created, ...(a.authored ? { authored: true } : {}) });
    return view;
  }

  #auditRestart: Promise<void> | undefined;
  /** '#audit' restarts of this process (reported with damaged().repaired) */
  readonly auditRestarts: { kind: string; message: string; at: number }[] = [];

  /**
   * A damaged '#audit' stream (a node's own record, which no peer holds) must not stop the node
   * from auditing (and so from creating tokens, recording denials, repairs, conflicts): it is
   * written again as a new chain segment — every record of its verified prefix, each keeping its
   * time, then an `audit.restart` record that says how many records could not be kept and why —
   * and the damaged segment is retired (kept, no longer read). A no-op while '#audit' is intact.
   */
  ensureAuditWritable(): Promise<void> {
    if (!this.log.isDamaged(AUDIT_STREAM)) return Promise.resolve();
    this.#auditRestart ??= this.#restartAudit().finally(() => (this.#auditRestart = undefined));
    return this.#auditRestart;
  }

  async #restartAudit(): Promise<void> {
    if (!this.log.isDamaged(AUDIT_STREAM)) return;
    const findings = this.log.damage().streams.find((s) => s.stream === AUDIT_STREAM)?.findings ?? [];
    const head = this.log.head(AUDIT_STREAM);
    const kept: Omit<AppendInput, 'stream'>[] = [];
    try {
      for await (const e of this.log.read(AUDIT_STREAM, { allowDamaged: true })) {
        let body = e.body;
        try {
          // the record keeps its time (a new entry gets a new one)
          const r = JSON.parse(new TextDecoder().decode(e.body)) as Record<string, unknown>;
          body = encodeAudit({ ...r, at: typeof r.at === 'string' ? r.at : iso(e.ts) } as never);
        } catch {
          // undecodable: copied as it was (it is listed as such)
        }
        kept.push({ body, actor: e.actor, origin: e.origin, summary: e.summary });
      }
    } catch {
      // the verified prefix ends at the first record that does not verify
    }
    const lost = Math.max(0, (head?.seq ?? kept.length) - kept.length);
    const marker = validateAuditInput({
      actor: 'node', origin: 'local', action: 'audit.restart', outcome: 'ok',
      details: { kept: kept.length, lost, findings: findings.slice(0, 5).map((f) => ({ kind: f.kind, seq: f.seq, message: f.message.slice(0, 300) })) },
    });
    await this.log.replaceStream(AUDIT_STREAM, [...kept, { body: encodeAudit(marker), actor: 'node', origin: 'local', summary: 'audit.restart' }]);
    this.auditRestarts.push({ kind: findings[0]?.kind ?? 'audit', at: Date.now(), message: `the '#audit' stream was damaged and is written again as a new segment: ${kept.length} record(s) kept, ${lost} lost (an audit.restart record says so)` });
    this.events.emit('audit-restarted', { kept: kept.length, lost });
  }

  /** The audit record of a repair (best effort: the repair itself is durable already). */
  async auditRepair(id: string, ctx: WriteContext, findings: unknown[]): Promise<void> {
    try {
      await this.ensureAuditWritable();
      const stored = validateAuditInput({
        actor: ctx.actor, origin: ctx.origin, action: 'profile.repair', outcome: 'ok', profile: id,
        details: { source: ctx.origin, findings: findings.length, first: (findings[0] as { kind?: string; message?: string } | undefined) ?? null },
      });
      await this.log.append({ stream: AUDIT_STREAM, body: encodeAudit(stored), actor: ctx.actor, origin: ctx.origin, summary: 'profile.repair' });
    } catch {
      /* the audit stream itself may be what is damaged */
    }
  }

  /** '#audit' inputs for detected conflicts, attributed to the entries that wrote each value. */
  async conflictEntries(id: string, conflicts: RawConflict[], ctx: WriteContext): Promise<AppendInput[]> {
    const at = iso(this.clock());
    const side = async (s: RawConflict['winner']): Promise<ConflictRecord['winner']> => {
      if (!s.local) return { value: s.value, actor: ctx.actor, origin: ctx.origin };
      const who = await attributeItem(this.log, id, s.item);
      return { value: s.value, actor: who?.actor ?? 'unknown', origin: who?.origin ?? 'unknown' };
    };
    const out: AppendInput[] = [];
    for (const c of conflicts) {
      const record: ConflictRecord = { profile: id, path: c.path, at, winner: await side(c.winner), dropped: await side(c.dropped) };
      const stored = validateAuditInput({ actor: ctx.actor, origin: ctx.origin, action: 'conflict', outcome: 'ok', profile: id, fields: [c.path], details: record });
      out.push({ stream: AUDIT_STREAM, body: encodeAudit(stored), actor: ctx.actor, origin: ctx.origin, summary: 'conflict' });
    }
    return out;
  }

  subscribe(listener: (e: ChangeEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  notify(e: ChangeEvent): void {
    for (const l of this.#listeners) {
      try {
        l(e);
      } catch {
        /* a subscriber must not break a durable write */
      }
    }
  }
}

export function emptyContentFor(id: string): ProfileContent {
  return { id, modelId: '', name: '', description: '', systemMessage: '', templates: {}, messages: [], parameters: {}, labels: {}, meta: {}, deleted: false };
}

/** @deprecated use emptyContentFor */
export const emptyContent = emptyContentFor;

export { assertProfileId, contentSnapshotBytes };
