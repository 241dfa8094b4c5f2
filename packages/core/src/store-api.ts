/** Public ProfileStore API over StoreCore: validation at the edge, then the per-profile queue. */
import type { EventLog } from '@profilesync/log';
import * as Y from 'yjs';
import { AUDIT_STREAM, encodeAudit, parseAuditQuery, validateAuditInput } from './audit.js';
import { listConflicts, queryAudit } from './audit-query.js';
import { applyRemote, stateAsUpdate, stateVectorOf } from './remote.js';
import { PatchBatcher } from './batch.js';
import { deepFreeze, jsonEqual } from './canonical.js';
import { diffContent } from './diff.js';
import { CoreErrorCode, coreError, damagedError, isDamageCode } from './errors.js';
import type { StoreEventName, StoreEvents } from './events.js';
import { monoMs } from './events.js';
import { entryForVersion, historyOf } from './history.js';
import { assertProfileId, generateProfileId } from './ids.js';
import { iso, materializeDoc, persistedBytes } from './materialize.js';
import { inlineVersion } from './history.js';
import { applyContent, canonicalContent, makeView, newProfileDoc, readContent, type ProfileContent } from './model.js';
import { contentFromInput, isPlainObject } from './patch.js';
import { LABEL_PATTERN, RESERVED_LABELS, validateContent } from './schema.js';
import { captureUpdate, checkContext, emptyContent, StoreCore, type StoreCoreOptions } from './store.js';
import { exportProfileLog, importProfileLog, importJsonProfiles } from './transfer.js';
import type {
  AuditQuery,
  AuditRecord,
  CacheStatsSnapshot,
  ChangeEvent,
  ConflictRecord,
  ImportReport,
  ListFilter,
  ListPage,
  ListQuery,
  ProfileDiff,
  ProfileInput,
  ProfilePatch,
  ProfileStore,
  ProfileSummary,
  ProfileView,
  VersionInfo,
  VersionRef,
  WriteContext,
} from './types.js';
import { canSatisfy, parseRef, type ParsedRef } from './version.js';

const reject = (err: unknown): Promise<never> => Promise.reject(err);

function checkLabel(label: unknown): string {
  if (typeof label !== 'string' || !LABEL_PATTERN.test(label)) {
    throw coreError(CoreErrorCode.LABEL_INVALID, `label must match ${LABEL_PATTERN.source}`, { label: typeof label === 'string' ? label.slice(0, 80) : typeof label });
  }
  if (RESERVED_LABELS.has(label)) throw coreError(CoreErrorCode.LABEL_INVALID, `label '${label}' is automatic and cannot be stored`, { label });
  return label;
}

function deletedError(id: string): Error {
  return coreError(CoreErrorCode.DELETED, `profile ${id} is deleted`, { id });
}

export class ProfileStoreImpl implements ProfileStore {
  readonly #c: StoreCore;
  /** the hot cache itself, one field load away on the hit path */
  readonly #hot: StoreCore['hot'];
  readonly #batcher: PatchBatcher;

  constructor(log: EventLog, opts: StoreCoreOptions = {}) {
    this.#c = new StoreCore(log, opts);
    this.#hot = this.#c.hot;
    this.#batcher = new PatchBatcher(this.#c);
  }

  /** Builds the in-memory index from the persisted views (and warms the hot cache). */
  async init(): Promise<void> {
    const t0 = monoMs();
    const ids = this.#c.log.streams().filter((s) => !s.startsWith('#'));
    const BATCH = 64;
    for (let i = 0; i < ids.length; i += BATCH) {
      await Promise.all(ids.slice(i, i + BATCH).map(async (id) => {
        try {
          this.#c.index.put(await this.#c.queues.run(id, () => this.#c.loadView(id)));
        } catch (err) {
          // one damaged profile never keeps the node from opening: it answers PROFILE_DAMAGED
          if ((err as { code?: string }).code !== CoreErrorCode.DAMAGED) throw err;
        }
      }));
    }
    this.#c.events.emit('store-opened', { profiles: ids.length, durationMillis: monoMs() - t0 });
  }

  get log(): EventLog {
    return this.#c.log;
  }

  on<E extends StoreEventName>(event: E, listener: (payload: StoreEvents[E]) => void): () => void {
    return this.#c.events.on(event, listener);
  }

  // --- reads -----------------------------------------------------------------

  get(id: string): ProfileView | Promise<ProfileView> {
    const v = this.#hot.get(id);
    if (v !== undefined) return v.deleted ? reject(deletedError(id)) : v;
    return this.#coldGet(id);
  }

