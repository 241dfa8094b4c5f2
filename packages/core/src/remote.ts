/** Sync support: remote updates, state vectors and state diffs (DESIGN §2, docs/profile-model.md §9). */
import * as Y from 'yjs';
import { jsonEqual } from './canonical.js';
import { captureProbe, detectConflicts } from './conflicts.js';
import { CoreErrorCode, coreError } from './errors.js';
import { monoMs } from './events.js';
import { assertProfileId } from './ids.js';
import type { AppendInput } from '@profilesync/log';
import { AUDIT_STREAM, encodeAudit, validateAuditInput } from './audit.js';
import { NODE_ROOTS } from './content-state.js';
import { changedPaths } from './diff.js';
import { beginMerge, finishMerge } from './merge-conflicts.js';
import { readContent, ROOT } from './model.js';
import { captureUpdate, checkContext, type PreMerge, type StoreCore } from './store.js';
import type { ProfileContent } from './model.js';
import type { ProfileView, RemoteHooks, WriteContext } from './types.js';
import { RemotePipelines } from './remote-pipeline.js';
import { checkRecord, isLive, isReplicated, type VersionRecord } from './versions.js';

const AUDIT_ACTION: Record<string, string> = { create: 'profile.create', revert: 'profile.revert', delete: 'profile.delete', import: 'profile.import', migrate: 'profile.migrate', resolve: 'conflict.resolve' };

/**
 * Keys of root 'profile' a /yjs client may not change: labels move through the API (audited),
 * and a delete is DELETE /api/profiles/:id (a version of its own, audited profile.delete), never
 * a key an editor's socket sets.
 */
const YJS_READONLY: ReadonlySet<string> = new Set(['labels', 'schema', 'id', 'deleted']);

function refused(code: string, path: string, message: string, rule: string): Error {
  return coreError(code as never, message, { path, rule, issues: [{ path, rule, message }] });
}

/** What an update may touch: a /yjs client only content of root 'profile'; a peer only the node roots. Valid version records only. */
function checkTouched(c: StoreCore, live: import('./caches.js').LiveDoc, ctx: WriteContext): VersionRecord[] {
  const t = live.tracker.touched;
  const yjs = isLive(ctx.origin);
  for (const root of t.roots) {
    if (yjs ? root !== ROOT : !NODE_ROOTS.has(root)) {
      throw refused(CoreErrorCode.READONLY_FIELD, root, `${yjs ? 'a /yjs client' : 'a peer'} may not change '${root}' (${yjs ? "only the 'profile' root" : 'only profile, versions and conflicts'})`, 'root');
    }
  }
  if (yjs) for (const k of t.profileKeys) if (YJS_READONLY.has(k)) throw refused(CoreErrorCode.READONLY_FIELD, k, `a /yjs client may not change '${k}'${k === 'labels' ? ' (labels move through the API: PUT/DELETE /api/profiles/:id/labels/:label)' : k === 'deleted' ? ' (delete through the API: DELETE /api/profiles/:id)' : ''}`, 'readonly');
  const added: VersionRecord[] = [];
  const versions = live.doc.getMap<unknown>('versions');
  for (const key of t.versionKeys) {
    const rec = checkRecord(key, versions.get(key));
    if (typeof rec === 'string') throw refused(CoreErrorCode.INVALID, `versions.${key}`, `invalid version record: ${rec}`, 'version-record');
    added.push(rec);
  }
  void c;
  return added;
}

/** '#audit' records for what a replicated update brought: versions closed elsewhere, label moves. */
function replicatedAudit(c: StoreCore, id: string, ctx: WriteContext, keys: string[], recs: VersionRecord[], labelPaths: string[], after: ProfileContent): AppendInput[] {
  const out: AppendInput[] = [];
  const push = (r: Parameters<typeof validateAuditInput>[0]): void => {
    const stored = validateAuditInput(r);
    out.push({ stream: AUDIT_STREAM, body: encodeAudit(stored), actor: stored.actor, origin: stored.origin, summary: stored.action });
  };
  recs.forEach((rec, i) => {
    push({ actor: rec.actors[0] ?? ctx.actor, origin: ctx.origin, action: AUDIT_ACTION[rec.reason] ?? 'profile.edit', outcome: 'ok', profile: id, fields: rec.fields.slice(0, 100), details: { version: c.refOf(id, keys[i]!), reason: rec.reason, actors: rec.actors, node: rec.node, ...(rec.message !== undefined ? { message: rec.message } : {}) } });
  });
  for (const p of labelPaths) {
    const label = p.slice('labels.'.length);
    const value = after.labels[label];
    push({ actor: ctx.actor, origin: ctx.origin, action: value === undefined ? 'label.remove' : 'label.set', outcome: 'ok', profile: id, fields: [p], details: value === undefined ? { label } : { label, version: value } });
  }
  return out;
}

