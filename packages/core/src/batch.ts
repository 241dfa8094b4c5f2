/**
 * Coalesced patches. Patches to one profile that arrive while an operation on it is running
 * wait together; when their turn comes they are applied one after the other (each its own
 * transaction, exact update, version and summary: one history entry per patch) and appended
 * with ONE log.appendMany, i.e. one durable batch. A profile then sustains many patches per
 * group commit instead of one, with the same guarantees:
 * - a patch that fails validation is rejected alone and touches nothing;
 * - if the append fails, every patch of the batch is rejected, nothing is fanned out, and the
 *   live doc is dropped (memory never holds what the log refused);
 * - a patch whose result is too large was already applied to the doc: it is rejected, the
 *   patches before it are still appended, the doc is dropped after the append, and the
 *   patches after it are queued again behind it (they never saw its change).
 */
import type { AppendAck, AppendInput } from '@profilesync/log';
import type { LiveDoc } from './caches.js';
import { canonicalContent, makeView, applyContent, schemaOf, type ProfileContent } from './model.js';
import { openCount as openConflicts } from './conflict-records.js';
import { deepFreeze, jsonEqual } from './canonical.js';
import { changedPaths, summaryLine } from './diff.js';
import { CoreErrorCode, coreError } from './errors.js';
import { monoMs } from './events.js';
import { inlineVersion } from './history.js';
import { iso, persistedBytes } from './materialize.js';
import { applyMergePatch } from './patch.js';
import { captureUpdate, hashOf, type StoreCore } from './store.js';
import { migrate } from './legacy.js';
import type { ProfilePatch, ProfileView, WriteContext } from './types.js';
import { isReplicated, stampOf } from './versions.js';

interface Item {
  patch: ProfilePatch;
  ctx: WriteContext;
  settled: boolean;
  /** the batch that currently owns the item (a requeued item belongs to the later batch) */
  owner: Item[] | null;
  resolve(view: ProfileView): void;
  reject(err: unknown): void;
}

interface Step {
  /** absent for a version-close step (a run closed because another actor's patch follows) */
  item?: Item;
  /** absent for a patch that changed nothing */
  input?: AppendInput;
  /** '#audit' inputs of the step (appended in the same batch) */
  audit?: AppendInput;
  content: ProfileContent;
  version: string;
  schema: 1 | 2;
  conflicts: number;
  viewBytes: number;
  /** sync digest key of the state after the step */
  digest?: string;
  /** updatedAt/updatedBy derived from the doc (stampOf); absent: the entry's ts and actor */
  stamp?: { at: number; by: string } | undefined;
}

/** Schema and open conflict count of a live doc (view extras beside the version). */
function extrasOf(live: LiveDoc): { schema: 1 | 2; conflicts: number } {
  return { schema: schemaOf(live.doc), conflicts: openConflicts(live.doc) };
}

/** The step of a patch that changed nothing: the view of the step before it (or the current one). */
function noopStep(item: Item, content: ProfileContent, steps: readonly Step[], live: LiveDoc): Step {
  const last = steps.at(-1);
  return { item, content, version: last?.version ?? '', viewBytes: last?.viewBytes ?? 0, ...extrasOf(live) };
}

export class PatchBatcher {
  readonly #c: StoreCore;
  /** the batch of each profile that has not started yet (new patches join it) */
  readonly #open = new Map<string, Item[]>();

  #enqueuing = false;

