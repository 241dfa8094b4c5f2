/**
 * Materialization: Y.Doc -> view bytes (persisted with every append) and bytes -> frozen view.
 * The persisted bytes are canonical JSON of { content, conflicts, open?, schema, updatedAt?,
 * updatedBy, version }: updatedAt/updatedBy come from the doc's version records (stampOf), so
 * converged nodes persist the same; while this node's own run is open they are the last entry's
 * actor, and its ts (added when the view is read). `open` (not part
 * of the public view) says this node left content changes no version covers yet; it is a pure
 * function of the state and the last entry, like everything here, so deleting every view and
 * rebuilding gives byte-identical bytes.
 */
import type { LastEntryInfo, Materializer } from '@profilesync/log';
import * as Y from 'yjs';
import { profileTag } from '@profilesync/model';
import { deepFreeze } from './canonical.js';
import { contentSnapshotBytes, VERSIONS_ROOT } from './content-state.js';
import { canonicalContent, encodePersisted, makeView, newProfileDoc, readDoc, type PersistedView, type ProfileContent, type ViewExtras } from './model.js';
import { openCount as openConflicts } from './conflict-records.js';
import type { ProfileView } from './types.js';
import { hashOf } from './state-hash.js';
import { isReplicated, stampOf, VersionIndex } from './versions.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const iso = (ts: number): string => new Date(ts).toISOString();

export interface Materialized {
  content: ProfileContent;
  extras: ViewExtras;
  /** the state's snapshot bytes (content snapshot; the full snapshot for a schema-1 doc) */
  stateBytes: Uint8Array;
}

/** Content (unvalidated read) and computed fields of a doc, from scratch. */
export function materializeDoc(id: string, doc: Y.Doc, last: Pick<LastEntryInfo, 'actor' | 'origin'>): Materialized {
  const { content, schema } = readDoc(doc);
  const stateBytes = schema === 2 ? contentSnapshotBytes(doc) : Y.encodeSnapshotV2(Y.snapshot(doc));
  const key = hashOf(stateBytes);
  const open = schema === 2 && !isReplicated(last.origin) && !doc.getMap(VERSIONS_ROOT).has(key);
  const stamp = schema === 2 ? stampOf(new VersionIndex(doc), key, open) : undefined;
  return {
    content: canonicalContent(content as unknown as ProfileContent),
    extras: {
      version: `v2.${profileTag(id)}.${key}`,
      updatedBy: stamp?.by ?? last.actor,
      ...(stamp !== undefined ? { updatedAt: stamp.at } : {}),
      schema,
      conflicts: openConflicts(doc),
      open,
      digest: hashOf(Y.encodeSnapshotV2(Y.snapshot(doc))),
    },
    stateBytes,
  };
}

export function persistedBytes(content: ProfileContent, extras: ViewExtras, alreadyCanonical = false): Uint8Array {
  return encoder.encode(encodePersisted(content, extras, alreadyCanonical));
}

/** The Materializer core hands to log.rebuild()/restoreLog(): deterministic, undefined for '#' streams. */
export const materializeProfile: Materializer = (stream, state, last) => {
  if (stream.startsWith('#')) return undefined;
  const doc = newProfileDoc();
  try {
    Y.applyUpdate(doc, state);
    const m = materializeDoc(stream, doc, last);
    return persistedBytes(m.content, m.extras, true);
  } finally {
    doc.destroy();
  }
};

export function decodePersisted(bytes: Uint8Array): PersistedView {
  return JSON.parse(decoder.decode(bytes)) as PersistedView;
}

/** Frozen view from persisted parts (nested maps are already canonical). */
export function frozenView(p: PersistedView, updatedAt: string): ProfileView {
  return deepFreeze(makeView(p, { version: p.version, schema: p.schema, conflicts: p.conflicts ?? 0 }, typeof p.updatedAt === 'number' ? iso(p.updatedAt) : updatedAt, p.updatedBy));
}
