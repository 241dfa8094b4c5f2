/**
 * The three states of a merge (issue 13, docs/profile-model.md "Conflicts"): when a remote
 * update merges a DIVERGED state into a live doc, the receiver knows
 *   L  its own state before the merge (Y.snapshot of the doc),
 *   R  the sender's state: state vector = its step 1's vector ∪ the update's own clocks,
 *      delete set = the update's (encodeStateAsUpdate/diffUpdate carry the sender's whole one),
 *   B  what both knew: (min(svL, svR), dsL ∩ dsR),
 * and, the doc being gc:false, can read any field at any of them without building a doc.
 * Pure functions over Yjs structures; no I/O.
 */
import * as Y from 'yjs';

type DeleteSet = Y.Snapshot['ds'];
interface Range {
  clock: number;
  len: number;
}

const EMPTY_DS = (): DeleteSet => Y.createDeleteSet();

/** Per-client end clock of the structs an update carries (Skips included: they only lower R). */
export function updateClocks(update: Uint8Array): Map<number, number> {
  return Y.parseUpdateMeta(update).to;
}

/** The delete set an update carries (cheap: the structs are cut away first). */
export function updateDeleteSet(update: Uint8Array, clocks: Map<number, number> = updateClocks(update)): DeleteSet {
  const dsOnly = Y.diffUpdate(update, Y.encodeStateVector(clocks));
  return Y.decodeUpdate(dsOnly).ds as DeleteSet;
}

/**
 * The sender's snapshot: its state vector (from its step 1, possibly older) raised by the
 * update's clocks, capped at what the merged doc holds (a struct left pending is not part of
 * any state we can read), and the update's delete set.
 */
export function remoteSnapshot(doc: Y.Doc, update: Uint8Array, remoteStateVector: Uint8Array): Y.Snapshot {
  const clocks = updateClocks(update);
  const sv = new Map<number, number>();
  for (const [c, clock] of Y.decodeStateVector(remoteStateVector)) if (clock > 0) sv.set(c, clock);
  for (const [c, clock] of clocks) if (clock > (sv.get(c) ?? 0)) sv.set(c, clock);
  for (const [c, clock] of sv) {
    const have = Y.getState(doc.store, c);
    if (have < clock) {
      if (have === 0) sv.delete(c);
      else sv.set(c, have);
    }
  }
  return Y.createSnapshot(normalizedDs(updateDeleteSet(update, clocks)), sv);
}

function normalizedDs(ds: DeleteSet): DeleteSet {
  const out = EMPTY_DS();
  for (const [c, ranges] of ds.clients) out.clients.set(c, normalized(ranges as Range[]) as never);
  return out;
}

function rangesOf(ds: DeleteSet, client: number): Range[] {
  return (ds.clients.get(client) as Range[] | undefined) ?? [];
}

/** Sorted, merged ranges (Yjs keeps delete sets sorted after a transaction; a decoded one is too, but be safe). */
function normalized(ranges: Range[]): Range[] {
  const sorted = [...ranges].sort((a, b) => a.clock - b.clock);
  const out: Range[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && r.clock <= last.clock + last.len) last.len = Math.max(last.len, r.clock + r.len - last.clock);
    else out.push({ clock: r.clock, len: r.len });
  }
  return out;
}

function intersectRanges(a: Range[], b: Range[]): Range[] {
  const out: Range[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a[i]!;
    const y = b[j]!;
    const from = Math.max(x.clock, y.clock);
    const to = Math.min(x.clock + x.len, y.clock + y.len);
    if (to > from) out.push({ clock: from, len: to - from });
    if (x.clock + x.len < y.clock + y.len) i++;
    else j++;
  }
  return out;
}

/** Whether every range of `inner` lies within `outer` (both normalized). */
function rangesWithin(inner: Range[], outer: Range[]): boolean {
  let j = 0;
  for (const r of inner) {
    while (j < outer.length && outer[j]!.clock + outer[j]!.len <= r.clock) j++;
    const o = outer[j];
    if (o === undefined || o.clock > r.clock || o.clock + o.len < r.clock + r.len) return false;
  }
  return true;
}

/** B = (min(svA, svB), dsA ∩ dsB): what both states hold. */
export function commonSnapshot(a: Y.Snapshot, b: Y.Snapshot): Y.Snapshot {
  const sv = new Map<number, number>();
  for (const [c, clock] of a.sv) {
    const m = Math.min(clock, b.sv.get(c) ?? 0);
    if (m > 0) sv.set(c, m);
  }
  const ds = EMPTY_DS();
  for (const c of a.ds.clients.keys()) {
    if (!b.ds.clients.has(c)) continue;
    const both = intersectRanges(normalized(rangesOf(a.ds, c)), normalized(rangesOf(b.ds, c)));
    if (both.length > 0) ds.clients.set(c, both as never);
  }
  return Y.createSnapshot(ds, sv);
}

