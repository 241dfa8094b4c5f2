/**
 * Conflict records (issue 13; docs/profile-model.md "Conflicts"): the doc's sibling root
 * 'conflicts' (not content: moving it changes no version), written only by nodes.
 *
 *   key `<id>`            the detection: { field, kind, base, ours, theirs, merged, at, node, origin, message? }
 *   key `<id>.resolution` the resolution: { keep, value?, at, by, node }
 *
 * The id is deterministic (conflict-detect.ts), so two nodes detecting the same merge write the
 * same key: Yjs keeps one record everywhere. A detection is never written over an existing key,
 * and the resolution lives under its own key, so a late detection of a conflict that was already
 * resolved elsewhere cannot reopen it. A conflict is open while it has no resolution.
 */
import * as Y from 'yjs';
import type { DetectedConflict } from './conflict-detect.js';
import { valueAt } from './merge-state.js';
import type { ConflictInfo, Keep } from './types.js';

/** the doc's content root (model.ts ROOT; not imported: model.ts re-exports openCount from here) */
const ROOT = 'profile';
export const CONFLICTS_ROOT = 'conflicts';
export const RESOLUTION_SUFFIX = '.resolution';
export const CONFLICT_ID = /^[A-Za-z0-9_-]{16}$/;

export type { ConflictInfo, Keep } from './types.js';
export const KEEPS: readonly Keep[] = ['merged', 'ours', 'theirs', 'value'];

/** A detection as stored (plain JSON, one atomic value). */
export interface StoredConflict {
  field: string;
  kind: 'text' | 'scalar' | 'create';
  base: unknown;
  ours: unknown;
  theirs: unknown;
  merged: unknown;
  /** ms when this node detected it */
  at: number;
  /** the node that detected it */
  node: string;
  /** the origin of the merge ('peer:<id>', 'yjs:<token>', 'bus:<member>', an import's origin) */
  origin: string;
  /** for messages.<id>.content: the message's role and position on the side that still had it */
  message?: { role: string; pos: string };
}

export interface StoredResolution {
  keep: Keep;
  /** the value written (what `keep` named at the time) */
  value: unknown;
  at: number;
  by: string;
  node: string;
}

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function storedConflict(v: unknown): StoredConflict | undefined {
  if (!isObj(v)) return undefined;
  const { field, kind, at, node, origin } = v;
  if (typeof field !== 'string' || (kind !== 'text' && kind !== 'scalar' && kind !== 'create')) return undefined;
  if (typeof at !== 'number' || !Number.isFinite(at) || typeof node !== 'string' || typeof origin !== 'string') return undefined;
  return v as unknown as StoredConflict;
}

function storedResolution(v: unknown): StoredResolution | undefined {
  if (!isObj(v)) return undefined;
  const { keep, at, by, node } = v;
  if (typeof keep !== 'string' || !(KEEPS as readonly string[]).includes(keep)) return undefined;
  if (typeof at !== 'number' || !Number.isFinite(at) || typeof by !== 'string' || typeof node !== 'string') return undefined;
  return v as unknown as StoredResolution;
}

function rootOf(doc: Y.Doc): Y.Map<unknown> | undefined {
  return doc.share.has(CONFLICTS_ROOT) ? doc.getMap<unknown>(CONFLICTS_ROOT) : undefined;
}

