/**
 * In-place growth of a normalized Yjs delete set (per client: ranges sorted by clock, no two
 * overlapping or touching), for the trackers that keep a live doc's delete sets current at every
 * transaction. Y.mergeDeleteSets gives the same ranges but copies and re-sorts every client's
 * whole list each time (work and garbage proportional to the profile's whole history per write);
 * this touches only the clients and the ranges a transaction added. Existing range objects are
 * never mutated (replaced), so a list handed out earlier is not changed behind its holder's back.
 */
import type * as Y from 'yjs';

type DeleteSet = Y.Snapshot['ds'];
type Range = { clock: number; len: number };

/** Adds [clock, clock + len) to a normalized range list, merging what it overlaps or touches. */
export function addRange(list: Range[], clock: number, len: number): void {
  if (len <= 0) return;
  let start = clock;
  let end = clock + len;
  const n = list.length;
  // fast path: at or after the end (a list grows at its end most of the time)
  const last = list[n - 1];
  if (last === undefined || last.clock + last.len < start) {
    list.push({ clock: start, len: end - start }); // ranges before it keep their encoding
    return;
  }
  // first range that ends at or after `start` (it may merge with the new one, or lie after it)
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const m = list[mid] as Range;
    if (m.clock + m.len < start) lo = mid + 1;
    else hi = mid;
  }
  let j = lo;
  while (j < n && (list[j] as Range).clock <= end) {
    const r = list[j] as Range;
    if (r.clock < start) start = r.clock;
    if (r.clock + r.len > end) end = r.clock + r.len;
    j++;
  }
  if (j === lo + 1 && (list[lo] as Range).clock === start && (list[lo] as Range).len === end - start) return; // already covered
  list.splice(lo, j - lo, { clock: start, len: end - start });
  const cached = SECTIONS.get(list);
  if (cached !== undefined && cached.valid > lo) cached.valid = lo; // ranges from lo on are encoded again
}

/** Adds every range of `add` to the normalized delete set `ds` (in place). */
export function addDeleteSet(ds: DeleteSet, add: DeleteSet): void {
  for (const [client, items] of add.clients) {
    let list = ds.clients.get(client) as Range[] | undefined;
    if (list === undefined) {
      list = [];
      ds.clients.set(client, list as never);
    }
    for (const it of items) addRange(list, it.clock, it.len);
    if (list.length === 0) ds.clients.delete(client);
  }
}

/** A growable byte buffer (lib0's writeVarUint, byte for byte: 7 bits a byte, low bits first). */
class Bytes {
  buf: Uint8Array;
  at = 0;
  constructor(size: number) {
    this.buf = new Uint8Array(size);
  }
  #grow(need: number): void {
    let size = this.buf.length * 2;
    while (size < this.at + need) size *= 2;
    const bigger = new Uint8Array(size);
    bigger.set(this.buf.subarray(0, this.at));
    this.buf = bigger;
  }
  varUint(num: number): void {
    if (this.at + 10 > this.buf.length) this.#grow(10);
    const b = this.buf;
    while (num > 127) {
      b[this.at++] = 128 | (127 & num);
      num = Math.floor(num / 128);
    }
    b[this.at++] = 127 & num;
  }
  append(bytes: Uint8Array): void {
    if (this.at + bytes.length > this.buf.length) this.#grow(bytes.length);
    this.buf.set(bytes, this.at);
    this.at += bytes.length;
  }
}

/**
 * The encoded ranges of one client's list of a tracker's delete set: `bytes` holds ranges
 * [0, valid) as DSEncoderV2 writes them (clock delta from the previous range's end, len - 1);
 * `ends[i]` is where range i's bytes end. addRange moves `valid` back to the first range it
 * replaced; a push leaves it (the new range is encoded at the next call).
 */
interface Section {
  bytes: Bytes;
  ends: number[];
  valid: number;
}
const SECTIONS = new WeakMap<Range[], Section>();

function encodeRanges(out: Bytes, items: readonly Range[], from: number, ends: number[] | null): void {
  let cur = from === 0 ? 0 : (items[from - 1] as Range).clock + (items[from - 1] as Range).len;
  for (let i = from; i < items.length; i++) {
    const it = items[i] as Range;
    out.varUint(it.clock - cur);
    if (it.len === 0) throw new Error('Unexpected case'); // as Yjs's DSEncoderV2.writeDsLen
    out.varUint(it.len - 1);
    cur = it.clock + it.len;
    if (ends !== null) ends[i] = out.at;
  }
}

/** The encoded ranges of a tracked list, brought up to date from the first range that changed. */
function section(items: Range[]): Uint8Array {
  let sec = SECTIONS.get(items);
  if (sec === undefined) {
    sec = { bytes: new Bytes(64), ends: [], valid: 0 };
    SECTIONS.set(items, sec);
  }
  const from = Math.min(sec.valid, items.length);
  sec.bytes.at = from === 0 ? 0 : (sec.ends[from - 1] as number);
  sec.ends.length = from;
  encodeRanges(sec.bytes, items, from, sec.ends);
  sec.valid = items.length;
  return sec.bytes.buf.subarray(0, sec.bytes.at);
}

const out = new Bytes(1024);
const byClientDesc = (a: [number, unknown], b: [number, unknown]): number => b[0] - a[0];

/**
 * Y.encodeSnapshotV2(Y.createSnapshot(ds, sv)), the same bytes (pinned by tests against Yjs),
 * without Yjs's encoder objects and per-entry closures: the delete set (clients in descending
 * order; per client its ranges as clock deltas and len - 1), then the state vector (clients in
 * descending order). The version hash and the sync digest encode one of these at every write.
 *
 * `tracked`: every range list of `ds` changes only through addRange/addDeleteSet (the trackers'
 * delete sets): each list's encoded ranges are kept and only the ranges from the first one that
 * changed are encoded again, so a write costs O(its change) instead of O(the whole history).
 */
export function encodeSnapshot(ds: DeleteSet, sv: ReadonlyMap<number, number>, tracked = false): Uint8Array {
  out.at = 0;
  out.varUint(ds.clients.size);
  const clients = [...ds.clients.entries()];
  if (clients.length > 1) clients.sort(byClientDesc);
  for (const [client, items] of clients) {
    out.varUint(client);
    out.varUint(items.length);
    if (tracked) out.append(section(items as Range[]));
    else encodeRanges(out, items as Range[], 0, null);
  }
  out.varUint(sv.size);
  const entries = [...sv.entries()];
  if (entries.length > 1) entries.sort(byClientDesc);
  for (const [client, clock] of entries) {
    out.varUint(client);
    out.varUint(clock);
  }
  return out.buf.slice(0, out.at);
}