/**
 * Applies a Yjs update from a peer or a Yjs client: decode-checked, applied to the live doc (a
 * new one for an unknown profile: applied once, no separate decode pass), appended only when the doc's update event fires, validated
 * (an invalid result drops the doc and is audited through `onRejected`), conflicts recorded.
 */
export async function applyRemote(
  c: StoreCore,
  id: string,
  update: Uint8Array,
  ctx: WriteContext,
  onRejected: (err: unknown) => Promise<void>,
  hooks?: RemoteHooks,
): Promise<{ applied: boolean; view?: ProfileView }> {
  assertProfileId(id);
  checkContext(ctx);
  const t0 = monoMs();
  if (!(update instanceof Uint8Array) || update.byteLength === 0) throw coreError(CoreErrorCode.BAD_UPDATE, 'update must be a non-empty Uint8Array', { id });
  if (update.byteLength > c.maxUpdateBytes) {
    throw coreError(CoreErrorCode.TOO_LARGE, `update is ${update.byteLength} bytes, the limit is ${c.maxUpdateBytes}`, { id, rule: 'max-update-bytes' });
  }
  // one at a time (inside the profile's queue slot): merges, unknown and damaged profiles
  const single = async (): Promise<{ applied: boolean; view?: ProfileView }> => {
    c.assertOpen();
    if (c.log.isDamaged(id)) return repairFromRemote(c, id, update, ctx, onRejected, t0);
    const exists = c.exists(id);
    const cached = c.docs.peek(id);
    // a profile not yet in the log may already have a doc holding pending (not integrated) structs
    const reuse = !exists && cached !== undefined && !cached.doc.isDestroyed;
    // a doc that holds state is not exposed to a malformed update (decode-checked first); a fresh
    // doc is: applying throws on whatever decoding would refuse, and the fresh doc is dropped
    if (exists || reuse) {
      try {
        Y.decodeUpdate(update);
      } catch (err) {
        throw coreError(CoreErrorCode.BAD_UPDATE, 'malformed Yjs update', { id }, err);
      }
    }
    let live = exists ? await c.acquire(id) : reuse ? cached : c.emptyDoc(id);
    // a live co-editor's write after another actor's run closes that run first (unless both are live)
    if (exists && isLive(ctx.origin)) {
      await c.closeBefore(id, live, ctx);
      live = await c.acquire(id);
    }
    const before = exists ? c.currentContent(id, live) : null;
    // this node's open run meeting a peer's changes (a merge of a diverged state, or any change
    // while a run left open by a stop is still open) is closed at the state before them
    const pre = before !== null ? preMerge(c, id, live, before, ctx) : undefined;
    // a merge of a diverged state gets the three-way check (merge-conflicts.ts); a live update
    // only the report of scalar overwrites (conflicts.ts)
    const mergeFrom = beginMerge(live, exists, ctx);
    const probe = exists && mergeFrom === null ? captureProbe(live.doc) : null;
    const origin = { ctx };
    let emitted: Uint8Array | null | undefined;
    try {
      if (!exists && !reuse) emitted = applyToFresh(live.doc, update, origin);
      if (emitted === undefined) {
        // something stayed pending: start over on a doc that captures the transaction's exact update
        if (!exists && !reuse) live = c.emptyDoc(id);
        emitted = captureUpdate(live.doc, origin, () => Y.applyUpdate(live.doc, update, origin));
      }
    } catch (err) {
      c.docs.drop(id);
      throw coreError(CoreErrorCode.BAD_UPDATE, 'Yjs update could not be applied', { id }, err);
    }
    if (emitted === null) {
      c.events.emit('remote-applied', { id, applied: false, bytes: update.byteLength, durationMillis: monoMs() - t0 });
      return { applied: false };
    }
    const reject = async (err: unknown): Promise<never> => {
      c.docs.drop(id);
      await onRejected(err);
      c.events.emit('write-rejected', { id, code: (err as { code?: string }).code ?? 'UNKNOWN', origin: ctx.origin, durationMillis: monoMs() - t0 });
      throw err;
    };
    const touchedKeys = [...live.tracker.touched.versionKeys];
    let added: VersionRecord[];
    const content = readContent(live.doc);
    try {
      added = checkTouched(c, live, ctx);
      c.checkContent(id, content);
    } catch (err) {
      return reject(err);
    }
    const conflicts = probe === null ? [] : detectConflicts(live.doc, probe).filter((x) => !jsonEqual(x.winner.value, x.dropped.value));
    const after = content as unknown as ProfileContent;
    const paths = before === null ? [] : changedPaths(before, after);
    const extra = isReplicated(ctx.origin) ? replicatedAudit(c, id, ctx, touchedKeys, added, paths.filter((p) => p.startsWith('labels.')), after) : [];
    let authored = false;
    // the run's version, closed at the state before the merge, in the merge's own entry
    const run = pre === undefined ? undefined : c.runs.get(id);
    let closedRun: { key: string; rec: VersionRecord } | undefined;
    if (pre !== undefined && run !== undefined && c.stateKey(live).key !== pre.key) {
      let closing;
      try {
        closing = c.prepareClose(id, live, before!, { reason: run.idleReason === 'startup' ? 'startup' : 'merge' }, { close: 'merge' }, pre);
      } catch (err) {
        c.docs.drop(id);
        throw err;
      }
      if (closing !== null) {
        emitted = Y.mergeUpdates([emitted, closing.update]);
        if (closing.audit !== undefined) extra.push(closing.audit);
        authored = true;
        closedRun = { key: closing.key, rec: closing.rec };
      }
    }
    const merged = mergeFrom === null ? null : finishMerge(c, id, live, update, ctx, mergeFrom);
    if (merged?.update) {
      emitted = Y.mergeUpdates([emitted, merged.update]);
      extra.push(...merged.audit);
      authored = true;
    }
    if (isLive(ctx.origin) && paths.some((p) => !p.startsWith('labels.'))) c.noteChange(id, ctx, before);
    let view: ProfileView;
    try {
      view = await c.persist({ id, live, update: emitted, action: 'sync', ctx, before, created: !exists, conflicts, content: after, extra, ...(authored ? { authored: true } : {}) });
    } catch (err) {
      if ((err as { code?: string }).code === CoreErrorCode.TOO_LARGE) return reject(err);
      throw err;
    }
    if (closedRun !== undefined) {
      if (c.runs.get(id) === run) c.dropRun(id);
      const r = closedRun.rec;
      c.events.emit('version-closed', { id, version: c.refOf(id, closedRun.key), reason: r.reason, actors: r.actors.length, fields: r.fields.length, durationMillis: monoMs() - t0 });
    }
    for (const w of merged?.written ?? []) c.events.emit('conflict-detected', { id, conflict: w.id, field: w.field, kind: w.kind, origin: ctx.origin });
    c.events.emit('remote-applied', { id, applied: true, bytes: update.byteLength, durationMillis: monoMs() - t0 });
    return { applied: true, view };
  };
  // live updates of a known profile: the profile's pipeline (remote-pipeline.ts)
  if (ctx.merge === undefined && c.exists(id) && !c.log.isDamaged(id)) {
    return pipelinesOf(c).submit(id, { update, ctx, hooks, onRejected, t0, single });
  }
  return c.queues.run(id, single);
}

