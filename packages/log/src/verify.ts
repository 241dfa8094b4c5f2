/**
 * verify(): walks the whole keyspace inside one LevelDB snapshot (when available) and reports
 * every broken record; it never throws on corruption. Checks: catalog names readable, every
 * entry's hash, seq gaps, chain links, decodability through the codec, heads agree with the
 * last entries, views and snapshots readable and linked to the chain, no foreign keys.
 */
import { equalBytes, fromUtf8, readU32 } from './bytes.js';
import type { Db } from './db.js';
import { auxNameKey } from './codec.js';
import { auxKey, P_AUX, P_AUX_COPY, P_CATALOG, P_CATALOG_COPY, P_ENTRY, P_HEAD, P_META, P_REST, P_SNAPSHOT, P_VIEW, parseSeqKey, parseStreamKey, prefixRange, seqKey } from './keys.js';
import type { ReadContext } from './reader.js';
import { decodeRest } from './snapshots.js';
import { decodeAuxPlain, decodeHead, decodePayload, type HeadRecord, readViewSeq, SNAPSHOT_HEADER_BYTES, unframe, VIEW_HEADER_BYTES, verifyEntry } from './records.js';
import type { BrokenKind, BrokenRecord, LogEvents, VerifyReport } from './types.js';
import { isValidStreamName } from './validate.js';

type Opts = { snapshot?: unknown };

interface StreamFacts {
  name: string | undefined;
  head: HeadRecord | undefined;
  headBroken: boolean;
  lastSeq: number;
  lastHash: Uint8Array | undefined;
  lastLsn: number;
  lastTs: number;
  snapshots: Map<number, Uint8Array>;
  /** the rest state's seq and entry hash (snapshots.ts) */
  rest: { seq: number; hash: Uint8Array } | undefined;
  viewSeq: number | undefined;
}

const KNOWN = [P_AUX, P_CATALOG, P_ENTRY, P_HEAD, P_META, P_REST, P_SNAPSHOT, P_VIEW, P_AUX_COPY, P_CATALOG_COPY].sort((a, b) => a - b);

function msg(err: unknown): string {
  return String((err as Error)?.message ?? err);
}

