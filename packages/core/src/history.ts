/** Lookups over a profile's entries (each carries the version ref bytes of the state after it). */
import type { EntryRecord, EventLog } from '@profilesync/log';
import * as Y from 'yjs';
import { iso } from './materialize.js';
import type { VersionInfo } from './types.js';
import { refFromBytes, snapshotContains } from './version.js';

export function versionInfo(e: EntryRecord): VersionInfo {
  return {
    version: e.version ? refFromBytes(e.version) : '',
    seq: e.seq,
    at: iso(e.ts),
    actor: e.actor,
    origin: e.origin,
    summary: e.summary,
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.compare(a, b) === 0;
}

/**
 * The entry a version belongs to: the entry whose version is exactly `ref`, else the newest entry
 * whose state the ref contains (a ref built on another peer from a different batching of the
 * same updates). Undefined when no entry qualifies.
 */
export async function entryForVersion(log: EventLog, id: string, bytes: Uint8Array, snapshot: Y.Snapshot): Promise<EntryRecord | undefined> {
  let contained: EntryRecord | undefined;
  for await (const e of log.read(id, { reverse: true })) {
    if (e.version === undefined) continue;
    if (sameBytes(e.version, bytes)) return e;
    if (contained === undefined && snapshotContains(snapshot, Y.decodeSnapshotV2(e.version))) contained = e;
  }
  return contained;
}

/**
 * Who wrote the struct `item` of this profile: the first entry whose state vector covers it.
 * Scans newest first and stops once an entry no longer covers it.
 */
export async function attributeItem(log: EventLog, id: string, item: Y.ID): Promise<{ actor: string; origin: string } | undefined> {
  let found: EntryRecord | undefined;
  for await (const e of log.read(id, { reverse: true })) {
    if (e.version === undefined) continue;
    const sv = Y.decodeSnapshotV2(e.version).sv;
    if ((sv.get(item.client) ?? 0) > item.clock) found = e;
    else break;
  }
  return found ? { actor: found.actor, origin: found.origin } : undefined;
}
