/**
 * rebuild(): recreates every stream's snapshots and view from its entries alone, by the same
 * deterministic steps the background worker uses, so the bytes are identical (invariant 5).
 * Each stream is rebuilt with no batch in flight (writer.exclusive), new records written before
 * stale ones are deleted.
 */
import { type Op, writeOps } from './db.js';
import { P_SNAPSHOT, P_VIEW, parseSeqKey, seqRange, snapshotKey, streamKey } from './keys.js';
import { decodeEntry, iterateRaw, type ReadContext } from './reader.js';
import { frame, viewHeader } from './records.js';
import { buildSnapshot, encodeSnapshot, policyStep, type PolicyCounters } from './snapshots.js';
import type { StreamTable } from './table.js';
import type { LastEntryInfo, Materializer, SnapshotPolicy } from './types.js';
import * as Y from 'yjs';

export interface RebuildDeps {
  ctx: ReadContext;
  table: StreamTable;
  policy: SnapshotPolicy;
}

/** Rebuilds one stream; returns the number of snapshots written. Call with no batch in flight. */
export async function rebuildStream(d: RebuildDeps, no: number, name: string, materialize: Materializer | undefined): Promise<number> {
  const { ctx, table, policy } = d;
  const head = table.head(no);
  if (head === undefined) return 0;
  const counters: PolicyCounters = { lastSnapshotSeq: 0, entriesSince: 0, bytesSince: 0 };
  const snapshots: { seq: number; value: Uint8Array }[] = [];
  let prev: Uint8Array | undefined;
  let tail: Uint8Array[] = [];
  let last: LastEntryInfo | undefined;
  for await (const { seq, parsed } of iterateRaw(ctx, no, name, head, 1, head.seq)) {
    const e = decodeEntry(ctx, no, name, seq, parsed);
    tail.push(e.body);
    last = { seq, lsn: e.lsn, ts: e.ts, actor: e.actor, origin: e.origin };
    if (policyStep(policy, counters, seq, e.body.byteLength)) {
      prev = buildSnapshot(prev, tail);
      tail = [];
      snapshots.push({ seq, value: encodeSnapshot(ctx, no, seq, parsed.hash, prev) });
    }
  }
  if (last === undefined) return 0;
  let view: Uint8Array | undefined;
  if (materialize !== undefined) {
    const parts = prev === undefined ? tail : [prev, ...tail];
    const state = parts.length === 1 ? (parts[0] as Uint8Array) : Y.mergeUpdates(parts);
    view = materialize(name, state, last);
  }
  const db = ctx.holder.db;
  const ops: Op[] = [];
  const keep = new Set(snapshots.map((s) => s.seq));
  for (const s of snapshots) ops.push({ type: 'put', key: snapshotKey(no, s.seq), value: s.value });
  if (view !== undefined) {
    ops.push({ type: 'put', key: streamKey(P_VIEW, no), value: frame(viewHeader(last.seq), ctx.codec.encode({ kind: 'view', stream: no, seq: last.seq }, view)) });
  } else if (materialize !== undefined) {
    ops.push({ type: 'del', key: streamKey(P_VIEW, no) });
  }
  await writeOps(db, ops, false);
  // stale snapshots (other policy, or beyond the log) go only after the new ones are written
  const stale: Uint8Array[] = [];
  for await (const k of db.keys({ ...seqRange(P_SNAPSHOT, no, 0, Number.MAX_SAFE_INTEGER) })) {
    const key = parseSeqKey(k, P_SNAPSHOT);
    if (key === undefined || !keep.has(key.seq)) stale.push(k);
  }
  if (stale.length > 0) await writeOps(db, stale.map((key) => ({ type: 'del' as const, key })), false);
  return snapshots.length;
}
