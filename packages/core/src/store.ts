/**
 * The ProfileStore. Writes (DESIGN §2): per-profile queue -> validate -> apply to the live Y.Doc
 * in one transaction -> capture the exact update -> log.append (entry + version + view, one
 * atomic durable batch) -> replace the hot view -> notify. A refused change is never
 * acknowledged nor fanned out, and the live doc is dropped (reloaded from the log next time).
 */
import type { AppendInput, EventLog } from '@profilesync/log';
import { randomBytes } from 'node:crypto';
import * as Y from 'yjs';
import { AUDIT_STREAM, encodeAudit, validateAuditInput } from './audit.js';
import { HotViews, LiveDocs, type LiveDoc } from './caches.js';
import { deepFreeze, jsonEqual } from './canonical.js';
import type { RawConflict } from './conflicts.js';
import { changedPaths, summaryLine, type EntryAction } from './diff.js';
import { CoreErrorCode, coreError, damagedError, isDamageCode } from './errors.js';
import { Emitter, monoMs } from './events.js';
import { attributeItem, inlineVersion } from './history.js';
import { assertProfileId } from './ids.js';
import { decodePersisted, frozenView, iso, materializeDoc, persistedBytes } from './materialize.js';
import { applyContent, canonicalContent, contentOf, makeView, newProfileDoc, readContent, skeletonUpdate, type ProfileContent } from './model.js';
import { ProfileIndex } from './profile-index.js';
import { ProfileQueues } from './queue.js';
import { validateContent, validateFields, DEFAULT_MAX_PROFILE_BYTES } from './schema.js';
import { refFromBytes, VersionTracker } from './version.js';
import type { ChangeEvent, ConflictRecord, ProfileView, WriteContext } from './types.js';

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
  /**
   * The content the doc now holds, when the caller knows it (local writes: the validated target
   * that applyContent wrote). Saves re-reading the doc; the rebuild-equality tests pin that it
   * equals what materializeProfile reads from the log.
   */
  content?: ProfileContent;
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
  /** this process's Yjs client id for local writes (random per open; never the skeleton's 0) */
  readonly clientId: number;
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
    const live: LiveDoc = { doc, bytes, version: new VersionTracker(doc) };
    this.docs.set(id, live);
    const ms = monoMs() - t0;
    this.docs.counters.coldLoads.record(ms);
    this.events.emit('document-loaded', { id, bytes: live.bytes, snapshotSeq: loaded.snapshotSeq, tailEntries: loaded.tailEntries, durationMillis: ms });
    return live;
  }

  /** A new live doc holding the skeleton (for create). */
  freshDoc(id: string): LiveDoc {
    this.docs.drop(id);
    const doc = newProfileDoc();
    Y.applyUpdate(doc, skeletonUpdate(id), SKELETON_ORIGIN);
    doc.clientID = this.clientId;
    const live: LiveDoc = { doc, bytes: 0, version: new VersionTracker(doc) };
    this.docs.set(id, live);
    return live;
  }

  /** A new empty live doc (a profile first seen through a remote update). */
  emptyDoc(id: string): LiveDoc {
    this.docs.drop(id);
    const doc = newProfileDoc();
    doc.clientID = this.clientId;
    const live: LiveDoc = { doc, bytes: 0, version: new VersionTracker(doc) };
    this.docs.set(id, live);
    return live;
  }

  /** Current content of a profile whose live doc is held (hot view when present: same content). */
  currentContent(id: string, live: LiveDoc): ProfileContent {
    const hot = this.hot.peek(id);
    if (hot !== undefined) return contentOf(hot);
    return validateContent(readContent(live.doc));
  }

  /**
   * Validates candidate content (PROFILE_INVALID / PROFILE_TOO_LARGE for field limits). The
   * whole-profile limit is checked on the persisted view bytes in persist(), which serializes
   * the view anyway (one JSON pass per write instead of two).
   */
  checkContent(id: string, content: unknown): ProfileContent {
    const c = validateContent(content);
    if (c.id !== id) throw coreError(CoreErrorCode.INVALID, 'id does not match the profile', { path: 'id', rule: 'id-mismatch', issues: [] });
    return c;
  }

  /** Validates only the fields that differ (by reference) from `before`, which is known valid. */
  checkChanged(id: string, before: ProfileContent, next: ProfileContent): ProfileContent {
    const changed = (Object.keys(next) as (keyof ProfileContent)[]).filter((k) => next[k] !== before[k]);
    if (next.id !== id) throw coreError(CoreErrorCode.INVALID, 'id does not match the profile', { path: 'id', rule: 'id-mismatch', issues: [] });
    return validateFields(next, changed);
  }

  tooLarge(bytes: number): Error {
    return coreError(CoreErrorCode.TOO_LARGE, `profile view is ${bytes} bytes, the limit is ${this.maxProfileBytes}`, { path: '', rule: 'max-profile-bytes', bytes, limit: this.maxProfileBytes });
  }

  /**
   * Applies `next` to the live doc as a forward change and persists it. Returns the current view
   * unchanged when `next` equals `before` (no entry is appended for a no-op).
   */
  async writeContent(id: string, live: LiveDoc, before: ProfileContent, next: ProfileContent, action: EntryAction, ctx: WriteContext): Promise<ProfileView> {
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
    return this.persist({ id, live, update, action, ctx, before, created: false, content: next });
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
      bytes = await this.log.getView(id);
    } catch (err) {
      if ((err as { code?: string }).code === 'LOG_STREAM_DAMAGED') throw err;
      bytes = undefined; // unreadable derived data: fall back to replay
    }
    let view: ProfileView;
    let size: number;
    let source: 'view' | 'replay' = 'view';
    if (bytes !== undefined) {
      view = frozenView(decodePersisted(bytes), iso(head.ts));
      size = bytes.byteLength;
    } else {
      source = 'replay';
      const last = await this.lastEntry(id);
      const loaded = await this.log.loadState(id);
      const doc = newProfileDoc();
      Y.applyUpdate(doc, loaded.state);
      const m = materializeDoc(doc);
      doc.destroy();
      const pbytes = persistedBytes(m.content, m.version, last.actor);
      view = frozenView(decodePersisted(pbytes), iso(head.ts));
      size = pbytes.byteLength;
    }
    this.hot.set(id, view, size);
    const ms = monoMs() - t0;
    this.hot.counters.coldLoads.record(ms);
    this.events.emit('view-loaded', { id, bytes: size, source, durationMillis: ms });
    return view;
  }

  async lastEntry(id: string): Promise<{ actor: string; origin: string; ts: number }> {
    for await (const e of this.log.read(id, { reverse: true, limit: 1 })) return e;
    throw coreError(CoreErrorCode.NOT_FOUND, `profile ${id} not found`, { id });
  }

  /** Appends the captured update with its version and view; on ack replaces the hot view and notifies. */
  async persist(a: PersistArgs): Promise<ProfileView> {
    const t0 = monoMs();
    const { id, live, update, ctx } = a;
    let m: ReturnType<typeof materializeDoc>;
    let bytes: Uint8Array;
    let conflictInputs: AppendInput[] = [];
    try {
      const vb = live.version.bytes();
      m = a.content !== undefined ? { content: a.content, version: refFromBytes(vb), versionBytes: vb } : materializeDoc(live.doc, vb);
      m.content = canonicalContent(m.content); // once, for the persisted bytes and the view
      bytes = persistedBytes(m.content, m.version, ctx.actor, true);
      if (bytes.byteLength > this.maxProfileBytes) throw this.tooLarge(bytes.byteLength);
      if (a.conflicts && a.conflicts.length > 0) conflictInputs = await this.conflictEntries(id, a.conflicts, ctx);
    } catch (err) {
      this.docs.drop(id);
      throw err;
    }
    const paths = a.before === null ? changedPaths(emptyContent(id), m.content) : changedPaths(a.before, m.content);
    const input: AppendInput = {
      stream: id,
      body: update,
      actor: ctx.actor,
      origin: ctx.origin,
      summary: summaryLine(a.action, paths),
      version: inlineVersion(m.versionBytes),
      view: bytes,
    };
    let ack;
    try {
      if (a.replace === true) {
        const { stream: _s, ...entry } = input;
        ack = (await this.log.replaceStream(id, [entry]))[0]!;
      } else {
        ack = conflictInputs.length === 0 ? await this.log.append(input) : (await this.log.appendMany([input, ...conflictInputs]))[0]!;
      }
    } catch (err) {
      this.docs.drop(id);
      this.events.emit('write-rejected', { id, code: (err as { code?: string }).code ?? 'UNKNOWN', origin: ctx.origin, durationMillis: monoMs() - t0 });
      throw err;
    }
    live.bytes += update.byteLength;
    this.docs.resize(id, live);
    const view = deepFreeze(makeView(m.content, m.version, iso(ack.ts), ctx.actor));
    this.hot.set(id, view, bytes.byteLength);
    this.index.put(view);
    this.events.emit('profile-written', { id, seq: ack.seq, bytes: update.byteLength, action: a.action, origin: ctx.origin, durationMillis: monoMs() - t0 });
    for (const c of a.conflicts ?? []) this.events.emit('conflict-recorded', { id, path: c.path, durationMillis: 0 });
    this.notify({ id, update, origin: ctx.origin, actor: ctx.actor, view, seq: ack.seq, lsn: ack.lsn, created: a.created });
    return view;
  }

  /** The audit record of a repair (best effort: the repair itself is durable already). */
  async auditRepair(id: string, ctx: WriteContext, findings: unknown[]): Promise<void> {
    try {
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

export function emptyContent(id: string): ProfileContent {
  return { id, modelId: '', name: '', description: '', systemMessage: '', templates: {}, parameters: {}, labels: {}, meta: {}, deleted: false };
}

export { assertProfileId };
