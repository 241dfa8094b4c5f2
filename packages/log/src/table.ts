/**
 * The in-memory catalog and heads: stream name <-> stream number, and each stream's head.
 * Loaded at open (catalog and head records only), changed only by the writer after a batch
 * is durable, so reads never see a head that is not on disk.
 */
import { fromUtf8 } from './bytes.js';
import type { Db } from './db.js';
import { OPEN_INDEX_MAX_STREAMS, type OpenIndex } from './open-index.js';
import { P_CATALOG, P_ENTRY, P_HEAD, parseSeqKey, parseStreamKey, prefixRange, seqRange } from './keys.js';
import { decodeHead, type HeadRecord, unframe, verifyEntry } from './records.js';
import type { BrokenRecord, LogCodec } from './types.js';
import { isValidStreamName } from './validate.js';

const NO_DETAILS = Object.freeze({});

export interface TableProblem extends BrokenRecord {
  streamNo: number;
}

async function scan(db: Db, prefix: number): Promise<[Uint8Array, Uint8Array][]> {
  const it = db.iterator({ ...prefixRange(prefix) });
  try {
    const out: [Uint8Array, Uint8Array][] = [];
    for (let batch = await it.nextv(4096); batch.length > 0; batch = await it.nextv(4096)) out.push(...batch);
    return out;
  } finally {
    await it.close();
  }
}

async function lastKey(db: Db, prefix: number): Promise<Uint8Array | undefined> {
  const it = db.keys({ ...prefixRange(prefix), reverse: true, limit: 1 });
  try {
    return await it.next();
  } finally {
    await it.close();
  }
}

/** A name on several numbers: chain segments (a repair wrote a new one); the newest is current. */
function keepNewest(byName: Map<string, number>, name: string, no: number): void {
  const prev = byName.get(name);
  if (prev === undefined || prev < no) byName.set(name, no);
}

export class StreamTable {
  #byName = new Map<string, number>();
  #names = new Map<number, string>();
  #heads = new Map<number, HeadRecord>();
  /** streams whose head could not be established; appends to them are refused */
  broken = new Set<number>();
  /** problems found while loading (reported again by verify) */
  problems: TableProblem[] = [];
  #nextNo = 1;
  #lastLsn = 0;
  /**
   * The newest snapshot seq of a stream known to be on disk: written by this log (writeSnapshot),
   * found at the head by a read, or recorded by the open index. findSnapshot reads it with one
   * point read instead of a reverse iterator (snapshots.ts). A hint only: a stale or missing one
   * costs the iterator, never a wrong state. One Map for the table's life (the read context holds it).
   */
  readonly snapshotSeqs = new Map<number, number>();

  get lastLsn(): number {
    return this.#lastLsn;
  }

  get nextNo(): number {
    return this.#nextNo;
  }

  numberOf(name: string): number | undefined {
    return this.#byName.get(name);
  }

  nameOf(no: number): string | undefined {
    return this.#names.get(no);
  }

  head(no: number): HeadRecord | undefined {
    return this.#heads.get(no);
  }

