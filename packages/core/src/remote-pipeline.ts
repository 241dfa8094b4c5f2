/**
 * One hot document (issue 17.1): live remote updates of one profile (a /yjs client's updates, a
 * peer's live UPDATE; no merge context) go through a per-profile pipeline instead of one queued
 * operation each.
 *
 * - An update is applied to the live doc, checked (the same rules as before: /yjs roots and
 *   read-only keys, version records, the one validator; quick text steps in place, live-text.ts)
 *   and handed to the caller's `accepted` hook AS SOON AS IT ARRIVES, also while the previous
 *   group of updates is being written: the fsync is not on the path to other live editors.
 * - Updates accepted while a group is in flight form the next group, appended with ONE
 *   log.appendMany (one synced batch) right after the previous one is durable. Entries stay one
 *   per update (actor, origin, summary and version of each; the view only with the group's last
 *   entry, as the log stores one view per stream per batch), so the hash chain, history, audit
 *   (versions are closed as before) and idempotence (an update that changes nothing appends
 *   nothing) are unchanged. A caller's promise resolves when its entry is durable.
 * - A refused update (invalid, read-only key, malformed) is rejected alone: the updates accepted
 *   before it are still written, the doc is then reloaded from the log, and the updates after it
 *   are applied to the reloaded doc. A failed append rejects its group, and the updates accepted
 *   meanwhile are applied again to a reloaded doc (they are not lost; `accepted` is not called
 *   twice).
 * - Order per profile holds: the pipeline owns the profile's queue slot while it works; any
 *   other operation queued for the profile makes it stop taking updates (later ones queue behind
 *   that operation), finish what it accepted, and give the slot up.
 * Work per update is proportional to the update for text edits (quick steps); the content, the
 * view JSON and the sync digest are built once per group.
 */
import type { AppendAck, AppendInput } from '@profilesync/log';
import * as Y from 'yjs';
import type { LiveDoc } from './caches.js';
import { deepFreeze, jsonEqual } from './canonical.js';
import { captureProbe, detectConflicts, type RawConflict } from './conflicts.js';
import { changedPaths, summaryLine } from './diff.js';
import { CoreErrorCode, coreError } from './errors.js';
import { monoMs } from './events.js';
import { inlineVersion } from './history.js';
import { growthBound, LiveContent, quickStep } from './live-text.js';
import { iso, persistedBytes } from './materialize.js';
import { openCount as openConflicts } from './conflict-records.js';
import { makeView, readContent, schemaOf, type ProfileContent } from './model.js';
import { captureUpdate, hashOf, type StoreCore } from './store.js';
import type { ProfileView, RemoteHooks, WriteContext } from './types.js';
import { isLive, isReplicated, stampOf } from './versions.js';

export interface RemoteResult {
  applied: boolean;
  view?: ProfileView;
}

/** What applyRemote hands over (the checks of applyRemote's preamble have passed). */
export interface RemoteItem {
  update: Uint8Array;
  ctx: WriteContext;
  hooks: RemoteHooks | undefined;
  onRejected: (err: unknown) => Promise<void>;
  t0: number;
  /** the one-at-a-time path, for an item the pipeline does not take (an unknown or damaged profile) */
  single: () => Promise<RemoteResult>;
}

interface Item extends RemoteItem {
  resolve(r: RemoteResult): void;
  reject(err: unknown): void;
  /** `accepted` ran (a re-applied item does not call it again) */
  relayed: boolean;
}

/** Checks of an update that remote.ts owns (roots, read-only keys, version records, audit of replicated records). */
export interface RemoteChecks {
  checkTouched(live: LiveDoc, ctx: WriteContext): { keys: string[]; records: unknown[] };
  replicatedAudit(id: string, ctx: WriteContext, keys: string[], records: unknown[], labelPaths: string[], after: ProfileContent): AppendInput[];
}

interface Step {
  /** absent for a version closed because another actor's update follows */
  item?: Item;
  input: AppendInput;
  audit: AppendInput[];
  conflicts: RawConflict[];
  /** content-state key after the step */
  key: string;
}

