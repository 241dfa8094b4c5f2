/**
 * Content state: the part of a profile doc that versions capture (docs/profile-model.md §5).
 *
 * A profile doc holds content (root 'profile' minus its 'labels' map) and pointers/records that
 * are not content: labels, the 'versions' root (closed versions) and the 'conflicts' root.
 * Moving a label or closing a version changes the doc, but not the content, so it must not
 * change the version hash. The content snapshot of a doc is therefore a Yjs snapshot restricted
 * to content structs:
 *   sv[c] = end clock of the last content struct of client c (clients with none are left out)
 *   ds    = the deleted ids of content structs
 * It is a pure function of the struct store (the same on converged peers, and on a rebuild),
 * and the tracker keeps it up to date per transaction (work proportional to the change).
 * A struct is content when its top-level location is root 'profile', key other than 'labels';
 * a GC struct (no parent left; only from gc-enabled Yjs clients) counts as content.
 *
 * Rebuilding the content at a snapshot (docAtSnapshot) writes each listed client's structs up
 * to sv[c] into a fresh doc with every non-content struct replaced by a GC struct of the same
 * length, so nothing outside the content (whose dependencies may be newer) can hold content
 * back; content structs only ever depend on content structs that existed when they were made.
 */
import * as encoding from 'lib0/encoding';
import * as Y from 'yjs';
import { addRange, encodeSnapshot } from './delete-set.js';
import { ROOT } from './model.js';

export const VERSIONS_ROOT = 'versions';
export const CONFLICTS_ROOT = 'conflicts';
/** Roots a node may write; a /yjs client only 'profile'. */
export const NODE_ROOTS: ReadonlySet<string> = new Set([ROOT, VERSIONS_ROOT, CONFLICTS_ROOT]);

type DeleteSet = Y.Snapshot['ds'];
type Range = { clock: number; len: number };
type AnyStruct = Y.Item | Y.GC | Y.AbstractStruct;

/** Where a struct sits: its root's name and the key under the root (null for list roots). */
export interface Location {
  root: string;
  key: string | null;
}

const rootNames = new WeakMap<Y.AbstractType<unknown>, string>();

function rootName(doc: Y.Doc, type: Y.AbstractType<unknown>): string {
  let name = rootNames.get(type);
  if (name === undefined) {
    name = '';
    for (const [k, t] of doc.share) if (t === type) name = k;
    rootNames.set(type, name);
  }
  return name;
}

/** Top-level location of an item (walks up to its root: depth <= 4 in a profile doc). */
export function locate(doc: Y.Doc, item: Y.Item): Location {
  let it: Y.Item = item;
  for (;;) {
    const parent = it.parent as Y.AbstractType<unknown> | null;
    if (parent === null || typeof parent !== 'object' || !(parent instanceof Y.AbstractType)) return { root: '', key: null };
    const up = parent._item;
    if (up === null) return { root: rootName(doc, parent), key: it.parentSub };
    it = up;
  }
}

/** Location of the items of a nested type (not a root), memoized per type (a type never moves). */
const nestedLocations = new WeakMap<object, Location>();

/**
 * Location of the items of nested type `type`: its own item's location. Walks up only to the
 * nearest type already known and memoizes every type on the way, so a chain of N nested types
 * costs O(N) in all, not O(N) per type: an update nesting types 100,000 deep (an attacker's;
 * a valid profile nests at most 4) would otherwise take minutes of the event loop before
 * validation refuses it.
 */
function nestedLocation(doc: Y.Doc, type: Y.AbstractType<unknown>): Location {
  const chain: object[] = [];
  let t = type;
  let loc: Location | undefined;
  for (;;) {
    loc = nestedLocations.get(t);
    if (loc !== undefined) break;
    chain.push(t);
    const it = t._item!;
    const parent = it.parent as Y.AbstractType<unknown> | null;
    if (parent === null || typeof parent !== 'object' || !(parent instanceof Y.AbstractType)) {
      loc = { root: '', key: null };
      break;
    }
    if (parent._item === null) {
      loc = { root: rootName(doc, parent), key: it.parentSub };
      break;
    }
    t = parent;
  }
  for (const c of chain) nestedLocations.set(c, loc);
  return loc;
}