/**
 * The state to close this node's open run at when a peer's update is merged (docs/profile-model.md
 * §5): a merge of a diverged state (a digest round's step 2, ctx.merge) closes the run first, so
 * the run's version is its own node's last state and actors, not the merge; so does any peer
 * change while a run left open by a stop is still open. Undefined when no run is to be closed.
 */
function preMerge(c: StoreCore, id: string, live: import('./caches.js').LiveDoc, before: ProfileContent, ctx: WriteContext): PreMerge | undefined {
  const run = c.runs.get(id);
  if (run === undefined || !isReplicated(ctx.origin) || (ctx.merge === undefined && run.idleReason !== 'startup')) return undefined;
  const { key, bytes } = c.stateKey(live);
  if (live.versions.has(key)) return undefined;
  const list = live.versions.sorted();
  const newest = list[list.length - 1];
  // a run whose start is unknown (left open by a stop) is diffed against the newest version this node knew
  const base = run.base;
  return { key, bytes, newestAt: newest?.rec.at ?? 0, base: base !== undefined ? () => base : () => c.versionContent(id, live, newest?.rec) };
}

const PIPELINES = new WeakMap<StoreCore, RemotePipelines>();

function pipelinesOf(c: StoreCore): RemotePipelines {
  let p = PIPELINES.get(c);
  if (p === undefined) {
    p = new RemotePipelines(c, {
      checkTouched: (live, ctx) => ({ keys: [...live.tracker.touched.versionKeys], records: checkTouched(c, live, ctx) }),
      replicatedAudit: (pid, ctx, keys, records, labelPaths, after) => replicatedAudit(c, pid, ctx, keys, records as VersionRecord[], labelPaths, after),
    });
    PIPELINES.set(c, p);
  }
  return p;
}