const RESTORE_ORIGIN = Symbol('pipeline-restore');

/** Steps per appendMany; more wait for the next group. */
const MAX_GROUP = 512;
/** Slack for the view's computed fields (updatedBy up to 256 characters, escaped) in the size bound. */
const EXTRAS_SLACK = 2048;

class Pipe {
  readonly #c: StoreCore;
  readonly #checks: RemoteChecks;
  readonly id: string;
  readonly #done: () => void;
  /** submitted, not applied yet */
  #pending: Item[] = [];
  /** applied and checked, waiting for the next append */
  #group: Step[] = [];
  #live: LiveDoc | undefined;
  #content: LiveContent | undefined;
  /** exact bytes of a view of the doc at some point since the last reload, and the growth bound since */
  #viewBytes = 0;
  #growth = 0;
  /** the previous group's append is in flight: arriving updates are applied at once */
  #writing = false;
  /** the doc holds a refused change: apply nothing more until it is reloaded */
  #polluted = false;
  /** no more new items (another operation is queued for the profile) */
  yielding = false;

  constructor(c: StoreCore, checks: RemoteChecks, id: string, done: () => void) {
    this.#c = c;
    this.#checks = checks;
    this.id = id;
    this.#done = done;
  }

  add(item: Item): void {
    this.#pending.push(item);
    if (this.#writing && !this.#polluted && this.#group.length < MAX_GROUP) this.#applyPending();
  }

  /** The queue slot: load, apply, append groups until nothing is left. */
  async drive(): Promise<void> {
    const c = this.#c;
    try {
      for (;;) {
        c.assertOpen();
        if (this.#live === undefined) {
          // an unknown or damaged profile: its items go one at a time through the single path
          while (this.#pending.length > 0 && (!c.exists(this.id) || c.log.isDamaged(this.id))) {
            const item = this.#pending.shift() as Item;
            await item.single().then(item.resolve, item.reject);
          }
          if (this.#pending.length === 0) return;
          await this.#load();
        }
        this.#applyPending();
        if (this.#polluted) {
          // the doc holds a refused change: back to the log's state (plus the group accepted
          // before it), so the group's view, digest and conflict count never include it
          if (this.#group.length > 0) await this.#restore();
          else this.#drop();
          continue;
        }
        if (this.#group.length === 0) {
          if (this.#pending.length === 0) return;
          continue;
        }
        await this.#commit();
      }
    } catch (err) {
      for (const it of this.#pending.splice(0)) it.reject(err);
      for (const s of this.#group.splice(0)) s.item?.reject(err);
      throw err;
    } finally {
      this.yielding = true;
      this.#done();
    }
  }

  async #load(): Promise<void> {
    const c = this.#c;
    const live = await c.acquire(this.id);
    this.#live = live;
    this.#content = new LiveContent(c.currentContent(this.id, live));
    // the stored view's size; unknown: measured at the first update
    this.#viewBytes = c.hot.bytesOf(this.id) ?? c.maxProfileBytes + 1;
    this.#growth = 0;
    this.#polluted = false;
  }

  /** Forgets the doc (it holds a refused change, or what a failed append did not write); the next round reloads it. */
  #drop(): void {
    this.#c.docs.drop(this.id);
    this.#live = undefined;
    this.#content = undefined;
    this.#polluted = false;
  }

  /** A doc with exactly the log's state and the accepted group's updates (after a refused update polluted it). */
  async #restore(): Promise<void> {
    const c = this.#c;
    c.docs.drop(this.id);
    this.#live = undefined;
    this.#content = undefined;
    const live = await c.acquire(this.id);
    live.doc.transact(() => {
      for (const s of this.#group) Y.applyUpdate(live.doc, s.input.body, RESTORE_ORIGIN);
    }, RESTORE_ORIGIN);
    this.#live = live;
    this.#content = new LiveContent(c.checkContent(this.id, readContent(live.doc)));
    this.#viewBytes = c.maxProfileBytes + 1;
    this.#growth = 0;
    this.#polluted = false;
  }

  #applyPending(): void {
    while (this.#pending.length > 0 && !this.#polluted && this.#live !== undefined && this.#group.length < MAX_GROUP) {
      const item = this.#pending.shift() as Item;
      this.#apply(item);
    }
  }

  /** Applies and checks one update (synchronous: the doc is never seen half-way). */
  #apply(item: Item): void {
    const c = this.#c;
    const id = this.id;
    const live = this.#live as LiveDoc;
    const content = this.#content as LiveContent;
    const { ctx, update } = item;
    // a live co-editor's write after another actor's (non-live) run closes that run first; so
    // does a peer's change while a run this node left open by a stop is still open (at the
    // state it left: docs/profile-model.md §5)
    const startup = isReplicated(ctx.origin) && c.runs.get(id)?.idleReason === 'startup';
    if ((isLive(ctx.origin) && c.closesRun(id, ctx)) || startup) {
      try {
        this.#closeRun(live, content.read(), startup ? 'startup' : 'actor');
      } catch (err) {
        // as on the one-at-a-time path: the write fails with the close (the doc is restored)
        this.#polluted = true;
        this.#c.events.emit('write-rejected', { id, code: (err as { code?: string }).code ?? 'UNKNOWN', origin: ctx.origin, durationMillis: monoMs() - item.t0 });
        item.reject(err);
        return;
      }
    }
    const probe = captureProbe(live.doc);
    const origin = { ctx };
    let emitted: Uint8Array | null;
    try {
      emitted = captureUpdate(live.doc, origin, () => Y.applyUpdate(live.doc, update, origin));
    } catch (err) {
      this.#polluted = true;
      item.reject(coreError(CoreErrorCode.BAD_UPDATE, 'Yjs update could not be applied', { id }, err));
      return;
    }
    if (emitted === null) {
      c.events.emit('remote-applied', { id, applied: false, bytes: update.byteLength, durationMillis: monoMs() - item.t0 });
      item.resolve({ applied: false });
      return;
    }
    const touched = live.tracker.touched;
    const tx = live.tracker.lastTransaction;
    let paths: string[];
    let after: ProfileContent | undefined;
    let before: ProfileContent | null | undefined;
    let extra: AppendInput[] = [];
    let key: string;
    let stateBytes: Uint8Array;
    try {
      const { keys, records } = this.#checks.checkTouched(live, ctx);
      const quick = records.length === 0 ? quickStep(live.doc, touched) : undefined;
      if (quick !== undefined) {
        // valid in place; a new run needs the exact content before the update
        if (isLive(ctx.origin) && !c.runs.has(id)) before = content.before(tx, touched);
        content.mark(quick);
        paths = quick.map((q) => q.field.path);
        this.#growth += growthBound(touched);
      } else {
        before = content.before(tx, touched);
        after = c.checkContent(id, readContent(live.doc));
        content.set(after);
        paths = changedPaths(before, after);
        if (isReplicated(ctx.origin)) extra = this.#checks.replicatedAudit(id, ctx, keys, records, paths.filter((p) => p.startsWith('labels.')), after);
        this.#viewBytes = 0;
        this.#growth = c.maxProfileBytes + 1; // measured below
      }
      ({ key, bytes: stateBytes } = c.stateKey(live));
      if (this.#viewBytes + this.#growth + EXTRAS_SLACK > c.maxProfileBytes) {
        // near the limit (or after a full read): the exact size of the view this update leaves
        const bytes = this.#viewOf(live, content.read(), key, ctx).byteLength;
        if (bytes > c.maxProfileBytes) throw c.tooLarge(bytes);
        this.#viewBytes = bytes;
        this.#growth = 0;
      }
    } catch (err) {
      this.#polluted = true;
      c.events.emit('write-rejected', { id, code: (err as { code?: string }).code ?? 'UNKNOWN', origin: ctx.origin, durationMillis: monoMs() - item.t0 });
      void item.onRejected(err).finally(() => item.reject(err));
      return;
    }
    const conflicts = detectConflicts(live.doc, probe).filter((x) => !jsonEqual(x.winner.value, x.dropped.value));
    if (isLive(ctx.origin) && paths.some((p) => !p.startsWith('labels.'))) c.noteChange(id, ctx, before ?? null);
    const input: AppendInput = {
      stream: id,
      body: emitted,
      actor: ctx.actor,
      origin: ctx.origin,
      summary: summaryLine('sync', paths),
      version: inlineVersion(stateBytes),
    };
    this.#group.push({ item, input, audit: extra, conflicts, key });
    if (!item.relayed && item.hooks?.accepted !== undefined) {
      item.relayed = true;
      try {
        item.hooks.accepted();
      } catch {
        /* a hook must not break the write */
      }
    }
  }

  /** A version of the open run (another actor's or a peer's update follows), as its own entry of the group. */
  #closeRun(live: LiveDoc, current: ProfileContent, reason: 'actor' | 'startup'): void {
    const c = this.#c;
    const closing = c.prepareClose(this.id, live, current, { reason }, { close: reason });
    const run = c.runs.get(this.id);
    if (closing !== null) {
      const { key, bytes } = c.stateKey(live);
      const actor = closing.rec.actors[0] as string;
      const input: AppendInput = {
        stream: this.id, body: closing.update, actor, origin: run?.origin ?? `node:${c.nodeId}`,
        summary: summaryLine('version', closing.rec.fields), version: inlineVersion(bytes),
      };
      this.#group.push({ input, audit: closing.audit === undefined ? [] : [closing.audit], conflicts: [], key });
    }
    c.dropRun(this.id);
  }

  /** The persisted view bytes of the doc's current state, as persist() writes them. */
  #viewOf(live: LiveDoc, content: ProfileContent, key: string, ctx: WriteContext): Uint8Array {
    const c = this.#c;
    const schema = schemaOf(live.doc);
    const open = schema === 2 && !isReplicated(ctx.origin) && !live.versions.has(key);
    const stamp = schema === 2 ? stampOf(live.versions, key, open) : undefined;
    return persistedBytes(
      content,
      { version: c.refOf(this.id, key), updatedBy: stamp?.by ?? ctx.actor, ...(stamp !== undefined ? { updatedAt: stamp.at } : {}), schema, conflicts: openConflicts(live.doc), open, digest: hashOf(live.full.bytes()) },
      true,
    );
  }