/** locate(), memoized per nested parent type (a type never moves, so its items' location is fixed). */
function locateMemo(doc: Y.Doc, item: Y.Item): Location {
  const parent = item.parent as Y.AbstractType<unknown> | null;
  if (parent === null || typeof parent !== 'object' || !(parent instanceof Y.AbstractType) || parent._item === null || parent._item === undefined) return locate(doc, item);
  return nestedLocation(doc, parent);
}

/** Content verdict per parent type, memoized (every item of one Y.Text shares it). */
const contentParents = new WeakMap<object, boolean>();

export function isContentStruct(doc: Y.Doc, s: AnyStruct): boolean {
  if (!(s instanceof Y.Item)) return s instanceof Y.GC;
  const parent = s.parent as object | null;
  if (parent !== null && typeof parent === 'object' && (parent as Y.AbstractType<unknown>)._item !== null) {
    let v = contentParents.get(parent);
    if (v === undefined) {
      const loc = locateMemo(doc, s);
      v = loc.root === ROOT && loc.key !== 'labels';
      contentParents.set(parent, v);
    }
    return v;
  }
  const loc = locate(doc, s);
  return loc.root === ROOT && loc.key !== 'labels';
}

function pushRange(out: Range[], clock: number, len: number): void {
  const last = out[out.length - 1];
  if (last !== undefined && last.clock + last.len === clock) last.len += len;
  else out.push({ clock, len });
}

/** The content snapshot of a doc, computed from scratch (rebuilds, tests). */
export function contentSnapshot(doc: Y.Doc): Y.Snapshot {
  const sv = new Map<number, number>();
  const ds = Y.createDeleteSet();
  for (const [client, structs] of doc.store.clients) {
    const ranges: Range[] = [];
    for (const s of structs) {
      if (!isContentStruct(doc, s)) continue;
      sv.set(client, s.id.clock + s.length);
      if (s.deleted) pushRange(ranges, s.id.clock, s.length);
    }
    if (ranges.length > 0) ds.clients.set(client, ranges as DeleteSet['clients'] extends Map<number, infer R> ? R : never);
  }
  return Y.createSnapshot(ds, sv);
}

export function contentSnapshotBytes(doc: Y.Doc): Uint8Array {
  return Y.encodeSnapshotV2(contentSnapshot(doc));
}

/** Items of one Y.Text that a transaction added or deleted (live-text.ts checks such edits in place). */
export interface TextEdit {
  ins: Y.Item[];
  del: Y.Item[];
}

/** What the last transaction of a doc touched, by top-level location (for the /yjs root rules). */
export interface Touched {
  roots: Set<string>;
  /** top-level keys of root 'profile' */
  profileKeys: Set<string>;
  /** keys of the 'versions' root that were set */
  versionKeys: Set<string>;
  /** per Y.Text: its items the transaction added or deleted */
  texts: Map<Y.Text, TextEdit>;
  /** some added or deleted struct is not an item of a Y.Text (map keys, other types, GC structs) */
  other: boolean;
}

const newTouched = (): Touched => ({ roots: new Set(), profileKeys: new Set(), versionKeys: new Set(), texts: new Map(), other: false });
/** What `touched` reads after a quiet transaction (nothing; never written to: #touch records into a new one). */
const EMPTY_TOUCHED: Touched = newTouched();

/**
 * Keeps a live doc's content snapshot current, one transaction at a time: new structs move sv
 * forward when they are content (and add their range to ds when they arrive as GC); deletions
 * add the content part of each deleted range. Bytes are re-encoded only when asked.
 */
