/**
 * Lookups over a profile's entries. Each entry carries the version ref bytes of the state after
 * it when they fit MAX_INLINE_VERSION_BYTES; a larger version (long collaborative histories
 * with many scattered deletions) is stored as empty bytes and recomputed here by replaying the
 * entries forward, so the log stays compact and no write ever fails because a ref grew.
 */
import type { EntryRecord, EventLog } from '@profilesync/log';
import * as Y from 'yjs';
import { iso } from './materialize.js';
import { ContentTracker } from './content-state.js';
import { newProfileDoc, schemaOf } from './model.js';
import { profileTag } from '@profilesync/model';
import type { EntryInfo } from './types.js';
import { snapshotContains, VersionTracker } from './version.js';
import { hashOf } from './state-hash.js';

/** Versions up to this size are stored in the entry; larger ones are recomputed on demand. */
export const MAX_INLINE_VERSION_BYTES = 1024;
export const NOT_INLINE = new Uint8Array(0);

export function inlineVersion(bytes: Uint8Array): Uint8Array {
  return bytes.byteLength <= MAX_INLINE_VERSION_BYTES ? bytes : NOT_INLINE;
}

const hasInline = (e: EntryRecord): boolean => e.version !== undefined && e.version.byteLength > 0;

/** v2 ref of an entry's state bytes (content snapshot; the v1 full snapshot for a schema-1 entry). */
export function entryRef(stream: string, bytes: Uint8Array): string {
  return `v2.${profileTag(stream)}.${hashOf(bytes)}`;
}

export function versionInfo(e: EntryRecord, version: Uint8Array | undefined = e.version): EntryInfo {
  return {
    version: version !== undefined && version.byteLength > 0 ? entryRef(e.stream, version) : '',
    seq: e.seq,
    at: iso(e.ts),
    actor: e.actor,
    origin: e.origin,
    summary: e.summary,
  };
}

/**
 * Version bytes after each of the entries with seq in [fromSeq, toSeq]: replays the state before
 * fromSeq (log snapshot + tail), then applies the entries one by one with an incremental
 * version tracker. Calls `visit` in seq order; stops early when it returns true.
 */
export async function replayVersions(
  log: EventLog,
  id: string,
  fromSeq: number,
  toSeq: number,
  visit: (e: EntryRecord, version: Uint8Array) => boolean | void,
): Promise<void> {
  const doc = newProfileDoc();
  try {
    if (fromSeq > 1) {
      const base = await log.loadState(id, { untilSeq: fromSeq - 1 });
      doc.transact(() => {
        for (const u of base.updates) Y.applyUpdate(doc, u);
      });
    }
    const full = new VersionTracker(doc);
    const content = new ContentTracker(doc);
    for await (const e of log.read(id, { fromSeq, toSeq })) {
      Y.applyUpdate(doc, e.body);
      // what the entry stored: the content snapshot once the doc is schema 2, the full one before
      const bytes = () => (schemaOf(doc) === 2 ? content.bytes() : full.bytes());
      if (visit(e, hasInline(e) ? (e.version as Uint8Array) : bytes())) return;
    }
  } finally {
    doc.destroy();
  }
}

/**
 * Raw entries, newest first; versions that are not inline are recomputed in one forward replay
 * (schema-1 entries only: schema-2 entries past the inline limit are recomputed as v1 would,
 * which names the entry's full state; such refs still resolve through the entry scan).
 */
export async function historyOf(log: EventLog, id: string, limit: number | undefined): Promise<EntryInfo[]> {
  const entries: EntryRecord[] = [];
  for await (const e of log.read(id, limit === undefined ? { reverse: true } : { reverse: true, limit })) entries.push(e);
  const missing = entries.filter((e) => !hasInline(e));
  if (missing.length === 0) return entries.map((e) => versionInfo(e));
  const bySeq = new Map<number, Uint8Array>();
  const need = new Set(missing.map((e) => e.seq));
  const from = Math.min(...need);
  const to = Math.max(...need);
  await replayVersions(log, id, from, to, (e, v) => {
    if (need.has(e.seq)) bySeq.set(e.seq, v);
  });
  return entries.map((e) => versionInfo(e, bySeq.get(e.seq) ?? e.version));
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.compare(a, b) === 0;
}

/** The bytes of the entry whose state hashes to `key` (scan of inline versions; replay for the rest). */
export async function entryBytesFor(log: EventLog, id: string, key: string): Promise<{ entry: EntryRecord; bytes: Uint8Array } | undefined> {
  let anyMissing = false;
  for await (const e of log.read(id, { reverse: true })) {
    if (!hasInline(e)) {
      anyMissing = true;
      continue;
    }
    if (hashOf(e.version as Uint8Array) === key) return { entry: e, bytes: e.version as Uint8Array };
  }
  if (!anyMissing) return undefined;
  let found: { entry: EntryRecord; bytes: Uint8Array } | undefined;
  await replayVersions(log, id, 1, log.head(id)?.seq ?? 0, (e, v) => {
    if (!hasInline(e) && hashOf(v) === key) {
      found = { entry: e, bytes: v.slice() };
      return true;
    }
    return false;
  });
  return found;
}

/**
 * The entry a version belongs to: the entry whose version is exactly `bytes`, else the newest
 * entry whose state the ref contains (a ref built on another peer from a different batching of
 * the same updates). Undefined when no entry qualifies.
 */
export async function entryForVersion(log: EventLog, id: string, bytes: Uint8Array, snapshot: Y.Snapshot): Promise<EntryRecord | undefined> {
  let contained: EntryRecord | undefined;
  let anyMissing = false;
  for await (const e of log.read(id, { reverse: true })) {
    if (!hasInline(e)) {
      anyMissing = true;
      continue;
    }
    if (sameBytes(e.version as Uint8Array, bytes)) return e;
    if (contained === undefined && snapshotContains(snapshot, Y.decodeSnapshotV2(e.version as Uint8Array))) contained = e;
  }
  if (!anyMissing) return contained;
  // some versions are not inline: one forward replay decides exactly
  let exact: EntryRecord | undefined;
  let lastContained: EntryRecord | undefined;
  const head = log.head(id)?.seq ?? 0;
  await replayVersions(log, id, 1, head, (e, v) => {
    if (sameBytes(v, bytes)) {
      exact = e;
      return true;
    }
    if (snapshotContains(snapshot, Y.decodeSnapshotV2(v))) lastContained = e;
    return false;
  });
  return exact ?? lastContained;
}

/**
 * Who wrote the struct `item` of this profile: the entry whose update added it (its update's
 * clock range for that client covers the item). Scans newest first.
 */
export async function attributeItem(log: EventLog, id: string, item: Y.ID): Promise<{ actor: string; origin: string } | undefined> {
  for await (const e of log.read(id, { reverse: true })) {
    const meta = Y.parseUpdateMeta(e.body);
    const from = meta.from.get(item.client);
    const to = meta.to.get(item.client);
    if (from !== undefined && to !== undefined && from <= item.clock && item.clock < to) return { actor: e.actor, origin: e.origin };
  }
  return undefined;
}
