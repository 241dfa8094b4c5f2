/**
 * The open index: every stream's name and head (and newest snapshot seq) in one record, written by a clean close and read
 * by the next open instead of scanning one catalog record and one head record per stream (10,000
 * streams: ~20,000 LevelDB values, each its own buffer, most of an open's time and garbage).
 * docs/storage-format.md §14.
 *
 * It exists only while the log is stopped cleanly, and it is trusted only when nothing can have
 * changed since it was written:
 *   - close writes it after the last commit (writer drained), then flushes the memtable and writes
 *     the final seal; the index carries that seal's counter and lastLsn, and the open uses it only
 *     when the seal it finds is clean and has the same counter and lastLsn (a close that failed
 *     after the index, or any later run of the log, moves the counter: every open writes a seal);
 *   - it also names the MANIFEST that CURRENT named at close, and the open compares that before
 *     LevelDB opens: every LevelDB open starts a new MANIFEST, so a DB opened by anything else
 *     since (another tool, an older profilesync, a hand edit) never has its records skipped;
 *   - the open deletes it before any other write, so a later crash can never leave a stale index
 *     behind: LevelDB recovers a prefix of its writes, and the delete comes first;
 *   - any doubt falls back to the full scan: a table check that lost or salvaged blocks, a
 *     rebuilt MANIFEST, format records written again, another format version, a damaged or
 *     unparsable index (it is framed with a crc32 and sealed by the codec like a catalog record),
 *     or a close that knew of catalog or head problems (it writes no index then).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromUtf8, readU32, readU64, utf8, writeU32, writeU64 } from './bytes.js';
import { type Db, getPoint } from './db.js';
import { metaKey } from './keys.js';
import type { HeadRecord } from './records.js';
import { frame, unframe } from './records.js';
import type { LogCodec, Place } from './types.js';
import { manifestNamedBy } from './tables.js';
import { isValidStreamName } from './validate.js';

/** Under the meta prefix: nothing else reads or writes it, and restore/backup never see it (an open log has none). */
export const OPEN_INDEX_KEY = metaKey('open-index');
/** 2 added the snapshot seqs; a version 1 index (no such section) is still read */
const INDEX_VERSION = 2;
/** ~60 bytes a stream: 500,000 streams make a ~30 MB value; a larger log writes none and scans */
export const OPEN_INDEX_MAX_STREAMS = 500_000;
/** sealed like a catalog record of stream 0, a number no stream uses: its AAD differs from every catalog record's */
const PLACE: Place = Object.freeze({ kind: 'catalog', stream: 0, seq: 0 });
const NO_HEADER = new Uint8Array(0);
const HEAD_PART = 8 + 8 + 8 + 32;
const SNAP_PART = 4 + 8;

export interface OpenIndex {
  formatVersion: number;
  sealCounter: number;
  lastLsn: number;
  nextNo: number;
  /** what CURRENT named when the index was written: every LevelDB open starts a new MANIFEST, so another name means the DB was opened since (by anything) */
  manifest: string;
  names: Map<number, string>;
  heads: Map<number, HeadRecord>;
  /** each stream's newest snapshot seq known at close (StreamTable.snapshotSeqs; empty from a version 1 index) */
  snapshots: Map<number, number>;
}

export function encodeOpenIndex(ix: OpenIndex, codec: LogCodec): Uint8Array {
  // in stream-number order, as the scan loads them (StreamTable.names() promises that order)
  const entries = [...ix.names].sort((x, y) => x[0] - y[0]);
  // names are ASCII without a newline (STREAM_NAME_RE): one string, one decode at open
  const joined = utf8(entries.map((e) => e[1]).join('\n'));
  const manifest = utf8(ix.manifest.slice(0, 255));
  const out = new Uint8Array(1 + 4 + 8 + 8 + 4 + 1 + manifest.byteLength + 4 + entries.length * 4 + 4 + joined.byteLength + 4 + ix.heads.size * (4 + HEAD_PART) + 4 + ix.snapshots.size * SNAP_PART);
  let o = 0;
  out[o++] = INDEX_VERSION;
  writeU32(out, o, ix.formatVersion); o += 4;
  writeU64(out, o, ix.sealCounter); o += 8;
  writeU64(out, o, ix.lastLsn); o += 8;
  writeU32(out, o, ix.nextNo); o += 4;
  out[o++] = manifest.byteLength;
  out.set(manifest, o); o += manifest.byteLength;
  writeU32(out, o, entries.length); o += 4;
  for (const [no] of entries) {
    writeU32(out, o, no); o += 4;
  }
  writeU32(out, o, joined.byteLength); o += 4;
  out.set(joined, o); o += joined.byteLength;
  writeU32(out, o, ix.heads.size); o += 4;
  for (const [no, h] of ix.heads) {
    writeU32(out, o, no); o += 4;
    writeU64(out, o, h.seq); o += 8;
    writeU64(out, o, h.lsn); o += 8;
    writeU64(out, o, h.ts); o += 8;
    out.set(h.hash, o); o += 32;
  }
  writeU32(out, o, ix.snapshots.size); o += 4;
  for (const [no, seq] of ix.snapshots) {
    writeU32(out, o, no); o += 4;
    writeU64(out, o, seq); o += 8;
  }
  return frame(NO_HEADER, codec.encode(PLACE, out));
}

