/**
 * Verified reads of entries: every entry's hash is recomputed before it is decoded or yielded
 * (LOG_CHECKSUM_MISMATCH), consecutive entries must link (prevHash) and have no seq gaps, and
 * the entry at the head must match the head (LOG_CORRUPT). Bad bytes are never returned.
 */
import { ProfileSyncError } from '@profilesync/errors';
import { asU8, equalBytes } from './bytes.js';
import type { DbHolder } from './db.js';
import type { Emitter } from './emitter.js';
import { isNotOpenError, logError, readFailure } from './errors.js';
import { P_ENTRY, entryKey, parseSeqKey, seqRange } from './keys.js';
import { decodePayload, type HeadRecord, type ParsedEntry, verifyEntry } from './records.js';
import type { BrokenKind, EntryRecord, LogCodec, LogEvents, ReadRange } from './types.js';

export interface ReadContext {
  holder: DbHolder;
  codec: LogCodec;
  emitter: Emitter<LogEvents>;
  /** newest snapshot seq per stream known to be on disk (StreamTable.snapshotSeqs); absent: findSnapshot always iterates */
  snapshotSeqs?: Map<number, number>;
}

export interface RawEntry {
  seq: number;
  parsed: ParsedEntry;
}

function report(ctx: ReadContext, stream: string, seq: number, kind: BrokenKind, err: unknown): void {
  ctx.emitter.emit('corruption', { stream, seq, kind, message: String((err as Error)?.message ?? err) });
}

/** Decodes a verified entry through the codec. Codec errors keep their code; malformed payloads are LOG_CORRUPT. */
export function decodeEntry(ctx: ReadContext, no: number, name: string, seq: number, p: ParsedEntry): EntryRecord {
  let plain: Uint8Array;
  try {
    plain = ctx.codec.decode({ kind: 'entry', stream: no, seq }, p.stored);
  } catch (err) {
    report(ctx, name, seq, 'decode', err);
    if (err instanceof ProfileSyncError) throw err;
    throw logError('LOG_CORRUPT', `entry ${name}/${seq} cannot be decoded`, { cause: err, details: { stream: name, seq } });
  }
  try {
    const f = decodePayload(plain);
    return {
      stream: name, seq, lsn: p.lsn, ts: p.ts, actor: f.actor, origin: f.origin, summary: f.summary,
      version: f.version, body: f.body, prevHash: asU8(p.prevHash), hash: asU8(p.hash),
    };
  } catch (err) {
    report(ctx, name, seq, 'decode', err);
    throw logError('LOG_CORRUPT', `entry ${name}/${seq} has a malformed payload`, { cause: err, details: { stream: name, seq } });
  }
}

/** One verified entry by seq (no chain check); undefined when absent. */
export async function getRawEntry(ctx: ReadContext, no: number, name: string, seq: number): Promise<ParsedEntry | undefined> {
  let value: Uint8Array | undefined;
  try {
    value = await ctx.holder.run((db) => db.get(entryKey(no, seq)));
  } catch (err) {
    throw readFailure(err, `entry ${name}/${seq}`, { stream: name, seq });
  }
  if (value === undefined) return undefined;
  try {
    return verifyEntry(no, seq, value);
  } catch (err) {
    report(ctx, name, seq, 'checksum', err);
    throw err;
  }
}

async function requireEntry(ctx: ReadContext, no: number, name: string, seq: number): Promise<ParsedEntry> {
  const e = await getRawEntry(ctx, no, name, seq);
  if (e === undefined) {
    report(ctx, name, seq, 'gap', 'missing');
    throw logError('LOG_CORRUPT', `entry ${name}/${seq} is missing`, { details: { stream: name, seq } });
  }
  return e;
}

/** Smallest seq in [lo, hi] whose field value is >= target (hi + 1 when none). Fields are monotonic per stream. */
async function lowerBound(ctx: ReadContext, no: number, name: string, lo: number, hi: number, field: 'ts' | 'lsn', target: number): Promise<number> {
  let a = lo;
  let b = hi + 1;
  while (a < b) {
    const mid = a + Math.floor((b - a) / 2);
    const e = await requireEntry(ctx, no, name, mid);
    if (e[field] >= target) b = mid;
    else a = mid + 1;
  }
  return a;
}

