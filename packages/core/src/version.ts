/**
 * Portable version references. A ref is the Yjs snapshot (state vector + delete set) of the
 * profile doc after a change, encoded with Y.encodeSnapshotV2 (smaller than V1 once a doc has a
 * history; equal for tiny docs) and written as "v1." + base64url (v1 = this ref format).
 * Converged peers have the same structs, hence the same state vector and delete set, hence the
 * same bytes: the ref names the same content on every node, and any node holding the updates it
 * covers can rebuild that content (Y.createDocFromSnapshot on a gc:false doc).
 */
import { createHash } from 'node:crypto';
import * as Y from 'yjs';
import { addDeleteSet, encodeSnapshot } from './delete-set.js';
import { CoreErrorCode, coreError } from './errors.js';
import type { VersionRef } from './types.js';

export const REF_PREFIX = 'v1.';
const B64URL = /^[A-Za-z0-9_-]+$/;
/** Refs longer than this are refused before decoding (a snapshot of a huge peer set). */
export const MAX_REF_CHARS = 64 * 1024;

/** The snapshot bytes of the doc's current state (what goes into the log entry's `version`). */
export function versionBytes(doc: Y.Doc): Uint8Array {
  return Y.encodeSnapshotV2(Y.snapshot(doc));
}

type DeleteSet = Y.Snapshot['ds'];

/** State vector of a doc from its struct store (O(clients), no encoding). */
export function stateVectorOf(doc: Y.Doc): Map<number, number> {
  const sv = new Map<number, number>();
  for (const client of doc.store.clients.keys()) sv.set(client, clientState(doc, client));
  return sv;
}

/**
 * Keeps a live doc's delete set up to date from each transaction's own delete set, so a write's
 * version costs O(delete ranges) instead of a walk over every struct (Y.snapshot). The result is
 * the same set of deleted ids, sorted and merged, hence the same bytes as Y.snapshot gives
 * (pinned by the store's rebuild-equality tests).
 */
export class VersionTracker {
  readonly #ds: DeleteSet;
  readonly #doc: Y.Doc;

  constructor(doc: Y.Doc) {
    this.#doc = doc;
    this.#ds = Y.createDeleteSetFromStructStore(doc.store);
    // in place, per transaction (addDeleteSet copies the ranges: Yjs still uses the transaction's)
    doc.on('afterTransaction', (tr: Y.Transaction) => {
      if (tr.deleteSet.clients.size > 0) addDeleteSet(this.#ds, tr.deleteSet);
    });
  }

  bytes(): Uint8Array {
    return encodeSnapshot(this.#ds, stateVectorOf(this.#doc), true); // = Y.encodeSnapshotV2(Y.snapshot(doc))
  }
}

export function refFromBytes(bytes: Uint8Array): VersionRef {
  return REF_PREFIX + Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

export interface ParsedRef {
  ref: VersionRef;
  bytes: Uint8Array;
  snapshot: Y.Snapshot;
}

function bad(ref: unknown, why: string): Error {
  return coreError(CoreErrorCode.BAD_VERSION, `malformed version reference: ${why}`, {
    version: typeof ref === 'string' ? ref.slice(0, 80) : typeof ref,
  });
}

/** Decodes a ref; PROFILE_BAD_VERSION unless it is exactly the canonical encoding of a snapshot. */
export function parseRef(ref: unknown): ParsedRef {
  if (typeof ref !== 'string') throw bad(ref, 'not a string');
  if (!ref.startsWith(REF_PREFIX)) throw bad(ref, `missing prefix ${REF_PREFIX}`);
  if (ref.length > MAX_REF_CHARS) throw bad(ref, 'too long');
  const body = ref.slice(REF_PREFIX.length);
  if (!B64URL.test(body)) throw bad(ref, 'not base64url');
  const buf = Buffer.from(body, 'base64url');
  const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  let snapshot: Y.Snapshot;
  try {
    snapshot = Y.decodeSnapshotV2(bytes);
  } catch (err) {
    throw bad(ref, 'not a snapshot');
  }
  // Garbage can decode into something; only the canonical encoding is accepted.
  let again: Uint8Array;
  try {
    again = Y.encodeSnapshotV2(snapshot);
  } catch {
    throw bad(ref, 'not a snapshot');
  }
  if (Buffer.compare(again, bytes) !== 0) throw bad(ref, 'not canonical');
  return { ref, bytes, snapshot };
}

/** Whether the doc holds every struct the snapshot names (else the version cannot be rebuilt here). */
export function canSatisfy(doc: Y.Doc, snapshot: Y.Snapshot): boolean {
  for (const [client, clock] of snapshot.sv) {
    if (clock > 0 && clientState(doc, client) < clock) return false;
  }
  for (const [client, items] of snapshot.ds.clients) {
    const have = clientState(doc, client);
    for (const it of items) if (it.clock + it.len > have) return false;
  }
  return true;
}

/** Next clock of `client` in the doc (its state vector entry), without encoding the whole vector. */
export function clientState(doc: Y.Doc, client: number): number {
  const structs = doc.store.clients.get(client);
  const last = structs?.[structs.length - 1];
  return last === undefined ? 0 : last.id.clock + last.length;
}

/** Whether state `inner` is contained in state `outer` (sv <= and ds subset). */
export function snapshotContains(outer: Y.Snapshot, inner: Y.Snapshot): boolean {
  for (const [client, clock] of inner.sv) if ((outer.sv.get(client) ?? 0) < clock) return false;
  for (const [client, items] of inner.ds.clients) {
    const cover = outer.ds.clients.get(client) ?? [];
    for (const it of items) {
      if (!rangeCovered(cover, it.clock, it.clock + it.len)) return false;
    }
  }
  return true;
}

function rangeCovered(cover: { clock: number; len: number }[], start: number, end: number): boolean {
  let pos = start;
  for (const c of cover) {
    if (c.clock > pos) break;
    if (c.clock + c.len > pos) pos = c.clock + c.len;
    if (pos >= end) return true;
  }
  return pos >= end;
}

/** Short stable hash of a version (sync's fast-reconnect digest): equal refs give equal hashes. */
export function versionHash(ref: VersionRef): string {
  return createHash('sha256').update(ref).digest('base64url').slice(0, 22);
}
