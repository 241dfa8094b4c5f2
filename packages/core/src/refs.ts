/**
 * Resolving a REF (`@N`, a label, `latest`, `v2.P.H`, a legacy `v1.` ref) to a state of one
 * profile, and rebuilding the content at it. Call inside the profile's queue with its live doc.
 */
import type { EntryRecord } from '@profilesync/log';
import * as Y from 'yjs';
import { assertRefOf, parseRefSpec } from '@profilesync/model';
import type { LiveDoc } from './caches.js';
import { docAtSnapshot, holdsSnapshot } from './content-state.js';
import { CoreErrorCode, coreError } from './errors.js';
import { entryBytesFor, entryForVersion } from './history.js';
import { legacyVersions } from './legacy.js';
import { newProfileDoc, readDoc, schemaOf, type ProfileContent } from './model.js';
import { validateContent } from './schema.js';
import { hashOf, type StoreCore } from './store.js';
import { parseRef } from './version.js';
import { fromBase64url, type ListedVersion } from './versions.js';

export type Resolved =
  /** the current state (latest, or a ref naming it) */
  | { kind: 'current'; key: string; version?: ListedVersion; n?: number }
  /** a closed version */
  | { kind: 'version'; key: string; version: ListedVersion; n: number; snapshot: Y.Snapshot }
  /** another state this node can rebuild (a raw entry's, or a legacy v1 ref's) */
  | { kind: 'state'; ref: string; key?: string; snapshot: Y.Snapshot; entry?: EntryRecord };

/** The profile's versions in history order (schema 1: its legacy entries). */
export async function versionList(c: StoreCore, id: string, live: LiveDoc): Promise<readonly ListedVersion[]> {
  return schemaOf(live.doc) === 2 ? live.versions.sorted() : legacyVersions(c.log, id);
}

function unavailable(id: string, ref: string, why: string): Error {
  return coreError(CoreErrorCode.VERSION_UNAVAILABLE, `version ${ref.slice(0, 80)} is not available on this node for ${id}: ${why}`, { id, version: ref.slice(0, 80) });
}

function decodeRecord(v: ListedVersion): Y.Snapshot {
  return Y.decodeSnapshotV2(fromBase64url(v.rec.snapshot));
}

export async function resolveRef(c: StoreCore, id: string, live: LiveDoc, ref: unknown, labels: Readonly<Record<string, string>>, depth = 0): Promise<Resolved> {
  const spec = parseRefSpec(ref);
  assertRefOf(spec, id);
  const current = c.stateKey(live).key;
  const list = await versionList(c, id, live);
  const byKey = (key: string): { v: ListedVersion; n: number } | undefined => {
    for (let i = list.length - 1; i >= 0; i--) if (list[i]!.key === key) return { v: list[i]!, n: i + 1 };
    return undefined;
  };
  const asVersion = (v: ListedVersion, n: number): Resolved => (v.key === current ? { kind: 'current', key: current, version: v, n } : { kind: 'version', key: v.key, version: v, n, snapshot: decodeRecord(v) });
  switch (spec.kind) {
    case 'latest':
      return { kind: 'current', key: current };
    case 'label': {
      const target = labels[spec.name];
      if (target === undefined) throw coreError(CoreErrorCode.LABEL_NOT_FOUND, `label '${spec.name}' is not set on ${id}`, { id, label: spec.name });
      if (depth > 0) throw coreError(CoreErrorCode.BAD_VERSION, 'a label holds a version reference, not another label', { id, label: spec.name });
      return resolveRef(c, id, live, target, labels, depth + 1);
    }
    case 'seq': {
      if (spec.n <= list.length) return asVersion(list[spec.n - 1]!, spec.n);
      if (spec.n === list.length + 1 && byKey(current) === undefined) return { kind: 'current', key: current, n: spec.n };
      throw unavailable(id, `@${spec.n}`, `the profile has ${list.length} version(s)${byKey(current) === undefined ? ' and an open run' : ''}`);
    }
    case 'v2': {
      const found = byKey(spec.hash);
      if (found !== undefined) return asVersion(found.v, found.n);
      if (spec.hash === current) return { kind: 'current', key: current };
      const hit = await entryBytesFor(c.log, id, spec.hash);
      if (hit !== undefined) return { kind: 'state', ref: spec.ref, key: spec.hash, snapshot: Y.decodeSnapshotV2(hit.bytes), entry: hit.entry };
      throw unavailable(id, spec.ref, 'no version or entry of this node has that state');
    }
    case 'v1': {
      const parsed = parseRef(spec.ref);
      const key = hashOf(parsed.bytes);
      const found = byKey(key);
      if (found !== undefined) return asVersion(found.v, found.n);
      if (key === current) return { kind: 'current', key };
      if (!holdsSnapshot(live.doc, parsed.snapshot)) throw unavailable(id, spec.ref, 'this node lacks updates the ref names');
      const entry = await entryForVersion(c.log, id, parsed.bytes, parsed.snapshot);
      return { kind: 'state', ref: spec.ref, snapshot: parsed.snapshot, ...(entry !== undefined ? { entry } : {}) };
    }
  }
}

/** Content at a resolved state (validated: a ref must name a valid state); labels are the current ones. */
export function contentAt(c: StoreCore, id: string, live: LiveDoc, r: Resolved): { content: ProfileContent; schema: 1 | 2 } {
  if (r.kind === 'current') return { content: c.currentContent(id, live), schema: schemaOf(live.doc) };
  if (!holdsSnapshot(live.doc, r.snapshot)) throw unavailable(id, r.kind === 'version' ? c.refOf(id, r.key) : r.ref, 'this node lacks updates the version names');
  const past = docAtSnapshot(live.doc, r.snapshot, newProfileDoc());
  try {
    const { content, schema } = readDoc(past);
    content['labels'] = c.currentContent(id, live).labels;
    try {
      return { content: validateContent(content), schema };
    } catch (err) {
      throw coreError(CoreErrorCode.BAD_VERSION, `version does not name a valid state of ${id}`, { id }, err);
    }
  } finally {
    past.destroy();
  }
}