  /** Appends the group (one synced batch) and settles its items. */
  async #commit(): Promise<void> {
    const c = this.#c;
    const id = this.id;
    const live = this.#live as LiveDoc;
    const content = this.#content as LiveContent;
    const steps = this.#group;
    this.#group = [];
    const t0 = monoMs();
    const last = steps[steps.length - 1] as Step;
    const lastCtx: WriteContext = { actor: last.input.actor, origin: last.input.origin };
    // the view after the group (the doc holds exactly the group's state now)
    const after = content.read();
    const schema = schemaOf(live.doc);
    const conflictCount = openConflicts(live.doc);
    const open = schema === 2 && !isReplicated(lastCtx.origin) && !live.versions.has(last.key);
    const digest = hashOf(live.full.bytes());
    const version = c.refOf(id, last.key);
    // updatedAt/updatedBy derived from the doc (versions.ts stampOf), as persist() does
    const stamp = schema === 2 ? stampOf(live.versions, last.key, open) : undefined;
    const viewBytes = persistedBytes(
      after,
      { version, updatedBy: stamp?.by ?? lastCtx.actor, ...(stamp !== undefined ? { updatedAt: stamp.at } : {}), schema, conflicts: conflictCount, open, digest },
      true,
    );
    const inputs: AppendInput[] = steps.map((s, i) => (i === steps.length - 1 ? { ...s.input, view: viewBytes } : s.input));
    for (const s of steps) inputs.push(...s.audit);
    for (const s of steps) {
      if (s.conflicts.length > 0 && s.item !== undefined) {
        await c.ensureAuditWritable();
        inputs.push(...(await c.conflictEntries(id, s.conflicts, s.item.ctx)));
      }
    }
    let acks: AppendAck[];
    this.#writing = true;
    try {
      acks = await c.log.appendMany(inputs);
    } catch (err) {
      this.#writing = false;
      for (const s of steps) {
        c.events.emit('write-rejected', { id, code: (err as { code?: string }).code ?? 'UNKNOWN', origin: s.input.origin, durationMillis: monoMs() - t0 });
        s.item?.reject(err);
      }
      // what was accepted meanwhile sits on a doc that holds the failed group: apply it again to the log's state
      const again = this.#group.splice(0).flatMap((s) => (s.item === undefined ? [] : [s.item]));
      this.#pending.unshift(...again);
      this.#drop();
      return;
    }
    this.#writing = false;
    live.bytes += steps.reduce((n, s) => n + s.input.body.byteLength, 0);
    c.docs.resize(id, live);
    const ts = iso(stamp?.at ?? (acks[steps.length - 1] as AppendAck).ts);
    const view = deepFreeze(makeView(after, { version, schema, conflicts: conflictCount }, ts, stamp?.by ?? lastCtx.actor));
    c.hot.set(id, view, viewBytes.byteLength);
    c.index.put(view, digest);
    this.#viewBytes = viewBytes.byteLength;
    this.#growth = 0;
    steps.forEach((s, i) => {
      const ack = acks[i] as AppendAck;
      c.events.emit('profile-written', { id, seq: ack.seq, bytes: s.input.body.byteLength, action: s.item === undefined ? 'version' : 'sync', origin: s.input.origin, durationMillis: monoMs() - t0 });
      for (const x of s.conflicts) c.events.emit('conflict-recorded', { id, path: x.path, durationMillis: 0 });
      // every event of the group carries the view after the group (the log keeps one view per batch)
      c.notify({ id, update: s.input.body, origin: s.input.origin, actor: s.input.actor, view, seq: ack.seq, lsn: ack.lsn, created: false, ...(s.item?.relayed === true ? { relayed: true } : {}) });
    });
    for (const s of steps) {
      const item = s.item;
      if (item === undefined) continue;
      c.events.emit('remote-applied', { id, applied: true, bytes: item.update.byteLength, durationMillis: monoMs() - item.t0 });
      item.resolve({ applied: true, view });
    }
  }
}