  async #coldGet(id: string): Promise<ProfileView> {
    this.#c.assertOpen();
    assertProfileId(id);
    const view = await this.#c.queues.run(id, () => this.#c.viewOrLoad(id));
    if (view.deleted) throw deletedError(id);
    return view;
  }

  /** The current view, tombstoned or not. */
  async #view(id: string): Promise<ProfileView> {
    this.#c.assertOpen();
    assertProfileId(id);
    return this.#c.hot.peek(id) ?? this.#c.queues.run(id, () => this.#c.viewOrLoad(id));
  }

  async list(filter: ListFilter = {}): Promise<ProfileSummary[]> {
    this.#c.assertOpen();
    return this.#c.index.list(filter);
  }

  async search(query: ListQuery = {}): Promise<ListPage> {
    this.#c.assertOpen();
    return this.#c.index.search(query);
  }

  versionHashes(): ReadonlyMap<string, string> {
    return this.#c.index.hashes();
  }

  // --- writes ----------------------------------------------------------------

  async create(input: ProfileInput, ctx: WriteContext): Promise<ProfileView> {
    this.#c.assertOpen();
    checkContext(ctx);
    if (!isPlainObject(input)) throw coreError(CoreErrorCode.INVALID, 'a profile must be a JSON object', { path: '', rule: 'input-type' });
    const rawId = input.id ?? generateProfileId(typeof input.name === 'string' ? input.name : '');
    assertProfileId(rawId);
    const id: string = rawId;
    const content = this.#c.checkContent(id, contentFromInput(input, id));
    return this.#c.queues.run(id, async () => {
      this.#c.assertOpen();
      // a damaged profile's id stays taken: it is repaired, never created again
      this.#c.assertIntact(id);
      if (this.#c.exists(id)) {
        const deleted = this.#c.index.get(id)?.deleted ?? false;
        throw coreError(CoreErrorCode.EXISTS, `profile ${id} already exists${deleted ? ' (deleted)' : ''}`, { id, deleted });
      }
      return this.#createIn(id, content, 'create', ctx);
    });
  }

  async #createIn(id: string, content: ProfileContent, action: 'create' | 'import', ctx: WriteContext): Promise<ProfileView> {
    const live = this.#c.freshDoc(id);
    try {
      const origin = { ctx };
      captureUpdate(live.doc, origin, () => applyContent(live.doc, emptyContent(id), content));
    } catch (err) {
      this.#c.docs.drop(id);
      throw err;
    }
    const update = Y.encodeStateAsUpdate(live.doc);
    return this.#c.persist({ id, live, update, action, ctx, before: null, created: true, content });
  }

  async update(id: string, patch: ProfilePatch, ctx: WriteContext): Promise<ProfileView> {
    this.#c.assertOpen();
    assertProfileId(id);
    checkContext(ctx);
    return this.#batcher.submit(id, patch, ctx);
  }

  async delete(id: string, ctx: WriteContext): Promise<void> {
    this.#c.assertOpen();
    assertProfileId(id);
    checkContext(ctx);
    await this.#c.queues.run(id, async () => {
      const live = await this.#c.acquire(id);
      const before = this.#c.currentContent(id, live);
      if (before.deleted) throw deletedError(id);
      await this.#c.writeContent(id, live, before, { ...before, deleted: true }, 'delete', ctx);
    });
  }

  async setLabel(id: string, label: string, ref: VersionRef, ctx: WriteContext): Promise<ProfileView> {
    this.#c.assertOpen();
    assertProfileId(id);
    checkLabel(label);
    const parsed = parseRef(ref);
    checkContext(ctx);
    return this.#labelWrite(id, ctx, (labels) => ({ ...labels, [label]: parsed.ref }), parsed, 'label.set');
  }

  async removeLabel(id: string, label: string, ctx: WriteContext): Promise<ProfileView> {
    this.#c.assertOpen();
    assertProfileId(id);
    checkLabel(label);
    checkContext(ctx);
    return this.#labelWrite(
      id,
      ctx,
      (labels) => {
        if (labels[label] === undefined) throw coreError(CoreErrorCode.LABEL_NOT_FOUND, `label '${label}' is not set on ${id}`, { id, label });
        const next = { ...labels };
        delete next[label];
        return next;
      },
      undefined,
      'label.remove',
    );
  }

  async #labelWrite(
    id: string,
    ctx: WriteContext,
    change: (labels: Record<string, string>) => Record<string, string>,
    ref: ParsedRef | undefined,
    action: 'label.set' | 'label.remove',
  ): Promise<ProfileView> {
    return this.#c.queues.run(id, async () => {
      const live = await this.#c.acquire(id);
      const before = this.#c.currentContent(id, live);
      if (before.deleted) throw deletedError(id);
      if (ref !== undefined) this.#requireVersion(id, live.doc, ref);
      const next = this.#c.checkChanged(id, before, { ...before, labels: change(before.labels) });
      return this.#c.writeContent(id, live, before, next, action, ctx);
    });
  }

  async revert(id: string, ref: VersionRef, ctx: WriteContext): Promise<ProfileView> {
    this.#c.assertOpen();
    assertProfileId(id);
    const parsed = parseRef(ref);
    checkContext(ctx);
    return this.#c.queues.run(id, async () => {
      const live = await this.#c.acquire(id);
      const before = this.#c.currentContent(id, live);
      const target = this.#contentAt(id, live.doc, parsed);
      // labels are pointers, not content: a revert leaves them where they are
      const next = this.#c.checkContent(id, { ...target, id, labels: before.labels });
      return this.#c.writeContent(id, live, before, next, 'revert', ctx);
    });
  }

  // --- history ---------------------------------------------------------------

  async history(id: string, opts: { limit?: number } = {}): Promise<VersionInfo[]> {
    this.#c.assertOpen();
    assertProfileId(id);
    this.#c.assertIntact(id);
    if (!this.#c.exists(id)) throw coreError(CoreErrorCode.NOT_FOUND, `profile ${id} not found`, { id });
    const limit = opts.limit;
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) throw coreError(CoreErrorCode.INVALID, 'limit must be a positive integer', { path: 'limit', rule: 'limit' });
    try {
      return await historyOf(this.#c.log, id, limit);
    } catch (err) {
      throw this.#c.readFailed(id, err);
    }
  }

  #requireVersion(id: string, doc: Y.Doc, ref: ParsedRef): void {
    if (!canSatisfy(doc, ref.snapshot)) {
      throw coreError(CoreErrorCode.VERSION_UNAVAILABLE, `version is not available on this node for ${id}`, { id, version: ref.ref.slice(0, 80) });
    }
  }

  /** Content of the profile at a version (validated: a ref must name a valid state). */
  #contentAt(id: string, doc: Y.Doc, ref: ParsedRef): ProfileContent {
    this.#requireVersion(id, doc, ref);
    const past = Y.createDocFromSnapshot(doc, ref.snapshot, newProfileDoc());
    try {
      const raw = readContent(past);
      try {
        return validateContent(raw);
      } catch (err) {
        throw coreError(CoreErrorCode.BAD_VERSION, `version does not name a valid state of ${id}`, { id }, err);
      }
    } finally {
      past.destroy();
    }
  }

  async getAt(id: string, ref: VersionRef): Promise<ProfileView> {
    this.#c.assertOpen();
    assertProfileId(id);
    const parsed = parseRef(ref);
    const content = await this.#c.queues.run(id, async () => this.#contentAt(id, (await this.#c.acquire(id)).doc, parsed));
    let entry;
    try {
      entry = await entryForVersion(this.#c.log, id, parsed.bytes, parsed.snapshot);
    } catch (err) {
      throw this.#c.readFailed(id, err);
    }
    return deepFreeze(makeView(canonicalContent(content), parsed.ref, entry ? iso(entry.ts) : '', entry ? entry.actor : ''));
  }

  async getByLabel(id: string, label: string): Promise<ProfileView> {
    this.#c.assertOpen();
    assertProfileId(id);
    if (label === 'latest') return this.get(id);
    checkLabel(label);
    const view = await this.#view(id);
    const ref = view.labels[label];
    if (ref === undefined) throw coreError(CoreErrorCode.LABEL_NOT_FOUND, `label '${label}' is not set on ${id}`, { id, label });
    return this.getAt(id, ref);
  }

  async diff(id: string, from: VersionRef, to: VersionRef): Promise<ProfileDiff> {
    this.#c.assertOpen();
    assertProfileId(id);
    const a = parseRef(from);
    const b = parseRef(to);
    return this.#c.queues.run(id, async () => {
      const live = await this.#c.acquire(id);
      const before = this.#contentAt(id, live.doc, a);
      const after = this.#contentAt(id, live.doc, b);
      return { from: a.ref, to: b.ref, changes: diffContent(before, after, true) };
    });
  }

  // --- sync ------------------------------------------------------------------

  async applyRemoteUpdate(id: string, update: Uint8Array, ctx: WriteContext): Promise<{ applied: boolean; view?: ProfileView }> {
    this.#c.assertOpen();
    return applyRemote(this.#c, id, update, ctx, (err) => this.#recordRejected(id, ctx, err));
  }

  async #recordRejected(id: string, ctx: WriteContext, err: unknown): Promise<void> {
    const e = err as { code?: string; details?: Record<string, unknown> };
    try {
      await this.recordAudit({ actor: ctx.actor, origin: ctx.origin, action: 'sync.rejected', outcome: 'rejected', profile: id, details: { code: e.code ?? 'UNKNOWN', path: e.details?.['path'] ?? '' } });
    } catch {
      /* the rejection itself is what the caller needs; auditing it is best effort */
    }
  }

  /** Profiles (and node-level findings) known to be damaged on this node. */
  damaged(): import('./types.js').DamageSummary {
    this.#c.assertOpen();
    const report = this.#c.log.damage();
    const iso = (t: number): string => new Date(t).toISOString();
    return {
      profiles: report.streams.filter((s) => s.named && !s.stream.startsWith('#')).map((s) => ({
        id: s.stream, findings: s.findings.map((f) => ({ kind: f.kind, seq: f.seq, message: f.message, at: iso(f.at) })),
      })),
      node: [
        ...report.node.map((f) => ({ stream: '', kind: f.kind, message: f.message, at: iso(f.at) })),
        ...report.streams.filter((s) => !s.named || s.stream.startsWith('#')).flatMap((s) => s.findings.map((f) => ({ stream: s.stream, kind: f.kind, message: f.message, at: iso(f.at) }))),
      ],
    };
  }

  /**
   * Repair from a history (a backup's entries of the profile, then what this node still holds
   * intact): the entries are written again as a NEW chain segment (their actor, origin, summary
   * and version kept; the last one carries the view), so the profile is readable again with its
   * history; audited as `profile.repair`. The bodies must add up to a whole, valid profile.
   */
  async repairFromHistory(id: string, entries: { body: Uint8Array; actor: string; origin: string; summary: string; version?: Uint8Array | undefined }[], ctx: WriteContext): Promise<ProfileView> {
    this.#c.assertOpen();
    assertProfileId(id);
    checkContext(ctx);
    if (!Array.isArray(entries) || entries.length === 0) throw coreError(CoreErrorCode.BAD_UPDATE, 'a repair needs at least one entry', { id });
    return this.#c.queues.run(id, async () => {
      const t0 = monoMs();
      const doc = newProfileDoc();
      try {
        doc.transact(() => {
          for (const e of entries) Y.applyUpdate(doc, e.body);
        });
      } catch (err) {
        throw coreError(CoreErrorCode.BAD_UPDATE, 'the repair entries are not Yjs updates', { id }, err);
      }
      if (doc.store.pendingStructs !== null || doc.store.pendingDs !== null) {
        doc.destroy();
        throw coreError(CoreErrorCode.BAD_UPDATE, 'the repair entries do not make a whole profile (updates are missing)', { id });
      }
      const content = this.#c.checkContent(id, readContent(doc));
      const findings = this.#c.findings(id);
      const m = materializeDoc(doc);
      doc.destroy();
      const canonical = canonicalContent(content);
      const last = entries[entries.length - 1] as (typeof entries)[number];
      const bytes = persistedBytes(canonical, m.version, last.actor, true);
      const input = entries.map((e, i) => ({
        body: e.body, actor: e.actor, origin: e.origin, summary: e.summary,
        ...(i === entries.length - 1 ? { view: bytes, version: inlineVersion(m.versionBytes) } : e.version !== undefined ? { version: e.version } : {}),
      }));
      const acks = await this.#c.log.replaceStream(id, input);
      const ack = acks[acks.length - 1] as (typeof acks)[number];
      this.#c.docs.drop(id);
      const view = deepFreeze(makeView(canonical, m.version, iso(ack.ts), last.actor));
      this.#c.hot.set(id, view, bytes.byteLength);
      this.#c.index.put(view);
      this.#c.events.emit('profile-repaired', { id, source: ctx.origin, durationMillis: monoMs() - t0 });
      await this.#c.auditRepair(id, ctx, findings);
      this.#c.notify({ id, update: Y.mergeUpdates(entries.map((e) => e.body)), origin: ctx.origin, actor: ctx.actor, view, seq: ack.seq, lsn: ack.lsn, created: false });
      return view;
    });
  }

  async stateVector(id: string): Promise<Uint8Array> {
    this.#c.assertOpen();
    return stateVectorOf(this.#c, id);
  }

  async encodeStateAsUpdate(id: string, stateVector?: Uint8Array): Promise<Uint8Array> {
    this.#c.assertOpen();
    return stateAsUpdate(this.#c, id, stateVector);
  }

  subscribe(listener: (event: ChangeEvent) => void): () => void {
    return this.#c.subscribe(listener);
  }

  // --- audit -----------------------------------------------------------------

  async recordAudit(record: Omit<AuditRecord, 'at'>): Promise<void> {
    this.#c.assertOpen();
    const r = validateAuditInput(record);
    await this.#c.log.append({ stream: AUDIT_STREAM, body: encodeAudit(r), actor: r.actor, origin: r.origin, summary: r.action });
  }

  async audit(query?: AuditQuery): Promise<AuditRecord[]> {
    this.#c.assertOpen();
    return queryAudit(this.#c.log, parseAuditQuery(query));
  }

  async conflicts(id: string): Promise<ConflictRecord[]> {
    this.#c.assertOpen();
    assertProfileId(id);
    return listConflicts(this.#c.log, id);
  }

  // --- import / export -------------------------------------------------------

  async exportJson(ids?: string[]): Promise<ProfileView[]> {
    this.#c.assertOpen();
    // the whole node: what the index lists (damaged profiles are not in it); named ids: each must be readable
    const list = ids ?? this.#c.index.list().map((s) => s.id);
    const out: ProfileView[] = [];
    for (const id of list) out.push(await this.#view(id));
    return out;
  }

  async importJson(data: unknown, ctx: WriteContext): Promise<ImportReport> {
    this.#c.assertOpen();
    checkContext(ctx);
    return importJsonProfiles(data, {
      exists: (id) => this.#c.exists(id),
      create: async (id, content) => {
        await this.#c.queues.run(id, async () => {
          if (this.#c.exists(id)) throw coreError(CoreErrorCode.EXISTS, `profile ${id} already exists`, { id });
          return this.#createIn(id, content, 'import', ctx);
        });
      },
      replace: async (id, fields) =>
        this.#c.queues.run(id, async () => {
          const live = await this.#c.acquire(id);
          const before = this.#c.currentContent(id, live);
          if (before.deleted) throw deletedError(id);
          const next = this.#c.checkContent(id, { ...before, ...fields });
          if (jsonEqual(before, next)) return false;
          await this.#c.writeContent(id, live, before, next, 'import', ctx);
          return true;
        }),
      check: (id, content) => this.#c.checkContent(id, content),
    });
  }

  /** Exact binary export of one profile's log entries (see transfer.ts for the format). */
  async exportLog(id: string): Promise<Uint8Array> {
    this.#c.assertOpen();
    assertProfileId(id);
    if (!this.#c.exists(id)) throw coreError(CoreErrorCode.NOT_FOUND, `profile ${id} not found`, { id });
    return exportProfileLog(this.#c.log, id);
  }

  /** Verifies a binary export and applies its updates as one remote update (origin from ctx). */
  async importLog(data: Uint8Array, ctx: WriteContext): Promise<{ id: string; entries: number; applied: boolean }> {
    this.#c.assertOpen();
    checkContext(ctx);
    const parsed = importProfileLog(data);
    const merged = Y.mergeUpdates(parsed.entries.map((e) => e.body));
    // the export is the exporter's whole state: merged like a sync step 2, checked for conflicts
    const r = await this.applyRemoteUpdate(parsed.id, merged, { actor: ctx.actor, origin: ctx.origin, merge: { remoteStateVector: new Uint8Array([0]) } });
    return { id: parsed.id, entries: parsed.entries.length, applied: r.applied };
  }

  // --- caches ----------------------------------------------------------------

  cacheStats(): CacheStatsSnapshot[] {
    return [this.#c.hot.stats('profiles'), this.#c.docs.stats('docs')];
  }

  clearCache(name?: string): string[] {
    const cleared: string[] = [];
    if (name === undefined || name === 'profiles') {
      this.#c.hot.clear();
      cleared.push('profiles');
    }
    if (name === undefined || name === 'docs') {
      this.#c.docs.clear();
      cleared.push('docs');
    }
    return cleared;
  }

  async close(): Promise<void> {
    if (this.#c.closed) return;
    this.#c.closed = true;
    await this.#c.queues.drain();
    this.#c.docs.clear();
    this.#c.hot.clear();
    if (this.#c.ownsLog) await this.#c.log.close();
  }
}