/**
 * A damaged profile is repaired by a peer's FULL state (what a digest round sends for an id this
 * node does not list: damaged profiles are left out of the digest): applied to an empty doc, it
 * must leave nothing pending, and its content must validate; it is then written as a new chain
 * segment (log.replaceStream), the index and caches take it, and the repair is audited
 * (`profile.repair`). A delta (something stays pending) is not applied: the full state comes
 * with the next round.
 */
async function repairFromRemote(
  c: StoreCore, id: string, update: Uint8Array, ctx: WriteContext, onRejected: (err: unknown) => Promise<void>, t0: number,
): Promise<{ applied: boolean; view?: ProfileView }> {
  const live = c.emptyDoc(id);
  const origin = { ctx };
  try {
    live.doc.transact(() => Y.applyUpdate(live.doc, update, origin), origin);
  } catch (err) {
    c.docs.drop(id);
    throw coreError(CoreErrorCode.BAD_UPDATE, 'Yjs update could not be applied', { id }, err);
  }
  const store = live.doc.store;
  if (store.pendingStructs !== null || store.pendingDs !== null || store.clients.size === 0) {
    c.docs.drop(id);
    c.events.emit('remote-applied', { id, applied: false, bytes: update.byteLength, durationMillis: monoMs() - t0 });
    return { applied: false };
  }
  const content = readContent(live.doc);
  try {
    c.checkContent(id, content);
  } catch (err) {
    c.docs.drop(id);
    await onRejected(err);
    throw err;
  }
  const findings = c.findings(id);
  const view = await c.persist({
    id, live, update: Y.encodeStateAsUpdate(live.doc), action: 'repair', ctx, before: null, created: false,
    content: content as unknown as ProfileContent, replace: true,
  });
  c.events.emit('profile-repaired', { id, source: ctx.origin, durationMillis: monoMs() - t0 });
  c.events.emit('remote-applied', { id, applied: true, bytes: update.byteLength, durationMillis: monoMs() - t0 });
  await c.auditRepair(id, ctx, findings);
  return { applied: true, view };
}

/**
 * Applies `update` to a brand-new empty doc with no 'update' listener (so Yjs does not encode
 * the transaction). When nothing is left pending, an empty doc has integrated every struct and
 * delete of `update`, so `update` itself is the change to append. Undefined when something is
 * pending (the caller redoes the apply with captureUpdate on a new doc).
 */
function applyToFresh(doc: Y.Doc, update: Uint8Array, origin: object): Uint8Array | undefined {
  doc.transact(() => Y.applyUpdate(doc, update, origin), origin);
  const store = doc.store;
  return store.pendingStructs === null && store.pendingDs === null && store.clients.size > 0 ? update : undefined;
}

/** Yjs state vector of a profile (sync step 1); the empty vector for an unknown profile. */
export async function stateVectorOf(c: StoreCore, id: string): Promise<Uint8Array> {
  assertProfileId(id);
  return c.queues.run(id, async () => {
    // nothing of a damaged profile is trusted: a peer is asked for all of it
    if (!c.exists(id) || c.log.isDamaged(id)) return new Uint8Array([0]); // the empty state vector
    const live = c.docs.peek(id);
    if (live !== undefined && !live.doc.isDestroyed) return Y.encodeStateVector(live.doc);
    return Y.encodeStateVectorFromUpdate((await c.log.loadState(id)).state);
  });
}

/** Everything the holder of `stateVector` lacks (sync step 2); durable content only. */
export async function stateAsUpdate(c: StoreCore, id: string, stateVector?: Uint8Array): Promise<Uint8Array> {
  assertProfileId(id);
  if (stateVector !== undefined) {
    try {
      if (!(stateVector instanceof Uint8Array)) throw new TypeError('not bytes');
      Y.decodeStateVector(stateVector);
    } catch (err) {
      throw coreError(CoreErrorCode.BAD_UPDATE, 'malformed state vector', { id }, err);
    }
  }
  return c.queues.run(id, async () => {
    c.assertIntact(id);
    if (!c.exists(id)) throw coreError(CoreErrorCode.NOT_FOUND, `profile ${id} not found`, { id });
    const live = c.docs.peek(id);
    const store = live?.doc.store;
    // a doc holding pending (not integrated, not durable) structs is not used
    if (live !== undefined && !live.doc.isDestroyed && store?.pendingStructs === null && store.pendingDs === null) {
      return Y.encodeStateAsUpdate(live.doc, stateVector);
    }
    let state: Uint8Array;
    try {
      state = (await c.log.loadState(id)).state;
    } catch (err) {
      throw c.readFailed(id, err);
    }
    return stateVector === undefined ? state : Y.diffUpdate(state, stateVector);
  });
}