/** The pipelines of all profiles (at most one accepting per profile). */
export class RemotePipelines {
  readonly #c: StoreCore;
  readonly #checks: RemoteChecks;
  /** the accepting pipeline of each profile */
  readonly #open = new Map<string, Pipe>();
  #enqueuing = false;

  constructor(c: StoreCore, checks: RemoteChecks) {
    this.#c = c;
    this.#checks = checks;
    // any other operation queued for a profile: its pipeline takes nothing more (call order holds)
    c.queues.onEnqueue((id) => {
      if (this.#enqueuing) return;
      const p = this.#open.get(id);
      if (p !== undefined) {
        p.yielding = true;
        this.#open.delete(id);
      }
    });
  }

  submit(id: string, r: RemoteItem): Promise<RemoteResult> {
    return new Promise<RemoteResult>((resolve, reject) => {
      const item: Item = { ...r, resolve, reject, relayed: false };
      let p = this.#open.get(id);
      if (p === undefined || p.yielding) {
        const pipe = new Pipe(this.#c, this.#checks, id, () => {
          if (this.#open.get(id) === pipe) this.#open.delete(id);
        });
        this.#open.set(id, pipe);
        p = pipe;
        p.add(item);
        this.#enqueuing = true;
        try {
          void this.#c.queues.run(id, () => pipe.drive()).catch(() => undefined);
        } finally {
          this.#enqueuing = false;
        }
        return;
      }
      p.add(item);
    });
  }
}
