/** Public ProfileStore API over StoreCore: validation at the edge, then the per-profile queue. */
import type { EventLog } from '@profilesync/log';
import * as Y from 'yjs';
import { AUDIT_STREAM, encodeAudit, parseAuditQuery, validateAuditInput } from './audit.js';
import { listConflicts, queryAudit } from './audit-query.js';
import { applyRemote, stateAsUpdate, stateVectorOf } from './remote.js';
import { PatchBatcher } from './batch.js';
import { deepFreeze, jsonEqual } from './canonical.js';
import { diffContent } from './diff.js';
import { CoreErrorCode, coreError } from './errors.js';
import type { StoreEventName, StoreEvents } from './events.js';
import { monoMs } from './events.js';
import { historyOf } from './history.js';
import { assertProfileId, generateProfileId } from './ids.js';
import { iso, materializeDoc, persistedBytes } from './materialize.js';
import { inlineVersion } from './history.js';
import { applyContent, canonicalContent, contentOf, makeView, migrateDoc, newProfileDoc, readContent, schemaOf, type ProfileContent } from './model.js';
import { contentFromInput, isPlainObject } from './patch.js';
import { LABEL_PATTERN, validateContent } from './schema.js';
import { captureUpdate, checkContext, emptyContentFor, StoreCore, type StoreCoreOptions } from './store.js';
import { isLabelName, lineProblem, parseRefSpec, render as renderProfile, textProblem, type RenderResult } from '@profilesync/model';
import { changedPaths, summaryLine } from './diff.js';
import { migrate } from './legacy.js';
import { contentAt, resolveRef, versionList, type Resolved } from './refs.js';
import { MAX_MESSAGE_CHARS, type ListedVersion } from './versions.js';
import type { LiveDoc } from './caches.js';
import { exportProfileLog, importProfileLog, importJsonProfiles } from './transfer.js';
import { CONFLICT_ID, CONFLICTS_ROOT, getRecord, listRecords, RESOLUTION_SUFFIX, type ConflictInfo } from './conflict-records.js';
import { checkResolution, resolutionPlan } from './resolve.js';
import { writeFieldValue, writeWholeContent } from './resolve-write.js';
import { createClientId, writeCreate } from './create.js';
import type {
  AuditQuery,
  AuditRecord,
  CacheStatsSnapshot,
  ChangeEvent,
  ConflictRecord,
  ConflictResolution,
  EntryInfo,
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
  RemoteHooks,
  VersionInfo,
  VersionRef,
  WriteContext,
} from './types.js';

const reject = (err: unknown): Promise<never> => Promise.reject(err);

function checkLabel(label: unknown, forSet = false): string {
  if (typeof label !== 'string' || !LABEL_PATTERN.test(label)) {
    throw coreError(CoreErrorCode.LABEL_INVALID, `label must match ${LABEL_PATTERN.source}`, { label: typeof label === 'string' ? label.slice(0, 80) : typeof label });
  }
  if (label === 'latest') throw coreError(CoreErrorCode.LABEL_INVALID, `label '${label}' is automatic and cannot be stored`, { label });
  if (forSet && !isLabelName(label)) throw coreError(CoreErrorCode.LABEL_INVALID, `label '${label}' looks like a version reference (v<digits>.); pick another name`, { label });
  return label;
}

function versionInfo(c: StoreCore, id: string, v: ListedVersion, n: number): VersionInfo {
  const r = v.rec;
  const info: VersionInfo = {
    version: c.refOf(id, v.key),
    seq: n,
    ref: `@${n}`,
    at: iso(r.at),
    actor: r.actors[0] ?? 'unknown',
    actors: r.actors.slice(),
    by: r.by,
    origin: r.node,
    node: r.node,
    reason: r.reason,
    fields: r.fields.slice(),
    summary: summaryLine(r.reason as never, r.fields),
  };
  if (r.message !== undefined) info.message = r.message;
  return info;
}

