/**
 * Materialization: Y.Doc -> view bytes (persisted with every append) and bytes -> frozen view.
 * The persisted bytes are canonical JSON of {content, updatedBy, version}; `updatedAt` is the
 * last entry's ts, which the log assigns at commit, so it is added when the view is read
 * (from the ack on a write, from head(stream).ts on a cold read). The same function serves
 * log.rebuild(): deleting every view and rebuilding gives byte-identical bytes.
 */
import type { Materializer } from '@profilesync/log';
import * as Y from 'yjs';
import { deepFreeze } from './canonical.js';
import { encodePersisted, makeView, newProfileDoc, readContent, type PersistedView, type ProfileContent } from './model.js';
import type { ProfileView } from './types.js';
import { refFromBytes, versionBytes } from './version.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const iso = (ts: number): string => new Date(ts).toISOString();

export interface Materialized {
  content: ProfileContent;
  version: string;
  versionBytes: Uint8Array;
}

/** Content (unvalidated read) and version of a doc. */
export function materializeDoc(doc: Y.Doc, vbytes?: Uint8Array): Materialized {
  const vb = vbytes ?? versionBytes(doc);
  return { content: readContent(doc) as unknown as ProfileContent, version: refFromBytes(vb), versionBytes: vb };
}

export function persistedBytes(content: ProfileContent, version: string, updatedBy: string, alreadyCanonical = false): Uint8Array {
  return encoder.encode(encodePersisted(content, version, updatedBy, alreadyCanonical));
}

/** The Materializer core hands to log.rebuild()/restoreLog(): deterministic, undefined for '#' streams. */
export const materializeProfile: Materializer = (stream, state, last) => {
  if (stream.startsWith('#')) return undefined;
  const doc = newProfileDoc();
  try {
    Y.applyUpdate(doc, state);
    const m = materializeDoc(doc);
    return persistedBytes(m.content, m.version, last.actor);
  } finally {
    doc.destroy();
  }
};

export function decodePersisted(bytes: Uint8Array): PersistedView {
  return JSON.parse(decoder.decode(bytes)) as PersistedView;
}

/** Frozen view from persisted parts (nested maps are already canonical). */
export function frozenView(p: PersistedView, updatedAt: string): ProfileView {
  return deepFreeze(makeView(p, p.version, updatedAt, p.updatedBy));
}