  /** Names of streams that have at least one entry (current segments only), in stream-number order. */
  names(): string[] {
    const out: string[] = [];
    for (const [no, name] of this.#names) if (this.#heads.has(no) && this.#byName.get(name) === no) out.push(name);
    return out;
  }

  /** Stream numbers that have a head but no name (their catalog record is missing or unreadable). */
  unnamedHeads(): number[] {
    const out: number[] = [];
    for (const no of this.#heads.keys()) if (!this.#names.has(no)) out.push(no);
    return out;
  }

  /** Stream numbers with a name, in stream-number order (retired segments included). */
  numbers(): number[] {
    return [...this.#names.keys()];
  }

  /** A number whose name now refers to a newer chain segment (replaced by a repair). */
  isRetired(no: number): boolean {
    const name = this.#names.get(no);
    return name !== undefined && this.#byName.get(name) !== no;
  }

  /** Current segments with a head. */
  current(): number[] {
    return this.numbers().filter((no) => this.#heads.has(no) && !this.isRetired(no));
  }

  /** Sum of every head's seq (retired segments included): equals lastLsn minus a constant (restore --until). */
  totalEntries(): number {
    let n = 0;
    for (const h of this.#heads.values()) n += h.seq;
    return n;
  }

  /**
   * Makes a name known for a number whose catalog record is lost (recovered from the commit
   * seal), unless the name already refers to a newer segment.
   */
  adoptName(no: number, name: string): void {
    const cur = this.#byName.get(name);
    if (cur !== undefined && cur >= no) return;
    this.#names.set(no, name);
    this.#byName.set(name, no);
    if (no >= this.#nextNo) this.#nextNo = no + 1;
  }

  /** Applies a committed batch. */
  commit(heads: Iterable<[number, HeadRecord]>, newStreams: Iterable<[number, string]>, lastLsn: number, nextNo: number): void {
    for (const [no, name] of newStreams) {
      this.#names.set(no, name);
      this.#byName.set(name, no);
    }
    for (const [no, h] of heads) this.#heads.set(no, h);
    this.#lastLsn = lastLsn;
    this.#nextNo = nextNo;
  }

  /** What a clean close writes as the open index (open-index.ts); undefined when the table knows of problems. */
  toOpenIndex(formatVersion: number, sealCounter: number, manifest: string): OpenIndex | undefined {
    // past OPEN_INDEX_MAX_STREAMS one value would be tens of MB: such a log scans (as before)
    if (this.problems.length > 0 || this.broken.size > 0 || this.#heads.size > OPEN_INDEX_MAX_STREAMS) return undefined;
    // a stream has a snapshot seq only once it has entries (a head): no filtering needed
    return { formatVersion, sealCounter, lastLsn: this.#lastLsn, nextNo: this.#nextNo, manifest, names: this.#names, heads: this.#heads, snapshots: this.snapshotSeqs };
  }

  /** Takes catalog and heads from an open index instead of the scan (the caller checked that it is current). */
  adopt(ix: OpenIndex): void {
    const byName = new Map<string, number>();
    for (const [no, name] of ix.names) keepNewest(byName, name, no);
    this.#byName = byName;
    this.#names = ix.names;
    this.#heads = ix.heads;
    this.broken = new Set();
    this.problems = [];
    this.#nextNo = ix.nextNo;
    this.#lastLsn = ix.lastLsn;
    this.snapshotSeqs.clear();
    for (const [no, seq] of ix.snapshots) if (ix.heads.has(no)) this.snapshotSeqs.set(no, seq);
  }

  /** Reads catalog and heads from the DB, replacing the in-memory state. */
  async load(db: Db, codec: LogCodec): Promise<void> {
    // built aside and swapped in at the end: readers never see a half-loaded table
    const byName = new Map<string, number>();
    const names = new Map<number, string>();
    const heads = new Map<number, HeadRecord>();
    const broken = new Set<number>();
    const problems: TableProblem[] = [];
    let maxNo = 0;
    let lastLsn = 0;
    // the three scans are independent: run them concurrently (open time is mostly I/O waits)
    const [catalogRecords, headRecords, lastEntryKey] = await Promise.all([
      scan(db, P_CATALOG), scan(db, P_HEAD), lastKey(db, P_ENTRY),
    ]);
    for (const [k, v] of catalogRecords) {
      const no = parseStreamKey(k, P_CATALOG);
      if (no === undefined) {
        problems.push({ streamNo: 0, stream: '', seq: 0, kind: 'key', message: 'malformed catalog key' });
        continue;
      }
      if (no > maxNo) maxNo = no;
      try {
        const { stored } = unframe(v, 0, 'catalog record', NO_DETAILS); // the catch below names the stream
        const name = fromUtf8(codec.decode({ kind: 'catalog', stream: no, seq: 0 }, stored));
        if (!isValidStreamName(name)) throw new Error(`invalid name`);
        names.set(no, name);
        keepNewest(byName, name, no);
      } catch (err) {
        problems.push({ streamNo: no, stream: `#${no}`, seq: 0, kind: 'catalog', message: `catalog record unreadable: ${(err as Error).message}` });
      }
    }
    for (const [k, v] of headRecords) {
      const no = parseStreamKey(k, P_HEAD);
      if (no === undefined) {
        problems.push({ streamNo: 0, stream: '', seq: 0, kind: 'key', message: 'malformed head key' });
        continue;
      }
      if (no > maxNo) maxNo = no;
      try {
        const h = decodeHead(no, v);
        heads.set(no, h);
        if (h.lsn > lastLsn) lastLsn = h.lsn;
      } catch (err) {
        const name = names.get(no) ?? `#${no}`;
        problems.push({ streamNo: no, stream: name, seq: 0, kind: 'head', message: (err as Error).message });
        const recovered = await this.#headFromEntries(db, no);
        if (recovered === undefined) broken.add(no);
        else if (recovered !== null) {
          heads.set(no, recovered);
          lastLsn = Math.max(lastLsn, recovered.lsn);
        }
      }
    }
    // a stream number used by entries only (a lost catalog/head) must never be reused
    const parsed = lastEntryKey === undefined ? undefined : parseSeqKey(lastEntryKey, P_ENTRY);
    if (parsed !== undefined) maxNo = Math.max(maxNo, parsed.stream);
    this.#byName = byName;
    this.#names = names;
    this.#heads = heads;
    this.broken = broken;
    this.problems = problems;
    this.#nextNo = maxNo + 1;
    this.#lastLsn = lastLsn;
    // a scan learns snapshot seqs only as reads find them
    this.snapshotSeqs.clear();
  }

  /** The head implied by the last entry of a stream when that entry verifies; null when it has no entries. */
  async #headFromEntries(db: Db, no: number): Promise<HeadRecord | null | undefined> {
    const it = db.iterator({ ...seqRange(P_ENTRY, no, 1, Number.MAX_SAFE_INTEGER), reverse: true, limit: 1 });
    try {
      const item = await it.next();
      if (item === undefined) return null;
      const key = parseSeqKey(item[0], P_ENTRY);
      if (key === undefined) return undefined;
      const e = verifyEntry(no, key.seq, item[1]);
      return { seq: key.seq, lsn: e.lsn, ts: e.ts, hash: e.hash };
    } catch {
      return undefined;
    } finally {
      await it.close();
    }
  }
}