export async function verifyLog(
  ctx: ReadContext,
  onProgress: ((p: LogEvents['verify-progress']) => void) | undefined,
  isRetired: (no: number) => boolean = () => false,
): Promise<VerifyReport> {
  const start = performance.now();
  const db: Db = await ctx.holder.current();
  let snapshot: { close(): Promise<void> } | undefined;
  try {
    snapshot = typeof db.snapshot === 'function' ? (db.snapshot() as unknown as { close(): Promise<void> }) : undefined;
  } catch {
    snapshot = undefined;
  }
  const opts: Opts = snapshot === undefined ? {} : { snapshot };
  const broken: BrokenRecord[] = [];
  const facts = new Map<number, StreamFacts>();
  const fact = (no: number): StreamFacts => {
    let f = facts.get(no);
    if (f === undefined) {
      f = { name: undefined, head: undefined, headBroken: false, lastSeq: 0, lastHash: undefined, lastLsn: 0, lastTs: 0, snapshots: new Map(), rest: undefined, viewSeq: undefined };
      facts.set(no, f);
    }
    return f;
  };
  const nameOf = (no: number): string => facts.get(no)?.name ?? `#${no}`;
  const add = (stream: string, seq: number, kind: BrokenKind, message: string): void => {
    broken.push({ stream, seq, kind, message });
  };

  /** Iterates one key range; a storage error is reported and iteration resumes after `resumeAfter(key)`. */
  async function walk(range: { gte: Uint8Array; lt: Uint8Array }, onItem: (k: Uint8Array, v: Uint8Array) => void, resumeAfter: (k: Uint8Array | undefined) => Uint8Array | undefined): Promise<void> {
    let gte: Uint8Array | undefined = range.gte;
    while (gte !== undefined) {
      const it = db.iterator({ gte, lt: range.lt, ...opts } as never);
      let last: Uint8Array | undefined;
      try {
        for (let items = await it.nextv(512); items.length > 0; items = await it.nextv(512)) {
          for (const [k, v] of items) {
            last = k;
            onItem(k, v);
          }
        }
        gte = undefined;
      } catch (err) {
        const f = last === undefined ? undefined : parseSeqKey(last, P_ENTRY) ?? undefined;
        add(f === undefined ? '' : nameOf(f.stream), f === undefined ? 0 : f.seq + 1, 'checksum', `storage error while reading: ${msg(err)}`);
        const next = resumeAfter(last);
        gte = next !== undefined && (last === undefined || Buffer.compare(next, last) > 0) ? next : undefined;
      } finally {
        await it.close().catch(() => undefined);
      }
    }
  }
  const nextPrefixKey = (k: Uint8Array | undefined): Uint8Array | undefined => {
    if (k === undefined || k.byteLength < 5) return undefined;
    const no = readU32(k, 1);
    return no === 0xffff_ffff ? undefined : seqKey(k[0] as number, no + 1, 0).subarray(0, 5);
  };

  try {
    // catalog
    await walk(prefixRange(P_CATALOG), (k, v) => {
      const no = parseStreamKey(k, P_CATALOG);
      if (no === undefined) return add('', 0, 'key', 'malformed catalog key');
      try {
        const { stored } = unframe(v, 0, `catalog record ${no}`, { stream: no });
        const name = fromUtf8(ctx.codec.decode({ kind: 'catalog', stream: no, seq: 0 }, stored));
        if (!isValidStreamName(name)) throw new Error('invalid stream name');
        // a retired chain segment (replaced by a repair) is reported under its number: its damage is not current
        fact(no).name = isRetired(no) ? `#${no}` : name;
      } catch (err) {
        fact(no);
        add(`#${no}`, 0, 'catalog', `catalog record unreadable: ${msg(err)}`);
      }
    }, nextPrefixKey);
    // heads
    await walk(prefixRange(P_HEAD), (k, v) => {
      const no = parseStreamKey(k, P_HEAD);
      if (no === undefined) return add('', 0, 'key', 'malformed head key');
      const f = fact(no);
      try {
        f.head = decodeHead(no, v);
      } catch (err) {
        f.headBroken = true;
        add(nameOf(no), 0, 'head', msg(err));
      }
    }, nextPrefixKey);
    // snapshots (kept as seq -> entry hash, checked during the entry walk)
    await walk(prefixRange(P_SNAPSHOT), (k, v) => {
      const key = parseSeqKey(k, P_SNAPSHOT);
      if (key === undefined) return add('', 0, 'key', 'malformed snapshot key');
      const name = nameOf(key.stream);
      try {
        const { header, stored } = unframe(v, SNAPSHOT_HEADER_BYTES, `snapshot ${name}/${key.seq}`, {});
        ctx.codec.decode({ kind: 'snapshot', stream: key.stream, seq: key.seq }, stored);
        fact(key.stream).snapshots.set(key.seq, header.slice());
      } catch (err) {
        add(name, key.seq, 'snapshot', `snapshot unreadable: ${msg(err)}`);
      }
    }, (k) => nextPrefixKey(k));
    // rest states (one per stream: seq + entry hash in the header, checked during the entry walk)
    await walk(prefixRange(P_REST), (k, v) => {
      const no = parseStreamKey(k, P_REST);
      if (no === undefined) return add('', 0, 'key', 'malformed rest state key');
      const rest = decodeRest(ctx, no, nameOf(no), v);
      if ('state' in rest) fact(no).rest = { seq: rest.seq, hash: rest.hash };
      else add(nameOf(no), rest.seq, 'snapshot', rest.error);
    }, nextPrefixKey);
    // views
    await walk(prefixRange(P_VIEW), (k, v) => {
      const no = parseStreamKey(k, P_VIEW);
      if (no === undefined) return add('', 0, 'key', 'malformed view key');
      try {
        const { header, stored } = unframe(v, VIEW_HEADER_BYTES, `view of ${nameOf(no)}`, {});
        const seq = readViewSeq(header);
        ctx.codec.decode({ kind: 'view', stream: no, seq }, stored);
        fact(no).viewSeq = seq;
      } catch (err) {
        add(nameOf(no), 0, 'view', `view unreadable: ${msg(err)}`);
      }
    }, nextPrefixKey);

    // aux records: readable, and stored under their own name's key
    await walk(prefixRange(P_AUX), (k, v) => {
      try {
        const { stored } = unframe(v, 0, 'aux record', {});
        const { name } = decodeAuxPlain(ctx.codec.decode({ kind: 'aux', stream: 0, seq: 0 }, stored));
        if (!equalBytes(auxKey(auxNameKey(ctx.codec, name)), k)) throw new Error(`record of ${JSON.stringify(name)} under another key`);
      } catch (err) {
        add('', 0, 'aux', `aux record unreadable: ${msg(err)}`);
      }
    }, () => undefined);

    // entries, all streams in key order
    const total = facts.size;
    let done = 0;
    let current: number | undefined;
    const finish = (no: number): void => {
      const f = fact(no);
      const name = nameOf(no);
      if (f.name === undefined) add(name, 0, 'catalog', 'stream has records but no catalog name');
      if (!f.headBroken) {
        if (f.head === undefined && f.lastSeq > 0) add(name, f.lastSeq, 'head', 'stream has entries but no head');
        else if (f.head !== undefined && (f.head.seq !== f.lastSeq || f.lastHash === undefined || !equalBytes(f.head.hash, f.lastHash) || f.head.lsn !== f.lastLsn || f.head.ts !== f.lastTs)) {
          add(name, f.head.seq, 'head', `head (seq ${f.head.seq}) does not match the last entry (seq ${f.lastSeq})`);
        }
      }
      for (const seq of f.snapshots.keys()) if (seq > f.lastSeq) add(name, seq, 'snapshot', 'snapshot beyond the last entry');
      if (f.rest !== undefined && f.rest.seq > f.lastSeq) add(name, f.rest.seq, 'snapshot', 'rest state beyond the last entry');
      if (f.viewSeq !== undefined && f.viewSeq > f.lastSeq) add(name, f.viewSeq, 'view', `view of seq ${f.viewSeq} is beyond the last entry`);
      if (f.name !== undefined && f.head !== undefined && f.viewSeq === undefined && f.lastSeq > 0) {
        // a stream may legitimately have no view ('#audit'); nothing to report
      }
      done++;
      const streamBroken = broken.filter((b) => b.stream === name).length;
      onProgress?.({ done, total: Math.max(total, done), stream: name, broken: streamBroken });
    };
    let entries = 0;
    await walk(prefixRange(P_ENTRY), (k, v) => {
      const key = parseSeqKey(k, P_ENTRY);
      if (key === undefined) return add('', 0, 'key', 'malformed entry key');
      if (current !== key.stream) {
        if (current !== undefined) finish(current);
        current = key.stream;
      }
      entries++;
      const f = fact(key.stream);
      const name = nameOf(key.stream);
      if (key.seq !== f.lastSeq + 1) add(name, f.lastSeq + 1, 'gap', `entries ${f.lastSeq + 1}..${key.seq - 1} are missing`);
      let e;
      try {
        e = verifyEntry(key.stream, key.seq, v);
      } catch (err) {
        add(name, key.seq, 'checksum', msg(err));
        f.lastSeq = key.seq;
        f.lastHash = undefined;
        return;
      }
      if (key.seq === f.lastSeq + 1 && f.lastHash !== undefined && !equalBytes(e.prevHash, f.lastHash)) {
        add(name, key.seq, 'chain', 'prevHash does not match the previous entry');
      } else if (key.seq === 1 && !e.prevHash.every((b) => b === 0)) {
        add(name, 1, 'chain', 'first entry has a non-zero prevHash');
      }
      if (e.lsn <= f.lastLsn || e.ts < f.lastTs) add(name, key.seq, 'chain', 'lsn or ts goes backwards');
      try {
        decodePayload(ctx.codec.decode({ kind: 'entry', stream: key.stream, seq: key.seq }, e.stored));
      } catch (err) {
        add(name, key.seq, 'decode', msg(err));
      }
      const snapHash = f.snapshots.get(key.seq);
      if (snapHash !== undefined && !equalBytes(snapHash, e.hash)) add(name, key.seq, 'snapshot', 'snapshot disagrees with the log');
      if (f.rest !== undefined && f.rest.seq === key.seq && !equalBytes(f.rest.hash, e.hash)) add(name, key.seq, 'snapshot', 'rest state disagrees with the log');
      f.lastSeq = key.seq;
      f.lastHash = e.hash;
      f.lastLsn = e.lsn;
      f.lastTs = e.ts;
    }, nextPrefixKey);
    if (current !== undefined) finish(current);
    for (const no of [...facts.keys()].sort((a, b) => a - b)) {
      const f = facts.get(no) as StreamFacts;
      if (f.lastSeq === 0 && (f.head !== undefined || f.snapshots.size > 0 || f.rest !== undefined || f.viewSeq !== undefined)) finish(no);
    }

    // keys outside the known prefixes
    const gaps: { gte: Uint8Array; lt: Uint8Array }[] = [];
    let lo = 0;
    for (const p of KNOWN) {
      if (p > lo) gaps.push({ gte: Uint8Array.of(lo), lt: Uint8Array.of(p) });
      lo = p + 1;
    }
    gaps.push({ gte: Uint8Array.of(lo), lt: Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff) });
    for (const g of gaps) {
      await walk(g, () => add('', 0, 'key', 'record outside the known keyspace'), () => undefined);
    }
    return { ok: broken.length === 0, streams: facts.size, entries, broken, durationMillis: performance.now() - start };
  } finally {
    await snapshot?.close().catch(() => undefined);
  }
}