/** Number of open conflicts (records without a resolution). Pure function of the doc. */
export function openCount(doc: Y.Doc): number {
  const map = rootOf(doc);
  if (map === undefined || map.size === 0) return 0;
  let n = 0;
  for (const [key, v] of map.entries()) {
    if (CONFLICT_ID.test(key) && storedConflict(v) !== undefined && !map.has(key + RESOLUTION_SUFFIX)) n++;
  }
  return n;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** Every valid record, newest first (ties by id). */
export function listRecords(doc: Y.Doc): ConflictInfo[] {
  const map = rootOf(doc);
  if (map === undefined) return [];
  const out: ConflictInfo[] = [];
  for (const [key, v] of map.entries()) {
    if (!CONFLICT_ID.test(key)) continue;
    const c = storedConflict(v);
    if (c === undefined) continue;
    const r = storedResolution(map.get(key + RESOLUTION_SUFFIX));
    const info: ConflictInfo = { id: key, field: c.field, kind: c.kind, status: r === undefined ? 'open' : 'resolved', base: c.base ?? null, ours: c.ours ?? null, theirs: c.theirs ?? null, merged: c.merged ?? null, at: iso(c.at), node: c.node, origin: c.origin };
    if (r !== undefined) {
      info.resolvedAt = iso(r.at);
      info.resolvedBy = r.by;
      info.resolution = { keep: r.keep, value: r.value ?? null, node: r.node };
    }
    out.push(info);
  }
  return out.sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

export function getRecord(doc: Y.Doc, id: string): { conflict: StoredConflict; resolution: StoredResolution | undefined } | undefined {
  const map = rootOf(doc);
  if (map === undefined || !CONFLICT_ID.test(id)) return undefined;
  const conflict = storedConflict(map.get(id));
  if (conflict === undefined) return undefined;
  return { conflict, resolution: storedResolution(map.get(id + RESOLUTION_SUFFIX)) };
}

export interface DetectionMeta {
  at: number;
  node: string;
  origin: string;
}

/** The role and position of a message on the first state (of those given) that has it. */
function messageHint(doc: Y.Doc, field: string, states: (Y.Snapshot | null)[]): StoredConflict['message'] {
  const m = /^messages\.([^.]+)\.content$/.exec(field);
  if (m === null) return undefined;
  const root = doc.getMap<unknown>(ROOT);
  for (const at of states) {
    const msgs = valueAt(root, 'messages', at);
    if (!(msgs instanceof Y.Map)) continue;
    const msg = valueAt(msgs as Y.Map<unknown>, m[1]!, at);
    if (!(msg instanceof Y.Map)) continue;
    const role = valueAt(msg as Y.Map<unknown>, 'role', at);
    const pos = valueAt(msg as Y.Map<unknown>, 'pos', at);
    if (typeof role === 'string' && typeof pos === 'string') return { role, pos };
  }
  return undefined;
}

/**
 * Writes the detections this doc does not hold yet (call inside the caller's transaction).
 * Returns the ones written. `states` (L, R, M) let a message content conflict remember the
 * message's role and position, so keeping a side that deleted it can bring it back.
 */
export function writeDetections(doc: Y.Doc, found: readonly DetectedConflict[], meta: DetectionMeta, states: (Y.Snapshot | null)[] = [null]): DetectedConflict[] {
  const map = doc.getMap<unknown>(CONFLICTS_ROOT);
  const written: DetectedConflict[] = [];
  for (const c of found) {
    if (map.has(c.id)) continue;
    const rec: StoredConflict = { field: c.field, kind: c.kind, base: c.base, ours: c.ours, theirs: c.theirs, merged: c.merged, at: meta.at, node: meta.node, origin: meta.origin };
    const hint = messageHint(doc, c.field, states);
    if (hint !== undefined) rec.message = hint;
    map.set(c.id, rec);
    written.push(c);
  }
  return written;
}

/**
 * Fields whose conflict both states resolved since their common state (each its own resolution
 * of the same conflict: two people resolved at once, apart), with the value each side's
 * resolution wrote (read at that side's state).
 */
export function resolvedOnBothSides(doc: Y.Doc, l: Y.Snapshot, r: Y.Snapshot, b: Y.Snapshot): Map<string, { ours: unknown; theirs: unknown }> {
  const out = new Map<string, { ours: unknown; theirs: unknown }>();
  const map = rootOf(doc);
  if (map === undefined) return out;
  for (const key of map.keys()) {
    if (!key.endsWith(RESOLUTION_SUFFIX)) continue;
    const atL = storedResolution(valueAt(map, key, l));
    const atR = storedResolution(valueAt(map, key, r));
    if (atL === undefined || atR === undefined || valueAt(map, key, b) !== undefined) continue;
    const rec = storedConflict(map.get(key.slice(0, -RESOLUTION_SUFFIX.length)));
    if (rec !== undefined) out.set(rec.field, { ours: atL.value ?? undefined, theirs: atR.value ?? undefined });
  }
  return out;
}