function deletedError(id: string): Error {
  return coreError(CoreErrorCode.DELETED, `profile ${id} is deleted`, { id });
}

/**
 * A serving pointer (a label name, `latest`) rather than a past state: a deleted profile's
 * pointers answer PROFILE_DELETED like its current view, while `@N` and version refs (history)
 * stay readable. A malformed ref is not one (resolving it reports the ref's own error).
 */
function isServingPointer(ref: unknown): boolean {
  try {
    const kind = parseRefSpec(ref).kind;
    return kind === 'label' || kind === 'latest';
  } catch {
    return false;
  }
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
    // a damaged '#audit' starts a new segment at once (StoreCore.ensureAuditWritable)
    await this.#c.ensureAuditWritable();
    const ids = this.#c.log.streams().filter((s) => !s.startsWith('#'));
    const BATCH = 64;
    for (let i = 0; i < ids.length; i += BATCH) {
      await Promise.all(
        ids.slice(i, i + BATCH).map(async (id) => {
          try {
            await this.#c.queues.run(id, () => this.#c.loadView(id));
          } catch (err) {
            // one damaged profile never keeps the node from opening: it answers PROFILE_DAMAGED
            if ((err as { code?: string }).code !== CoreErrorCode.DAMAGED) throw err;
          }
        }),
      );
    }
    // runs this node left open (a stop, a crash): closed after the idle gap, as versions of their own
    for (const id of [...this.#c.pendingStartup]) {
      this.#c.pendingStartup.delete(id);
      const view = this.#c.hot.peek(id);
      const last = view === undefined ? Number.NaN : Date.parse(view.updatedAt);
      this.#c.resumeRun(id, view?.updatedBy ?? 'unknown', Number.isFinite(last) ? last : this.#c.clock());
    }
    this.#c.events.emit('store-opened', { profiles: ids.length, durationMillis: monoMs() - t0 });
  }

  /** Closes every open run now (tests, shutdown); resolves when they are durable. */
  async flushVersions(): Promise<number> {
    let n = 0;
    for (const id of [...this.#c.runs.keys()]) {
      await this.#c.queues.run(id, async () => {
        const run = this.#c.runs.get(id);
        if (run === undefined) return;
        if ((await this.#c.closeAndPersist(id, await this.#c.acquire(id), { reason: run.idleReason ?? 'idle' })) !== null) n++;
      });
    }
    return n;
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

  /** Open conflict records over every profile (no I/O: the index's count). */
  openConflicts(): { records: number; profiles: number } {
    return this.#c.index.openConflicts();
  }

  // --- writes ----------------------------------------------------------------

  async create(input: ProfileInput, ctx: WriteContext): Promise<ProfileView> {
    this.#c.assertOpen();
    checkContext(ctx);
    if (!isPlainObject(input)) throw coreError(CoreErrorCode.INVALID, 'a profile must be a JSON object', { path: '', rule: 'input-type' });
    const generated = input.id === undefined;
    for (let attempt = 0; ; attempt++) {
      const rawId = input.id ?? generateProfileId(typeof input.name === 'string' ? input.name : '', (x) => this.#c.exists(x));
      assertProfileId(rawId);
      const id: string = rawId;
      const content = this.#c.checkContent(id, contentFromInput(input, id));
      try {
        return await this.#c.queues.run(id, async () => {
          this.#c.assertOpen();
          // a damaged profile's id stays taken: it is repaired, never created again
          this.#c.assertIntact(id);
          if (this.#c.exists(id)) {
            const deleted = this.#c.index.get(id)?.deleted ?? false;
            throw coreError(CoreErrorCode.EXISTS, `profile ${id} already exists${deleted ? ' (deleted)' : ''}`, { id, deleted });
          }
          return this.#createIn(id, content, 'create', ctx);
        });
      } catch (err) {
        // a generated id taken meanwhile by a concurrent create: take the next free one
        if (!generated || attempt >= 8 || (err as { code?: string }).code !== CoreErrorCode.EXISTS) throw err;
      }
    }
  }

  async #createIn(id: string, content: ProfileContent, action: 'create' | 'import', ctx: WriteContext): Promise<ProfileView> {
    const live = this.#c.freshDoc(id);
    try {
      const origin = { ctx };
      // deterministic create (create.ts): the same id and content write the same structs on
      // every node, which Yjs deduplicates; the node's own client writes everything after it
      live.doc.clientID = createClientId(content);
      try {
        captureUpdate(live.doc, origin, () => writeCreate(live.doc, content));
      } finally {
        live.doc.clientID = this.#c.clientId;
      }
    } catch (err) {
      this.#c.docs.drop(id);
      throw err;
    }
    const update = Y.encodeStateAsUpdate(live.doc);
    return this.#c.persist({ id, live, update, action, ctx, before: null, created: true, content, close: { reason: action } });
  }

  async update(id: string, patch: ProfilePatch, ctx: WriteContext): Promise<ProfileView> {
    this.#c.assertOpen();
    assertProfileId(id);
    checkContext(ctx);
    return this.#batcher.submit(id, patch, ctx);
  }

  /** The live doc for a local write: migrated to schema 2 first (its first write here). */
  async #writable(id: string, ctx: WriteContext): Promise<LiveDoc> {
    const live = await this.#c.acquire(id);
    if (schemaOf(live.doc) === 2) return live;
    await migrate(this.#c, id, live, ctx);
    return this.#c.acquire(id);
  }

  /**
   * Closes this node's open run before an operation that is a version of its own (revert, delete):
   * reason 'actor' when another actor does it, else 'idle' (its actor moved on).
   */
  async #closeRun(id: string, live: LiveDoc, ctx: WriteContext): Promise<void> {
    const run = this.#c.runs.get(id);
    if (run !== undefined) await this.#c.closeAndPersist(id, live, { reason: run.actors.includes(ctx.actor) ? 'idle' : 'actor' });
  }

  async delete(id: string, ctx: WriteContext): Promise<void> {
    this.#c.assertOpen();
    assertProfileId(id);
    checkContext(ctx);
    await this.#c.queues.run(id, async () => {
      let live = await this.#writable(id, ctx);
      if (this.#c.currentContent(id, live).deleted) throw deletedError(id);
      await this.#closeRun(id, live, ctx);
      live = await this.#c.acquire(id);
      const before = this.#c.currentContent(id, live);
      await this.#c.writeContent(id, live, before, { ...before, deleted: true }, 'delete', ctx, { reason: 'delete' });
    });
  }

  async setLabel(id: string, label: string, ref: VersionRef, ctx: WriteContext): Promise<ProfileView> {
    this.#c.assertOpen();
    assertProfileId(id);
    checkLabel(label, true);
    checkContext(ctx);
    return this.#c.queues.run(id, async () => {
      let live = await this.#writable(id, ctx);
      const labels = this.#c.currentContent(id, live).labels;
      if (this.#c.currentContent(id, live).deleted) throw deletedError(id);
      const r = await resolveRef(this.#c, id, live, ref, labels);
      let value: string;
      if (r.kind === 'current' && r.version === undefined) {
        // a label on the open run closes it first: labels point at versions
        await this.#c.closeAndPersist(id, live, { reason: 'label', actors: [ctx.actor] });
        live = await this.#c.acquire(id);
        value = this.#c.refOf(id, r.key);
      } else if (r.kind === 'current' || r.kind === 'version') value = this.#c.refOf(id, r.key);
      else if (r.ref.startsWith('v1.')) value = r.ref; // a legacy state named by its v1 ref: kept as given
      else throw coreError(CoreErrorCode.BAD_VERSION, `${r.ref} names a log entry, not a version: label a version (@N, or a ref from history)`, { id, version: r.ref, rule: 'not-a-version' });
      const before = this.#c.currentContent(id, live);
      const next = this.#c.checkChanged(id, before, { ...before, labels: { ...before.labels, [label]: value } });
      return this.#c.writeContent(id, live, before, next, 'label.set', ctx);
    });
  }

  async removeLabel(id: string, label: string, ctx: WriteContext): Promise<ProfileView> {
    this.#c.assertOpen();
    assertProfileId(id);
    checkLabel(label);
    checkContext(ctx);
    return this.#c.queues.run(id, async () => {
      const live = await this.#writable(id, ctx);
      const before = this.#c.currentContent(id, live);
      if (before.deleted) throw deletedError(id);
      if (before.labels[label] === undefined) throw coreError(CoreErrorCode.LABEL_NOT_FOUND, `label '${label}' is not set on ${id}`, { id, label });
      const labels = { ...before.labels };
      delete labels[label];
      return this.#c.writeContent(id, live, before, this.#c.checkChanged(id, before, { ...before, labels }), 'label.remove', ctx);
    });
  }

  async revert(id: string, ref: VersionRef, ctx: WriteContext): Promise<ProfileView> {
    this.#c.assertOpen();
    assertProfileId(id);
    checkContext(ctx);
    return this.#c.queues.run(id, async () => {
      let live = await this.#writable(id, ctx);
      const labels = this.#c.currentContent(id, live).labels;
      const r = await resolveRef(this.#c, id, live, ref, labels);
      const target = contentAt(this.#c, id, live, r).content;
      await this.#closeRun(id, live, ctx);
      live = await this.#c.acquire(id);
      const before = this.#c.currentContent(id, live);
      // labels are pointers, not content: a revert leaves them where they are
      const next = this.#c.checkContent(id, { ...target, id, labels: before.labels });
      return this.#c.writeContent(id, live, before, next, 'revert', ctx, { reason: 'revert' });
    });
  }

  async checkpoint(id: string, message: string, ctx: WriteContext): Promise<{ version: VersionInfo; created: boolean }> {
    this.#c.assertOpen();
    assertProfileId(id);
    checkContext(ctx);
    if (typeof message !== 'string' || message.trim().length === 0 || message.length > MAX_MESSAGE_CHARS || textProblem(message) !== undefined || lineProblem(message.replace(/\n/g, ' ')) !== undefined) {
      throw coreError(CoreErrorCode.INVALID, `a checkpoint message is 1..${MAX_MESSAGE_CHARS} characters`, { path: 'message', rule: 'message', issues: [] });
    }
    return this.#c.queues.run(id, async () => {
      let live = await this.#writable(id, ctx);
      if (this.#c.currentContent(id, live).deleted) throw deletedError(id);
      const run = this.#c.runs.get(id);
      const closed = await this.#c.closeAndPersist(id, live, { reason: 'checkpoint', message, actors: run?.actors ?? [ctx.actor] });
      live = await this.#c.acquire(id);
      const list = live.versions.sorted();
      const key = closed?.key ?? this.#c.stateKey(live).key;
      const n = live.versions.numberOf(key);
      const v = list[n - 1];
      if (v === undefined) throw coreError(CoreErrorCode.VERSION_UNAVAILABLE, `no version of ${id} to checkpoint`, { id });
      return { version: versionInfo(this.#c, id, v, n), created: closed !== null };
    });
  }

  // --- history ---------------------------------------------------------------

  #limit(limit: number | undefined): void {
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) throw coreError(CoreErrorCode.INVALID, 'limit must be a positive integer', { path: 'limit', rule: 'limit' });
  }

  /** Versions, newest first; the open run (content changes no version covers yet) first, with open: true. */
  async history(id: string, opts: { limit?: number } = {}): Promise<VersionInfo[]> {
    this.#c.assertOpen();
    assertProfileId(id);
    this.#c.assertIntact(id);
    if (!this.#c.exists(id)) throw coreError(CoreErrorCode.NOT_FOUND, `profile ${id} not found`, { id });
    this.#limit(opts.limit);
    return this.#c.queues.run(id, async () => {
      const live = await this.#c.acquire(id);
      const list = await versionList(this.#c, id, live);
      const out = list.map((v, i) => versionInfo(this.#c, id, v, i + 1));
      const { key } = this.#c.stateKey(live);
      if (!list.some((v) => v.key === key)) {
        const view = await this.#c.viewOrLoad(id);
        const run = this.#c.runs.get(id);
        const current = contentOf(view);
        let base: ProfileContent | null = run?.base ?? null;
        const last = list[list.length - 1];
        if (run === undefined && last !== undefined) {
          try {
            base = contentAt(this.#c, id, live, { kind: 'version', key: last.key, version: last, n: list.length, snapshot: Y.decodeSnapshotV2(Buffer.from(last.rec.snapshot, 'base64url')) }).content;
          } catch {
            base = null;
          }
        }
        const fields = changedPaths(base ?? emptyContentFor(id), current).filter((f) => !f.startsWith('labels.'));
        const actors = run?.actors.slice() ?? [view.updatedBy];
        const n = list.length + 1;
        out.push({
          version: view.version,
          seq: n,
          ref: `@${n}`,
          at: view.updatedAt,
          actor: actors[0] ?? 'unknown',
          actors,
          by: actors.join(', '),
          origin: this.#c.nodeId,
          node: this.#c.nodeId,
          reason: 'open',
          fields,
          summary: summaryLine('update', fields),
          open: true,
        });
      }
      out.reverse();
      return opts.limit === undefined ? out : out.slice(0, opts.limit);
    });
  }

  /** Raw log entries, newest first (`?entries=raw`). */
  async entries(id: string, opts: { limit?: number } = {}): Promise<EntryInfo[]> {
    this.#c.assertOpen();
    assertProfileId(id);
    this.#c.assertIntact(id);
    if (!this.#c.exists(id)) throw coreError(CoreErrorCode.NOT_FOUND, `profile ${id} not found`, { id });
    this.#limit(opts.limit);
    try {
      return await historyOf(this.#c.log, id, opts.limit);
    } catch (err) {
      throw this.#c.readFailed(id, err);
    }
  }

  /** Resolves a REF and rebuilds the view at it (inside the queue). */
  async #viewAt(id: string, ref: unknown): Promise<ProfileView> {
    return this.#c.queues.run(id, async () => {
      const live = await this.#c.acquire(id);
      const current = await this.#c.viewOrLoad(id);
      if (current.deleted && isServingPointer(ref)) throw deletedError(id);
      let r: Resolved;
      try {
        r = await resolveRef(this.#c, id, live, ref, current.labels);
      } catch (err) {
        throw this.#c.readFailed(id, err);
      }
      if (r.kind === 'current') return current;
      const { content, schema } = contentAt(this.#c, id, live, r);
      const version = r.kind === 'version' ? this.#c.refOf(id, r.key) : r.ref;
      const at = r.kind === 'version' ? iso(r.version.rec.at) : r.entry !== undefined ? iso(r.entry.ts) : '';
      const by = r.kind === 'version' ? r.version.rec.by : (r.entry?.actor ?? '');
      return deepFreeze(makeView(canonicalContent(content), { version, schema, conflicts: current.conflicts }, at, by));
    });
  }

  async getAt(id: string, ref: VersionRef): Promise<ProfileView> {
    this.#c.assertOpen();
    assertProfileId(id);
    if (!this.#c.exists(id)) throw coreError(CoreErrorCode.NOT_FOUND, `profile ${id} not found`, { id });
    return this.#viewAt(id, ref);
  }

  async getByLabel(id: string, label: string): Promise<ProfileView> {
    this.#c.assertOpen();
    assertProfileId(id);
    if (label === 'latest') return this.get(id);
    checkLabel(label);
    const view = await this.#view(id);
    // a label is a serving pointer: a deleted profile's labels serve nothing (history stays)
    if (view.deleted) throw deletedError(id);
    if (view.labels[label] === undefined) throw coreError(CoreErrorCode.LABEL_NOT_FOUND, `label '${label}' is not set on ${id}`, { id, label });
    return this.#viewAt(id, label);
  }

  async diff(id: string, from: VersionRef, to: VersionRef): Promise<ProfileDiff> {
    this.#c.assertOpen();
    assertProfileId(id);
    if (!this.#c.exists(id)) throw coreError(CoreErrorCode.NOT_FOUND, `profile ${id} not found`, { id });
    return this.#c.queues.run(id, async () => {
      const live = await this.#c.acquire(id);
      const labels = (await this.#c.viewOrLoad(id)).labels;
      const a = await resolveRef(this.#c, id, live, from, labels);
      const b = await resolveRef(this.#c, id, live, to, labels);
      const before = contentAt(this.#c, id, live, a).content;
      const after = contentAt(this.#c, id, live, b).content;
      const name = (r: Resolved, given: string): string => (r.kind === 'state' ? r.ref : r.kind === 'current' ? this.#c.refOf(id, r.key) : this.#c.refOf(id, r.key)) || given;
      return { from: name(a, from), to: name(b, to), changes: diffContent(before, after, true).filter((ch) => !ch.path.startsWith('labels.')) };
    });
  }

  async render(id: string, variables: unknown, opts: { version?: string; label?: string; template?: string } = {}): Promise<RenderResult> {
    this.#c.assertOpen();
    assertProfileId(id);
    const t0 = monoMs();
    let view: ProfileView;
    if (opts.version !== undefined) view = await this.getAt(id, opts.version);
    else if (opts.label !== undefined) view = await this.getByLabel(id, opts.label);
    else {
      const v = this.get(id);
      view = v instanceof Promise ? await v : v;
    }
    if (view.deleted) throw deletedError(id);
    let out: RenderResult;
    try {
      // the current state (no version or label asked for) says when it is a merge with open conflicts
      const current = opts.version === undefined && opts.label === undefined;
      out = renderProfile(view, variables as never, { ...(opts.template === undefined ? {} : { template: opts.template }), ...(current ? { openConflicts: view.conflicts } : {}) });
    } catch (err) {
      const missing = (err as { details?: { missing?: unknown[] } }).details?.missing;
      this.#c.events.emit('rendered', { id, ok: false, messages: 0, missing: Array.isArray(missing) ? missing.length : 0, durationMillis: monoMs() - t0 });
      throw err;
    }
    this.#c.events.emit('rendered', { id, ok: true, messages: out.messages.length, missing: 0, durationMillis: monoMs() - t0 });
    return out;
  }

  // --- sync ------------------------------------------------------------------

  async applyRemoteUpdate(id: string, update: Uint8Array, ctx: WriteContext, hooks?: RemoteHooks): Promise<{ applied: boolean; view?: ProfileView }> {
    this.#c.assertOpen();
    return applyRemote(this.#c, id, update, ctx, (err) => this.#recordRejected(id, ctx, err), hooks);
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
      repaired: [...(report.repaired ?? []), ...this.#c.auditRestarts].map((f) => ({ kind: f.kind, message: f.message, at: iso(f.at) })),
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
      const last = entries[entries.length - 1] as (typeof entries)[number];
      const m = materializeDoc(id, doc, last);
      doc.destroy();
      const canonical = canonicalContent(content);
      const bytes = persistedBytes(canonical, m.extras, true);
      const input = entries.map((e, i) => ({
        body: e.body, actor: e.actor, origin: e.origin, summary: e.summary,
        ...(i === entries.length - 1 ? { view: bytes, version: inlineVersion(m.stateBytes) } : e.version !== undefined ? { version: e.version } : {}),
      }));
      const acks = await this.#c.log.replaceStream(id, input);
      const ack = acks[acks.length - 1] as (typeof acks)[number];
      this.#c.docs.drop(id);
      const view = deepFreeze(makeView(canonical, m.extras, iso(m.extras.updatedAt ?? ack.ts), m.extras.updatedBy));
      this.#c.hot.set(id, view, bytes.byteLength);
      this.#c.index.put(view, m.extras.digest);
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
    await this.#c.ensureAuditWritable();
    await this.#c.log.append({ stream: AUDIT_STREAM, body: encodeAudit(r), actor: r.actor, origin: r.origin, summary: r.action });
  }

  async audit(query?: AuditQuery): Promise<AuditRecord[]> {
    this.#c.assertOpen();
    const q = parseAuditQuery(query);
    await this.#c.ensureAuditWritable();
    const out = await queryAudit(this.#c.log, q);
    if (!this.#c.log.isDamaged(AUDIT_STREAM)) return out;
    // this read found '#audit' damaged: its new segment holds every record that verifies
    await this.#c.ensureAuditWritable();
    return queryAudit(this.#c.log, q);
  }

  async conflicts(id: string): Promise<ConflictInfo[]> {
    this.#c.assertOpen();
    assertProfileId(id);
    if (!this.#c.exists(id)) throw coreError(CoreErrorCode.NOT_FOUND, `profile ${id} not found`, { id });
    return this.#c.queues.run(id, async () => listRecords((await this.#c.acquire(id)).doc));
  }

  /** Scalar overwrites seen on live updates (audit action `conflict`), newest first. */
  async scalarOverwrites(id: string): Promise<ConflictRecord[]> {
    this.#c.assertOpen();
    assertProfileId(id);
    await this.#c.ensureAuditWritable();
    try {
      return await listConflicts(this.#c.log, id);
    } catch (err) {
      if (!this.#c.log.isDamaged(AUDIT_STREAM)) throw err;
      await this.#c.ensureAuditWritable();
      return listConflicts(this.#c.log, id);
    }
  }

  /** Runs `write` on a copy of the doc (migrated like a local write would) and validates the result. */
  #dryRun(id: string, doc: Y.Doc, write: (doc: Y.Doc, current: ProfileContent) => void): void {
    const copy = newProfileDoc();
    try {
      Y.applyUpdate(copy, Y.encodeStateAsUpdate(doc));
      copy.transact(() => {
        migrateDoc(copy);
        write(copy, validateContent(readContent(copy)));
      });
      this.#c.checkContent(id, readContent(copy));
    } finally {
      copy.destroy();
    }
  }

  async resolveConflict(id: string, conflictId: string, resolution: ConflictResolution, ctx: WriteContext): Promise<{ view: ProfileView; conflict: ConflictInfo }> {
    this.#c.assertOpen();
    assertProfileId(id);
    checkContext(ctx);
    const r = checkResolution(resolution);
    if (typeof conflictId !== 'string' || !CONFLICT_ID.test(conflictId)) throw coreError(CoreErrorCode.CONFLICT_NOT_FOUND, `conflict ${String(conflictId).slice(0, 40)} not found on ${id}`, { id, conflict: String(conflictId).slice(0, 40) });
    return this.#c.queues.run(id, async () => {
      const t0 = monoMs();
      let live = await this.#c.acquire(id);
      const found = getRecord(live.doc, conflictId);
      if (found === undefined) throw coreError(CoreErrorCode.CONFLICT_NOT_FOUND, `conflict ${conflictId} not found on ${id}`, { id, conflict: conflictId });
      if (found.resolution !== undefined) {
        throw coreError(CoreErrorCode.CONFLICT_RESOLVED, `conflict ${conflictId} was resolved by ${found.resolution.by} at ${iso(found.resolution.at)}`, { id, conflict: conflictId, resolvedBy: found.resolution.by, resolvedAt: iso(found.resolution.at), keep: found.resolution.keep });
      }
      const rec = found.conflict;
      const plan = resolutionPlan(id, rec, r, this.#c.currentContent(id, live), (c) => this.#c.checkContent(id, c));
      const write = (doc: Y.Doc, current: ProfileContent): void => {
        if (plan.whole !== undefined) writeWholeContent(doc, current, plan.whole, r.keep === 'merged');
        else writeFieldValue(doc, rec.field, plan.value, rec.message);
        doc.getMap(CONFLICTS_ROOT).set(conflictId + RESOLUTION_SUFFIX, { keep: r.keep, value: plan.whole ?? plan.value ?? null, at: this.#c.clock(), by: ctx.actor, node: this.#c.nodeId });
      };
      // a resolution the schema refuses changes nothing: tried on a copy before anything is written
      this.#dryRun(id, live.doc, write);
      live = await this.#writable(id, ctx);
      await this.#closeRun(id, live, ctx);
      live = await this.#c.acquire(id);
      const before = this.#c.currentContent(id, live);
      const origin = { ctx };
      let update: Uint8Array | null;
      let next: ProfileContent;
      try {
        update = captureUpdate(live.doc, origin, () => write(live.doc, before));
        next = this.#c.checkContent(id, readContent(live.doc));
      } catch (err) {
        this.#c.docs.drop(id);
        throw err;
      }
      if (update === null) throw coreError(CoreErrorCode.CONFLICT_RESOLVED, `conflict ${conflictId} could not be resolved`, { id, conflict: conflictId });
      const stored = validateAuditInput({ actor: ctx.actor, origin: ctx.origin, action: 'conflict.resolve', outcome: 'ok', profile: id, fields: rec.field === '' ? [] : [rec.field], details: { conflict: conflictId, field: rec.field, kind: rec.kind, keep: r.keep } });
      const audit = { stream: AUDIT_STREAM, body: encodeAudit(stored), actor: stored.actor, origin: stored.origin, summary: stored.action };
      const view = await this.#c.persist({ id, live, update, action: 'resolve', ctx, before, created: false, content: next, close: { reason: 'resolve', message: resolveMessage(r.keep, rec.field, conflictId) }, extra: [audit], summaryFields: rec.field === '' ? [] : [rec.field] });
      this.#c.events.emit('conflict-resolved', { id, conflict: conflictId, field: rec.field, keep: r.keep, durationMillis: monoMs() - t0 });
      const conflict = listRecords((await this.#c.acquire(id)).doc).find((x) => x.id === conflictId)!;
      return { view, conflict };
    });
  }

  // --- import / export -------------------------------------------------------

  async exportJson(ids?: string[]): Promise<ProfileView[]> {
    this.#c.assertOpen();
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
          let live = await this.#c.acquire(id);
          let before = this.#c.currentContent(id, live);
          if (before.deleted) throw deletedError(id);
          if (jsonEqual(before, this.#c.checkContent(id, { ...before, ...fields }))) return false;
          live = await this.#writable(id, ctx);
          await this.#closeRun(id, live, ctx);
          live = await this.#c.acquire(id);
          before = this.#c.currentContent(id, live);
          const next = this.#c.checkContent(id, { ...before, ...fields });
          await this.#c.writeContent(id, live, before, next, 'import', ctx, { reason: 'import' });
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
    // open runs are not closed here (that would append after the last change a feed or a peer
    // saw): the persisted view says the run is open, and the next open closes it after the idle gap
    this.#c.closed = true;
    for (const id of [...this.#c.runs.keys()]) this.#c.dropRun(id);
    await this.#c.queues.drain();
    this.#c.docs.clear();
    this.#c.hot.clear();
    if (this.#c.ownsLog) await this.#c.log.close();
  }
}

/**
 * The message of a resolve version: what was kept for which field, so history reads as what
 * happened even when the content did not move (`keep: merged` writes the same text again).
 */
function resolveMessage(keep: string, field: string, conflictId: string): string {
  return `kept ${keep} for ${field === '' ? 'the whole profile (created apart)' : field} (conflict ${conflictId})`.slice(0, 1000);
}
