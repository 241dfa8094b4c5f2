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
    list.push({ clock: start, len: end - start });
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

/** Scratch space of encodeSnapshot (grown when a snapshot needs more; the result is a copy). */
let scratch = new Uint8Array(1024);
let at = 0;

function put(byte: number): void {
  if (at === scratch.length) {
    const bigger = new Uint8Array(scratch.length * 2);
    bigger.set(scratch);
    scratch = bigger;
  }
  scratch[at++] = byte;
}

/** lib0's writeVarUint, byte for byte (7 bits a byte, low bits first). */
function varUint(num: number): void {
  while (num > 127) {
    put(128 | (127 & num));
    num = Math.floor(num / 128);
  }
  put(127 & num);
}

const byClientDesc = (a: [number, unknown], b: [number, unknown]): number => b[0] - a[0];

/**
 * Y.encodeSnapshotV2(Y.createSnapshot(ds, sv)), the same bytes (pinned by a test against Yjs),
 * without Yjs's encoder objects and per-entry closures: the delete set (clients in descending
 * order; per client its ranges as clock deltas and len - 1), then the state vector (clients in
 * descending order). The version hash and the sync digest encode one of these at every write.
 */
export function encodeSnapshot(ds: DeleteSet, sv: ReadonlyMap<number, number>): Uint8Array {
  at = 0;
  varUint(ds.clients.size);
  const clients = [...ds.clients.entries()];
  if (clients.length > 1) clients.sort(byClientDesc);
  for (const [client, items] of clients) {
    let cur = 0;
    varUint(client);
    const n = items.length;
    varUint(n);
    for (let i = 0; i < n; i++) {
      const it = items[i] as Range;
      varUint(it.clock - cur);
      cur = it.clock;
      if (it.len === 0) throw new Error('Unexpected case'); // as Yjs's DSEncoderV2.writeDsLen
      varUint(it.len - 1);
      cur += it.len;
    }
  }
  varUint(sv.size);
  const entries = [...sv.entries()];
  if (entries.length > 1) entries.sort(byClientDesc);
  for (const [client, clock] of entries) {
    varUint(client);
    varUint(clock);
  }
  return scratch.slice(0, at);
}
