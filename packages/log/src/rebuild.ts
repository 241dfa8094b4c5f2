/**
 * rebuild(): recreates every stream's snapshots and view from its entries alone, by the same
 * deterministic steps the background worker uses, so the bytes are identical (invariant 5).
 * Each stream is rebuilt with no batch in flight (writer.exclusive); new records are written
 * before stale ones are deleted.
 */
import { DerivedBuilder } from './derived.js';
import type { SnapshotChain } from './snapshot-thread.js';
import { type Op, writeOps } from './db.js';
import { P_REST, P_SNAPSHOT, P_VIEW, parseSeqKey, seqRange, snapshotKey, streamKey } from './keys.js';
import { decodeEntry, iterateRaw, type ReadContext } from './reader.js';
import type { StreamTable } from './table.js';
import type { LastEntryInfo, Materializer, SnapshotPolicy } from './types.js';

export interface RebuildDeps {
  ctx: ReadContext;
  table: StreamTable;
  policy: SnapshotPolicy;
  newChain: () => SnapshotChain;
}

/** Rebuilds one stream; returns the number of snapshots written. Call with no batch in flight. */
export async function rebuildStream(d: RebuildDeps, no: number, name: string, materialize: Materializer | undefined): Promise<number> {
  const { ctx, table, policy } = d;
  const head = table.head(no);
  if (head === undefined) return 0;
  const builder = new DerivedBuilder(policy, ctx.codec, d.newChain, no, name);
  try {
    return await rebuildWith(d, builder, no, name, materialize);
  } finally {
    builder.end();
  }
}

async function rebuildWith(d: RebuildDeps, builder: DerivedBuilder, no: number, name: string, materialize: Materializer | undefined): Promise<number> {
  const { ctx, table } = d;
  const head = table.head(no);
  if (head === undefined) return 0;
  const pending: Promise<{ seq: number; value: Uint8Array } | undefined>[] = [];
  let last: LastEntryInfo | undefined;
  for await (const { seq, parsed } of iterateRaw(ctx, no, name, head, 1, head.seq)) {
    const e = decodeEntry(ctx, no, name, seq, parsed);
    const snap = builder.add({ seq, hash: e.hash, body: e.body, storedBytes: parsed.stored.byteLength });
    if (snap !== undefined) {
      snap.catch(() => undefined); // observed: a failure below leaves it unawaited
      pending.push(snap);
    }
    last = { seq, lsn: e.lsn, ts: e.ts, actor: e.actor, origin: e.origin };
  }
  // the rest state is derived too: it goes, and comes back when the stream is next quiet or closed
  const ops: Op[] = [{ type: 'del', key: streamKey(P_REST, no) }];
  const keep = new Set<number>();
  for (const s of await Promise.all(pending)) {
    if (s === undefined) continue;
    ops.push({ type: 'put', key: snapshotKey(no, s.seq), value: s.value });
    keep.add(s.seq);
  }
  if (materialize !== undefined && last !== undefined) {
    const info = last;
    const view = await builder.view(materialize, () => info);
    ops.push(view === undefined ? { type: 'del', key: streamKey(P_VIEW, no) } : { type: 'put', key: streamKey(P_VIEW, no), value: view });
  }
  const db = ctx.holder.db;
  await writeOps(db, ops, false);
  // stale snapshots (another policy, or beyond the log) go only after the new ones are written
  const stale: Op[] = [];
  for await (const k of db.keys({ ...seqRange(P_SNAPSHOT, no, 0, Number.MAX_SAFE_INTEGER) })) {
    const key = parseSeqKey(k, P_SNAPSHOT);
    if (key === undefined || !keep.has(key.seq)) stale.push({ type: 'del', key: k });
  }
  if (stale.length > 0) await writeOps(db, stale, false);
  return keep.size;
}