/** Whether state `outer` holds everything of state `inner` (structs and deletions). */
export function holdsState(outer: Y.Snapshot, inner: Y.Snapshot): boolean {
  for (const [c, clock] of inner.sv) if (clock > (outer.sv.get(c) ?? 0)) return false;
  for (const c of inner.ds.clients.keys()) {
    const svc = inner.sv.get(c) ?? 0;
    // deletions of structs the inner state does not hold (possible for an underestimated R) do not count
    const inside = normalized(rangesOf(inner.ds, c))
      .map((r) => ({ clock: r.clock, len: Math.min(r.len, svc - r.clock) }))
      .filter((r) => r.len > 0);
    if (!rangesWithin(inside, normalized(rangesOf(outer.ds, c)))) return false;
  }
  return true;
}

/** Clients with structs in the state, other than the reserved skeleton/migration client 0. */
export function writersOf(s: Y.Snapshot): number[] {
  return [...s.sv.entries()].filter(([c, clock]) => c !== 0 && clock > 0).map(([c]) => c);
}

// --- reading fields at a snapshot ---------------------------------------------------------

/** A state to read: a snapshot, or null for the doc's current state. */
export type At = Y.Snapshot | null;

function mapItems(map: Y.Map<unknown>): Map<string, Y.Item> {
  return (map as unknown as { _map: Map<string, Y.Item> })._map;
}

/** Every key a Y.Map ever held (deleted keys keep their item). */
export function keysEver(map: Y.Map<unknown>): string[] {
  return [...mapItems(map).keys()];
}

/**
 * The newest value a map key was set to within a state's structs: an item (its clock range may
 * hold several consecutive sets merged into one struct) and the index of the value in it.
 */
function newestIn(map: Y.Map<unknown>, key: string, at: Y.Snapshot): { item: Y.Item; i: number; newer: Y.Item[] } | undefined {
  const newer: Y.Item[] = [];
  for (let v = mapItems(map).get(key) ?? null; v !== null; v = v.left as Y.Item | null) {
    const held = Math.min(v.length, (at.sv.get(v.id.client) ?? 0) - v.id.clock);
    if (held > 0) return { item: v, i: held - 1, newer };
    newer.push(v);
  }
  return undefined;
}

function contentAt(item: Y.Item, i: number): unknown {
  return item.content.getContent()[i];
}

/** The value of a map key at a state (undefined when absent). */
export function valueAt(map: Y.Map<unknown>, key: string, at: At): unknown {
  if (at === null) return map.get(key);
  const hit = newestIn(map, key, at);
  if (hit === undefined) return undefined;
  return Y.isDeleted(at.ds, Y.createID(hit.item.id.client, hit.item.id.clock + hit.i)) ? undefined : contentAt(hit.item, hit.i);
}

function inState(item: Y.Item, at: Y.Snapshot): boolean {
  return item.id.clock < (at.sv.get(item.id.client) ?? 0);
}

/**
 * The value of a map key at the common state `b` of `l` and `r`. A value both sides replaced
 * apart is deleted in both delete sets, hence in b's, though neither side knew of the other's
 * replacement: when each side holds a newer value of its own (one b does not hold), the
 * replaced value is the common one. (A deletion both knew of, followed by new values on both
 * sides, reads the same way; the verdict does not depend on it, only the reported base.)
 */
export function valueAtCommon(map: Y.Map<unknown>, key: string, b: Y.Snapshot, l: Y.Snapshot, r: Y.Snapshot): unknown {
  const hit = newestIn(map, key, b);
  if (hit === undefined) return undefined;
  const value = contentAt(hit.item, hit.i);
  if (!Y.isDeleted(b.ds, Y.createID(hit.item.id.client, hit.item.id.clock + hit.i))) return value;
  // newer sets of the key that b does not hold: later clocks of the same struct, and newer structs
  const beyond = (s: Y.Snapshot): boolean =>
    hit.item.id.clock + hit.i + 1 < Math.min(hit.item.id.clock + hit.item.length, s.sv.get(hit.item.id.client) ?? 0) || hit.newer.some((n) => inState(n, s));
  return beyond(l) && beyond(r) ? value : undefined;
}

function deletedRanges(at: Y.Snapshot, client: number): Range[] {
  return rangesOf(at.ds, client);
}

/**
 * The text of a Y.Text at a state: the characters whose structs the state holds and has not
 * deleted (items split by neither the state vector nor the delete set are read in slices, so
 * the doc is not touched).
 */
export function textAt(text: Y.Text, at: At): string {
  if (at === null) return text.toString();
  let out = '';
  for (let n = text._start; n !== null; n = n.right as Y.Item | null) {
    if (!(n.content instanceof Y.ContentString)) continue;
    const { client, clock } = n.id;
    const held = Math.min(n.length, (at.sv.get(client) ?? 0) - clock);
    if (held <= 0) continue;
    const str = n.content.str;
    let from = 0;
    for (const d of deletedRanges(at, client)) {
      const ds = d.clock - clock;
      const de = ds + d.len;
      if (de <= from) continue;
      if (ds >= held) break;
      if (ds > from) out += str.slice(from, ds);
      from = Math.max(from, de);
      if (from >= held) break;
    }
    if (from < held) out += str.slice(from, held);
  }
  return out;
}