/** Resolves a ReadRange to an inclusive seq interval [from, to] (empty when from > to). */
export async function resolveRange(ctx: ReadContext, no: number, name: string, head: HeadRecord, r: ReadRange): Promise<{ from: number; to: number }> {
  let from = r.fromSeq ?? 1;
  let to = Math.min(r.toSeq ?? head.seq, head.seq);
  if (from > to) return { from, to };
  if (r.fromTs !== undefined) from = Math.max(from, await lowerBound(ctx, no, name, from, to, 'ts', r.fromTs));
  if (from > to) return { from, to };
  if (r.toTs !== undefined) to = Math.min(to, (await lowerBound(ctx, no, name, from, to, 'ts', r.toTs + 1)) - 1);
  if (from > to) return { from, to };
  if (r.untilLsn !== undefined) to = Math.min(to, (await lowerBound(ctx, no, name, from, to, 'lsn', r.untilLsn + 1)) - 1);
  return { from, to };
}

/** Forward ranges up to this many entries are read with getSync point reads (~10-20 us each). */
export const SYNC_POINT_READS = 64;

/**
 * Verified raw entries of one stream for seq in [from, to], forward or reverse, with gap and
 * chain checks (and the head check when the range reaches the head). Survives a DB reopen.
 */
export async function* iterateRaw(
  ctx: ReadContext, no: number, name: string, head: HeadRecord, from: number, to: number, reverse = false,
): AsyncGenerator<RawEntry> {
  let next = reverse ? to : from;
  let neighbor: ParsedEntry | undefined;
  const done = (): boolean => (reverse ? next < from : next > to);
  const missing = (): never => {
    report(ctx, name, next, 'gap', 'missing');
    throw logError('LOG_CORRUPT', `entry ${name}/${next} is missing`, { details: { stream: name, seq: next } });
  };
  /** the checks of entry `next`: hash, link to its neighbour, head; then it becomes the neighbour */
  const accept = (v: Uint8Array): ParsedEntry => {
    let e: ParsedEntry;
    try {
      e = verifyEntry(no, next, v);
    } catch (err) {
      report(ctx, name, next, 'checksum', err);
      throw err;
    }
    if (neighbor !== undefined) {
      const linked = reverse ? equalBytes(neighbor.prevHash, e.hash) : equalBytes(e.prevHash, neighbor.hash);
      if (!linked) {
        const seq = reverse ? next + 1 : next;
        report(ctx, name, seq, 'chain', 'broken link');
        throw logError('LOG_CORRUPT', `entry ${name}/${seq} does not link to its predecessor`, { details: { stream: name, seq } });
      }
    }
    if (next === head.seq && !equalBytes(e.hash, head.hash)) {
      report(ctx, name, next, 'head', 'head mismatch');
      throw logError('LOG_CORRUPT', `the head of ${name} does not match entry ${next}`, { details: { stream: name, seq: next } });
    }
    neighbor = e;
    return e;
  };
  // a short forward range (a snapshot's tail) as point reads on the main thread: no iterator,
  // no thread hops (their scheduling was the cold loadState tail); same checks, same errors
  if (!reverse && to - from < SYNC_POINT_READS) {
    const db = await ctx.holder.current();
    const getSync = (db as { getSync?: (k: Uint8Array) => Uint8Array | undefined }).getSync;
    if (typeof getSync === 'function' && db.status === 'open') {
      const values: Uint8Array[] = [];
      try {
        for (let seq = from; seq <= to; seq++) {
          const v = getSync.call(db, entryKey(no, seq));
          if (v === undefined) break;
          values.push(v);
        }
      } catch (err) {
        throw readFailure(err, `entries of ${name}`, { stream: name, seq: from + values.length });
      }
      for (const v of values) {
        const parsed = accept(v);
        yield { seq: next, parsed };
        next++;
      }
      if (!done()) missing();
      return;
    }
  }
  while (!done()) {
    const db = await ctx.holder.current();
    const gen = ctx.holder.generation;
    const range = reverse ? seqRange(P_ENTRY, no, from, next) : seqRange(P_ENTRY, no, next, to);
    const it = db.iterator({ ...range, reverse });
    try {
      for (;;) {
        let items: [Uint8Array, Uint8Array][];
        try {
          items = await it.nextv(256);
        } catch (err) {
          if (isNotOpenError(err)) {
            await ctx.holder.current();
            if (ctx.holder.generation !== gen) break; // reopened under us: resume at `next`
          }
          throw readFailure(err, `entries of ${name}`, { stream: name, seq: next });
        }
        if (items.length === 0) {
          if (!done()) missing();
          return;
        }
        for (const [k, v] of items) {
          const key = parseSeqKey(k, P_ENTRY);
          if (key === undefined || key.stream !== no || key.seq !== next) missing();
          const e = accept(v);
          yield { seq: next, parsed: e };
          next += reverse ? -1 : 1;
        }
      }
    } finally {
      await it.close().catch(() => undefined);
    }
  }
}