export class ContentTracker {
  readonly #doc: Y.Doc;
  readonly #sv: Map<number, number>;
  readonly #ds: DeleteSet;
  /** inside quietly(): classify structs only, record nothing */
  #quiet = false;
  #bytes: Uint8Array | null = null;
  /** locations touched by the most recent transaction (reset per transaction) */
  touched: Touched = newTouched();
  /** bumps whenever the content snapshot changes */
  generation = 0;
  /** the most recent transaction (read right after it: what it added and deleted) */
  lastTransaction: Y.Transaction | undefined;

  constructor(doc: Y.Doc) {
    this.#doc = doc;
    const snap = contentSnapshot(doc);
    this.#sv = snap.sv;
    this.#ds = snap.ds;
    doc.on('afterTransaction', (tr: Y.Transaction) => this.#after(tr));
  }

  /** Records what struct `s` touched and returns whether it is content (one location lookup for both). */
  #touch(s: AnyStruct, added: boolean): boolean {
    const t = this.touched;
    if (!(s instanceof Y.Item)) {
      if (!this.#quiet) t.other = true;
      return s instanceof Y.GC;
    }
    if (this.#quiet) {
      const loc = locateMemo(this.#doc, s);
      return loc.root === ROOT && loc.key !== 'labels';
    }
    const parent = s.parent;
    if (parent instanceof Y.Text) {
      let e = t.texts.get(parent);
      if (e === undefined) t.texts.set(parent, (e = { ins: [], del: [] }));
      (added ? e.ins : e.del).push(s);
    } else t.other = true;
    const loc = locateMemo(this.#doc, s);
    t.roots.add(loc.root);
    if (loc.root === ROOT) {
      if (loc.key !== null) t.profileKeys.add(loc.key);
      return loc.key !== 'labels';
    }
    if (loc.root === VERSIONS_ROOT && loc.key !== null && parent === this.#doc.share.get(VERSIONS_ROOT)) t.versionKeys.add(loc.key);
    return false;
  }

  #after(tr: Y.Transaction): void {
    const doc = this.#doc;
    this.touched = this.#quiet ? EMPTY_TOUCHED : newTouched();
    this.lastTransaction = this.#quiet ? undefined : tr;
    let changed = false;
    for (const [client, after] of tr.afterState) {
      const before = tr.beforeState.get(client) ?? 0;
      if (after <= before) continue;
      const structs = doc.store.clients.get(client);
      if (structs === undefined) continue;
      for (let i = Y.findIndexSS(structs, before); i < structs.length; i++) {
        const s = structs[i] as AnyStruct;
        if (!this.#touch(s, true)) continue;
        const end = s.id.clock + s.length;
        if (end > (this.#sv.get(client) ?? 0)) {
          this.#sv.set(client, end);
          changed = true;
        }
        if (s instanceof Y.GC) {
          // a GC struct arrives deleted without an entry in the transaction's delete set
          const from = Math.max(s.id.clock, before);
          addRange(this.#rangesOf(client), from, end - from);
          changed = true;
        }
      }
    }
    if (tr.deleteSet.clients.size > 0) {
      for (const [client, deletes] of tr.deleteSet.clients) {
        const structs = doc.store.clients.get(client);
        if (structs === undefined) continue;
        let ranges: Range[] | undefined;
        for (const del of deletes) {
          const end = del.clock + del.len;
          for (let i = Y.findIndexSS(structs, del.clock); i < structs.length; i++) {
            const s = structs[i] as AnyStruct;
            if (s.id.clock >= end) break;
            if (!this.#touch(s, false)) continue;
            const from = Math.max(s.id.clock, del.clock);
            const to = Math.min(s.id.clock + s.length, end);
            if (to > from) {
              addRange((ranges ??= this.#rangesOf(client)), from, to - from);
              changed = true;
            }
          }
        }
      }
    }
    if (changed) {
      this.#bytes = null;
      this.generation++;
    }
  }

  /**
   * Runs `fn` (a local write's transaction) without recording what it touched: the caller does
   * not read it, and the content snapshot is kept current all the same. Nothing of the transaction
   * stays referenced (else it would live until the doc's next one, long enough on a busy node to
   * be copied into the old generation and collected by a full GC); `touched` reads as nothing.
   */
  quietly<T>(fn: () => T): T {
    this.#quiet = true;
    try {
      return fn();
    } finally {
      this.#quiet = false;
      this.touched = EMPTY_TOUCHED;
      this.lastTransaction = undefined;
    }
  }

  /** The delete set's range list of a client (created empty; only ever grows). */
  #rangesOf(client: number): Range[] {
    let list = this.#ds.clients.get(client) as Range[] | undefined;
    if (list === undefined) {
      list = [];
      this.#ds.clients.set(client, list as never);
    }
    return list;
  }

  /**
   * The content snapshot's V2 bytes (cached until the content changes). The delete set is kept
   * normalized in place at each transaction (addRange: the ranges Y.mergeDeleteSets would give,
   * without copying the whole history's list per write); sv holds only clocks > 0. Encoded as
   * Y.encodeSnapshotV2 does (encodeSnapshot: the same bytes).
   */
  bytes(): Uint8Array {
    if (this.#bytes !== null) return this.#bytes;
    this.#bytes = encodeSnapshot(this.#ds, this.#sv, true);
    return this.#bytes;
  }
}

function writeDeleteSet(encoder: Y.UpdateEncoderV2, ds: DeleteSet): void {
  encoding.writeVarUint(encoder.restEncoder, ds.clients.size);
  for (const [client, items] of [...ds.clients.entries()].sort((a, b) => b[0] - a[0])) {
    encoder.resetDsCurVal();
    encoding.writeVarUint(encoder.restEncoder, client);
    encoding.writeVarUint(encoder.restEncoder, items.length);
    for (const it of items) {
      encoder.writeDsClock(it.clock);
      encoder.writeDsLen(it.len);
    }
  }
}

/** Whether the doc holds every struct the snapshot names. */
export function holdsSnapshot(doc: Y.Doc, snapshot: Y.Snapshot): boolean {
  for (const [client, clock] of snapshot.sv) if (clock > 0 && Y.getState(doc.store, client) < clock) return false;
  for (const [client, items] of snapshot.ds.clients) {
    const have = Y.getState(doc.store, client);
    for (const it of items) if (it.clock + it.len > have) return false;
  }
  return true;
}

/**
 * A fresh doc holding the content of `doc` at `snapshot` (a content snapshot, or a legacy v1
 * full snapshot: both work). The caller checks holdsSnapshot first and destroys the result.
 */
export function docAtSnapshot(doc: Y.Doc, snapshot: Y.Snapshot, target: Y.Doc): Y.Doc {
  const encoder = new Y.UpdateEncoderV2();
  doc.transact((tr) => {
    let size = 0;
    for (const clock of snapshot.sv.values()) if (clock > 0) size++;
    encoding.writeVarUint(encoder.restEncoder, size);
    for (const [client, clock] of snapshot.sv) {
      if (clock === 0) continue;
      if (clock < Y.getState(doc.store, client)) Y.getItemCleanStart(tr, Y.createID(client, clock));
      const structs = doc.store.clients.get(client) ?? [];
      const last = Y.findIndexSS(structs, clock - 1);
      encoding.writeVarUint(encoder.restEncoder, last + 1);
      encoder.writeClient(client);
      encoding.writeVarUint(encoder.restEncoder, 0);
      for (let i = 0; i <= last; i++) {
        const s = structs[i] as Y.Item | Y.GC;
        if (s instanceof Y.Item && !isContentStruct(doc, s)) new Y.GC(s.id, s.length).write(encoder, 0);
        else s.write(encoder, 0);
      }
    }
    writeDeleteSet(encoder, snapshot.ds);
  });
  Y.applyUpdateV2(target, encoder.toUint8Array(), 'snapshot');
  return target;
}
