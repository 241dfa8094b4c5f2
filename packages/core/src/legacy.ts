/**
 * Schema-1 profiles (written before profile model v2). They have no version records: every log
 * entry was a version, named by a `v1.` ref (the full Yjs snapshot after the entry, stored inline
 * in the entry). They read up-converted, their history lists those entries as versions (H =
 * stateHash of the v1 snapshot bytes, so a v2 ref and the old v1 ref name the same state), and
 * their first write here migrates them (migrate()): the deterministic migration update, unknown
 * parameters moved under `extra`, the legacy versions written as version records, labels moved
 * from v1 refs to v2 refs (a label holding no ref, possible before 11.7 was fixed, is dropped).
 */
import type { EntryRecord, EventLog } from '@profilesync/log';
import * as Y from 'yjs';
import { isStoredRef, parseRefSpec } from '@profilesync/model';
import type { LiveDoc } from './caches.js';
import { VERSIONS_ROOT } from './content-state.js';
import { parseSummary } from './diff.js';
import { monoMs } from './events.js';
import { replayVersions } from './history.js';
import { migrateDoc, readContent, ROOT } from './model.js';
import { captureUpdate, hashOf, type StoreCore } from './store.js';
import type { VersionReason, WriteContext } from './types.js';
import { parseRef, snapshotContains } from './version.js';
import { toBase64url, type ListedVersion, type VersionRecord } from './versions.js';

const REASON: Record<string, VersionReason> = {
  create: 'create',
  update: 'idle',
  sync: 'idle',
  revert: 'revert',
  delete: 'delete',
  import: 'import',
  'label.set': 'label',
  'label.remove': 'label',
};

function record(e: EntryRecord, bytes: Uint8Array): ListedVersion {
  const { action, fields } = parseSummary(e.summary);
  const rec: VersionRecord = {
    at: e.ts,
    actors: [e.actor.slice(0, 256) || 'unknown'],
    by: e.actor.slice(0, 1024) || 'unknown',
    node: e.origin.slice(0, 256) || 'unknown',
    reason: REASON[action] ?? 'idle',
    fields: fields.slice(0, 256),
    snapshot: toBase64url(bytes),
  };
  return { key: hashOf(bytes), rec };
}

/** The legacy versions of a schema-1 profile: one per log entry, history order, deduplicated by state. */
export async function legacyVersions(log: EventLog, id: string): Promise<ListedVersion[]> {
  const byKey = new Map<string, ListedVersion>();
  const missing: EntryRecord[] = [];
  const entries: EntryRecord[] = [];
  for await (const e of log.read(id)) {
    entries.push(e);
    if (e.version === undefined || e.version.byteLength === 0) missing.push(e);
  }
  const computed = new Map<number, Uint8Array>();
  if (missing.length > 0) {
    const need = new Set(missing.map((e) => e.seq));
    await replayVersions(log, id, Math.min(...need), Math.max(...need), (e, v) => {
      if (need.has(e.seq)) computed.set(e.seq, v.slice());
    });
  }
  for (const e of entries) {
    const bytes = e.version !== undefined && e.version.byteLength > 0 ? e.version : computed.get(e.seq);
    if (bytes === undefined) continue;
    const v = record(e, bytes);
    byKey.set(v.key, v);
  }
  return [...byKey.values()].sort((a, b) => a.rec.at - b.rec.at || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/**
 * Migrates a schema-1 profile on its first write here: one entry holding the migration, the
 * legacy version records and the labels moved to v2 refs, closed as a version (reason migrate).
 * Call inside the profile's queue; the live doc stays usable for the write that follows.
 */
export async function migrate(c: StoreCore, id: string, live: LiveDoc, ctx: WriteContext): Promise<void> {
  const t0 = monoMs();
  const before = c.currentContent(id, live);
  const legacy = await legacyVersions(c.log, id);
  const doc = live.doc;
  const origin = { migrate: ctx };
  let update: Uint8Array | null;
  try {
    update = captureUpdate(doc, origin, () => {
      migrateDoc(doc);
      const versions = doc.getMap<unknown>(VERSIONS_ROOT);
      for (const v of legacy) if (!versions.has(v.key)) versions.set(v.key, v.rec);
      const labels = doc.getMap<unknown>(ROOT).get('labels');
      if (!(labels instanceof Y.Map)) return;
      for (const [name, value] of [...(labels as Y.Map<unknown>).entries()]) {
        if (!isStoredRef(value, id)) {
          labels.delete(name);
          continue;
        }
        if (parseRefSpec(value).kind !== 'v1') continue;
        const parsed = parseRef(value as string);
        const key = hashOf(parsed.bytes);
        if (!versions.has(key)) {
          // a labelled state this node has no entry of (another peer's batching): its own record
          let at = 0;
          for (const v of legacy) if (snapshotContains(parsed.snapshot, Y.decodeSnapshotV2(Buffer.from(v.rec.snapshot, 'base64url')))) at = Math.max(at, v.rec.at);
          const rec: VersionRecord = { at, actors: ['unknown'], by: 'unknown', node: 'migrate', reason: 'label', fields: [], snapshot: toBase64url(parsed.bytes) };
          versions.set(key, rec);
        }
        labels.set(name, c.refOf(id, key));
      }
    });
  } catch (err) {
    c.docs.drop(id);
    throw err;
  }
  if (update === null) return;
  const content = c.checkContent(id, readContent(doc));
  await c.persist({ id, live, update, action: 'migrate', ctx, before, created: false, content, close: { reason: 'migrate' } });
  c.events.emit('profile-migrated', { id, legacyVersions: legacy.length, durationMillis: monoMs() - t0 });
}