  constructor(core: StoreCore) {
    this.#c = core;
    // any other operation queued for a profile closes its open batch, so a patch submitted after
    // that operation runs after it (call order per profile is kept)
    core.queues.onEnqueue((id) => {
      if (!this.#enqueuing) this.#open.delete(id);
    });
  }

  submit(id: string, patch: ProfilePatch, ctx: WriteContext): Promise<ProfileView> {
    return new Promise<ProfileView>((resolve, reject) => {
      const item: Item = {
        patch,
        ctx,
        settled: false,
        owner: null,
        resolve: (v) => {
          item.settled = true;
          resolve(v);
        },
        reject: (e) => {
          item.settled = true;
          reject(e);
        },
      };
      this.#enqueue(id, [item]);
    });
  }

  #enqueue(id: string, items: Item[]): void {
    const open = this.#open.get(id);
    if (open !== undefined) {
      for (const it of items) it.owner = open;
      open.push(...items);
      return;
    }
    const batch = [...items];
    for (const it of items) it.owner = batch;
    this.#open.set(id, batch);
    this.#enqueuing = true;
    let queued: Promise<void>;
    try {
      queued = this.#c.queues.run(id, async () => {
        if (this.#open.get(id) === batch) this.#open.delete(id);
        await this.#run(id, batch);
      });
    } finally {
      this.#enqueuing = false;
    }
    queued.catch((err: unknown) => {
      for (const it of batch) if (it.owner === batch && !it.settled) it.reject(err);
    });
  }

  async #run(id: string, items: Item[]): Promise<void> {
    const c = this.#c;
    c.assertOpen();
    let live = await c.acquire(id);
    if (schemaOf(live.doc) === 1) {
      await migrate(c, id, live, items[0]!.ctx);
      live = await c.acquire(id);
    }
    let before = c.currentContent(id, live);
    const steps: Step[] = [];
    let polluted = false;
    for (let i = 0; i < items.length; i++) {
      const item = items[i] as Item;
      let next: ProfileContent;
      try {
        if (before.deleted) throw coreError(CoreErrorCode.DELETED, `profile ${id} is deleted`, { id });
        next = c.checkChanged(id, before, applyMergePatch(before, item.patch));
      } catch (err) {
        item.reject(err); // validation: nothing touched the doc
        continue;
      }
      if (jsonEqual(before, next)) {
        steps.push(noopStep(item, before, steps, live));
        continue;
      }
      // another actor's patch closes the open run first (a version of the changes before it)
      if (c.closesRun(id, item.ctx)) {
        try {
          const closing = c.prepareClose(id, live, canonicalContent(before), { reason: 'actor' }, { close: 'actor' });
          if (closing !== null) {
            const x = extrasOf(live);
            const { key, bytes } = c.stateKey(live, x.schema);
            const version = c.refOf(id, key);
            const run = c.runs.get(id);
            const ctx = { actor: closing.rec.actors[0]!, origin: run?.origin ?? `node:${c.nodeId}` };
            const digest = hashOf(live.full.bytes());
            const stamp = x.schema === 2 ? stampOf(live.versions, key, false) : undefined;
            const viewBytes = persistedBytes(canonicalContent(before), { version, updatedBy: stamp?.by ?? ctx.actor, ...(stamp !== undefined ? { updatedAt: stamp.at } : {}), ...x, digest }, true);
            const input: AppendInput = { stream: id, body: closing.update, actor: ctx.actor, origin: ctx.origin, summary: summaryLine('version', closing.rec.fields), version: inlineVersion(bytes), view: viewBytes };
            steps.push({ input, ...(closing.audit !== undefined ? { audit: closing.audit } : {}), content: canonicalContent(before), version, viewBytes: viewBytes.byteLength, digest, stamp, ...x });
          }
          c.dropRun(id);
        } catch (err) {
          polluted = true;
          item.reject(err);
          this.#requeue(id, items.slice(i + 1));
          break;
        }
      }
      let update: Uint8Array | null;
      try {
        // a local write does not read what its transaction touched
        update = live.tracker.quietly(() => captureUpdate(live.doc, { ctx: item.ctx }, () => applyContent(live.doc, before, next)));
      } catch (err) {
        polluted = true;
        item.reject(err);
        this.#requeue(id, items.slice(i + 1));
        break;
      }
      if (update === null) {
        steps.push(noopStep(item, before, steps, live));
        continue;
      }
      const x = extrasOf(live);
      const { key, bytes: stateBytes } = c.stateKey(live, x.schema);
      const version = c.refOf(id, key);
      const canonical = canonicalContent(next);
      const open = x.schema === 2 && !isReplicated(item.ctx.origin) && !live.versions.has(key);
      const digest = hashOf(live.full.bytes());
      const stamp = x.schema === 2 ? stampOf(live.versions, key, open) : undefined;
      const bytes = persistedBytes(canonical, { version, updatedBy: stamp?.by ?? item.ctx.actor, ...(stamp !== undefined ? { updatedAt: stamp.at } : {}), ...x, open, digest }, true);
      if (bytes.byteLength > c.maxProfileBytes) {
        polluted = true; // the doc holds this change: drop it after appending the steps before
        item.reject(c.tooLarge(bytes.byteLength));
        this.#requeue(id, items.slice(i + 1));
        break;
      }
      const input: AppendInput = {
        stream: id,
        body: update,
        actor: item.ctx.actor,
        origin: item.ctx.origin,
        summary: summaryLine('update', changedPaths(before, next)),
        version: inlineVersion(stateBytes),
        view: bytes,
      };
      c.noteChange(id, item.ctx, before);
      steps.push({ item, input, content: canonical, version, viewBytes: bytes.byteLength, digest, stamp, ...x });
      before = next;
    }
    await this.#commit(id, live, steps, polluted);
  }

  #requeue(id: string, rest: Item[]): void {
    if (rest.length > 0) this.#enqueue(id, rest);
  }

  async #commit(id: string, live: LiveDoc, steps: Step[], polluted: boolean): Promise<void> {
    const c = this.#c;
    const t0 = monoMs();
    const writes = steps.filter((s) => s.input !== undefined);
    if (writes.length === 0) {
      if (polluted) c.docs.drop(id);
      if (steps.length > 0) {
        const view = await c.viewOrLoad(id);
        for (const s of steps) s.item?.resolve(view);
      }
      return;
    }
    // the log writes only the last view of a stream per batch: send only that one
    const inputs: AppendInput[] = writes.map((s, i) => (i === writes.length - 1 ? (s.input as AppendInput) : { ...(s.input as AppendInput), view: undefined }));
    for (const s of writes) if (s.audit !== undefined) inputs.push(s.audit);
    let acks: AppendAck[];
    try {
      acks = inputs.length === 1 ? [await c.log.append(inputs[0] as AppendInput)] : await c.log.appendMany(inputs);
    } catch (err) {
      c.docs.drop(id);
      for (const s of writes) c.events.emit('write-rejected', { id, code: (err as { code?: string }).code ?? 'UNKNOWN', origin: (s.input as AppendInput).origin, durationMillis: monoMs() - t0 });
      for (const s of steps) s.item?.reject(err);
      return;
    }
    if (polluted) c.docs.drop(id);
    else {
      live.bytes += writes.reduce((n, s) => n + (s.input as AppendInput).body.byteLength, 0);
      c.docs.resize(id, live);
    }
    const before = c.hot.peek(id);
    let current: ProfileView | undefined = before;
    let w = 0;
    for (const s of steps) {
      if (s.input === undefined) {
        if (current !== undefined) s.item?.resolve(current);
        else s.item?.resolve(await c.viewOrLoad(id));
        continue;
      }
      const ack = acks[w++] as AppendAck;
      const input = s.input;
      const view = deepFreeze(makeView(s.content, { version: s.version, schema: s.schema, conflicts: s.conflicts }, iso(s.stamp?.at ?? ack.ts), s.stamp?.by ?? input.actor));
      current = view;
      c.hot.set(id, view, s.viewBytes);
      c.index.put(view, s.digest);
      c.events.emit('profile-written', { id, seq: ack.seq, bytes: input.body.byteLength, action: s.item === undefined ? 'version' : 'update', origin: input.origin, durationMillis: monoMs() - t0 });
      c.notify({ id, update: input.body, origin: input.origin, actor: input.actor, view, seq: ack.seq, lsn: ack.lsn, created: false });
      s.item?.resolve(view);
    }
  }
}