/** Parses an index record; throws (any error) when it is damaged or not this version's. */
export function decodeOpenIndex(value: Uint8Array, codec: LogCodec): OpenIndex {
  const { stored } = unframe(value, 0, 'open index', {});
  const b = codec.decode(PLACE, stored);
  const cut = (need: number) => {
    if (need > b.byteLength) throw new RangeError('open index cut short');
  };
  cut(30);
  let o = 0;
  const version = b[o++];
  if (version !== 1 && version !== INDEX_VERSION) throw new RangeError('unknown open index version');
  const formatVersion = readU32(b, o); o += 4;
  const sealCounter = readU64(b, o); o += 8;
  const lastLsn = readU64(b, o); o += 8;
  const nextNo = readU32(b, o); o += 4;
  const manifestLen = b[o++] as number;
  cut(o + manifestLen + 4);
  const manifest = fromUtf8(b.subarray(o, o + manifestLen)); o += manifestLen;
  const nNames = readU32(b, o); o += 4;
  cut(o + nNames * 4 + 4);
  const nosAt = o;
  o += nNames * 4;
  const joinedLen = readU32(b, o); o += 4;
  cut(o + joinedLen + 4);
  const list = nNames === 0 ? [] : fromUtf8(b.subarray(o, o + joinedLen)).split('\n');
  if (list.length !== nNames) throw new RangeError('open index names do not match their count');
  o += joinedLen;
  const names = new Map<number, string>();
  for (let i = 0; i < nNames; i++) {
    const name = list[i] as string;
    if (!isValidStreamName(name)) throw new RangeError('invalid name in the open index');
    names.set(readU32(b, nosAt + i * 4), name);
  }
  const nHeads = readU32(b, o); o += 4;
  const headsEnd = o + nHeads * (4 + HEAD_PART);
  const snapshots = new Map<number, number>();
  if (version === 1) {
    if (headsEnd !== b.byteLength) throw new RangeError('open index has the wrong size');
  } else {
    cut(headsEnd + 4);
    const nSnaps = readU32(b, headsEnd);
    if (headsEnd + 4 + nSnaps * SNAP_PART !== b.byteLength) throw new RangeError('open index has the wrong size');
    for (let i = 0, p = headsEnd + 4; i < nSnaps; i++, p += SNAP_PART) snapshots.set(readU32(b, p), readU64(b, p + 4));
  }
  // the hashes stay views of one copy of the head part (one allocation for every head, not one each)
  const part = b.slice(o, headsEnd);
  const heads = new Map<number, HeadRecord>();
  for (let i = 0, p = 0; i < nHeads; i++, p += 4 + HEAD_PART) {
    heads.set(readU32(part, p), { seq: readU64(part, p + 4), lsn: readU64(part, p + 12), ts: readU64(part, p + 20), hash: part.subarray(p + 28, p + 60) });
  }
  return { formatVersion, sealCounter, lastLsn, nextNo, manifest, names, heads, snapshots };
}

/** The MANIFEST that CURRENT names (undefined when there is none or it does not name one). */
export function currentManifest(dir: string): string | undefined {
  try {
    return manifestNamedBy(readFileSync(join(dir, 'CURRENT'), 'latin1'));
  } catch {
    return undefined;
  }
}

/**
 * Reads the index and deletes it (before any other write of this open; see the file comment).
 * Returns undefined when there is none or it does not parse.
 */
export async function takeOpenIndex(db: Db, codec: LogCodec): Promise<OpenIndex | undefined> {
  let value: Uint8Array | undefined;
  try {
    value = await getPoint(db, OPEN_INDEX_KEY);
  } catch {
    value = undefined; // unreadable: the scan decides
  }
  if (value === undefined) return undefined;
  await db.del(OPEN_INDEX_KEY);
  try {
    return decodeOpenIndex(value, codec);
  } catch {
    return undefined;
  }
}
