/**
 * Versions read model (docs/profile-model.md §5). A version is one actor's run of content
 * changes, closed by an idle gap, another actor's write, a checkpoint, or at once by create,
 * revert, delete and import. Closed versions are records in the doc's sibling root 'versions',
 * keyed by H = stateHash(content snapshot bytes), written by the node where the run was made and
 * synced like any change, so every peer lists the same versions: history order is (at, H), and
 * `@N` is the N-th. Content changes not yet closed are the open run (listed newest, open: true).
 */
import * as Y from 'yjs';
import { base64url, isPlainObject } from '@profilesync/model';
import { VERSIONS_ROOT } from './content-state.js';
import { hashOf } from './state-hash.js';
import type { NewerReason, VersionReason } from './types.js';

export const REASONS: ReadonlySet<VersionReason> = new Set(['idle', 'checkpoint', 'actor', 'create', 'revert', 'delete', 'import', 'label', 'startup', 'migrate', 'resolve', 'merge']);
/**
 * A reason this release does not know, from a newer node (one lowercase word): kept and listed as
 * it is, so a release that adds a reason does not split a rolling upgrade. `open` is never stored.
 */
const NEWER_REASON_RE = /^[a-z][a-z0-9-]{0,31}$/;
const KNOWN_KEYS: ReadonlySet<string> = new Set(['at', 'actors', 'by', 'node', 'reason', 'fields', 'snapshot', 'message']);
/** A key a newer release added to version records: kept, ignored by this release. */
const NEWER_KEY_RE = /^[a-z][A-Za-z0-9]{0,31}$/;
const MAX_NEWER_KEYS = 8;
export const DEFAULT_IDLE_MS = 5000;
export const MAX_MESSAGE_CHARS = 1000;
const MAX_ACTORS = 32;
const MAX_FIELDS = 256;
const MAX_SNAPSHOT_CHARS = 1024 * 1024;
const HASH_RE = /^[A-Za-z0-9_-]{22}$/;
const B64_RE = /^[A-Za-z0-9_-]*$/;

/** A closed version as stored in the 'versions' root (plain JSON, one atomic value per key). */
export interface VersionRecord {
  /** ms of the run's last change (never before a version its node already knew) */
  at: number;
  actors: string[];
  by: string;
  node: string;
  /** how it closed; from a newer node also a reason this release does not know (one lowercase word) */
  reason: VersionReason | NewerReason;
  fields: string[];
  /** base64url of the content snapshot (Y.encodeSnapshotV2) */
  snapshot: string;
  message?: string;
}

export interface ListedVersion {
  key: string;
  rec: VersionRecord;
}

const str = (v: unknown, max: number): v is string => typeof v === 'string' && v.length > 0 && v.length <= max;

/** The record stored at `key`, or a reason why it is not a valid record. */
export function checkRecord(key: string, v: unknown): VersionRecord | string {
  if (!HASH_RE.test(key)) return 'key is not a state hash';
  if (!isPlainObject(v)) return 'not an object';
  const r = v as Record<string, unknown>;
  // keys a newer release added are kept (and ignored here): at most 8, each a short camelCase name
  const newer = Object.keys(r).filter((k) => !KNOWN_KEYS.has(k));
  if (newer.length > MAX_NEWER_KEYS) return `more than ${MAX_NEWER_KEYS} unknown keys`;
  for (const k of newer) if (!NEWER_KEY_RE.test(k)) return `unknown key ${k}`;
  if (typeof r['at'] !== 'number' || !Number.isSafeInteger(r['at']) || r['at'] < 0) return 'at';
  if (!Array.isArray(r['actors']) || r['actors'].length === 0 || r['actors'].length > MAX_ACTORS || !r['actors'].every((a) => str(a, 256))) return 'actors';
  if (!str(r['by'], 1024) || !str(r['node'], 256)) return 'by/node';
  const reason = r['reason'];
  if (typeof reason !== 'string' || !(REASONS.has(reason as VersionReason) || (NEWER_REASON_RE.test(reason) && reason !== 'open'))) return 'reason';
  if (!Array.isArray(r['fields']) || r['fields'].length > MAX_FIELDS || !r['fields'].every((f) => typeof f === 'string' && f.length <= 512)) return 'fields';
  if (r['message'] !== undefined && !str(r['message'], MAX_MESSAGE_CHARS)) return 'message';
  const snap = r['snapshot'];
  if (typeof snap !== 'string' || snap.length === 0 || snap.length > MAX_SNAPSHOT_CHARS || !B64_RE.test(snap)) return 'snapshot';
  const bytes = fromBase64url(snap);
  if (hashOf(bytes) !== key) return 'snapshot does not hash to its key';
  try {
    Y.decodeSnapshotV2(bytes);
  } catch {
    return 'snapshot does not decode';
  }
  return r as unknown as VersionRecord;
}

export function fromBase64url(s: string): Uint8Array {
  const b = Buffer.from(s, 'base64url');
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

export function toBase64url(bytes: Uint8Array): string {
  return base64url(bytes);
}

const byHistory = (a: ListedVersion, b: ListedVersion): number => a.rec.at - b.rec.at || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/** Sorted view of a doc's 'versions' root; re-sorted only after the root changed. */
export class VersionIndex {
  readonly #map: Y.Map<unknown>;
  #sorted: ListedVersion[] | null = null;

  constructor(doc: Y.Doc) {
    this.#map = doc.getMap(VERSIONS_ROOT);
    this.#map.observe(() => {
      this.#sorted = null;
    });
  }

  has(key: string): boolean {
    return this.#map.has(key);
  }

  get(key: string): VersionRecord | undefined {
    const v = this.#map.get(key);
    return v === undefined ? undefined : (v as VersionRecord);
  }

  get size(): number {
    return this.#map.size;
  }

  /** Every valid record in history order (at, key); invalid ones (refused on write) are skipped. */
  sorted(): readonly ListedVersion[] {
    if (this.#sorted === null) {
      const out: ListedVersion[] = [];
      for (const [key, v] of this.#map.entries()) {
        const rec = v as VersionRecord;
        if (rec !== null && typeof rec === 'object' && typeof rec.at === 'number') out.push({ key, rec });
      }
      this.#sorted = out.sort(byHistory);
    }
    return this.#sorted;
  }

  /** at of the newest version (0 when none). */
  newestAt(): number {
    const s = this.sorted();
    return s.length === 0 ? 0 : s[s.length - 1]!.rec.at;
  }

  /** 1-based number of a version, 0 when absent. */
  numberOf(key: string): number {
    const s = this.sorted();
    for (let i = s.length - 1; i >= 0; i--) if (s[i]!.key === key) return i + 1;
    return 0;
  }
}

/** What `stampOf` reads: the doc's version records (a VersionIndex, or one over a temporary doc). */
export interface VersionLookup {
  get(key: string): VersionRecord | undefined;
  sorted(): readonly ListedVersion[];
}

const lastActor = (rec: VersionRecord | undefined): string | undefined =>
  rec !== undefined && rec !== null && typeof rec === 'object' && Number.isSafeInteger(rec.at) && Array.isArray(rec.actors) && typeof rec.actors[rec.actors.length - 1] === 'string'
    ? rec.actors[rec.actors.length - 1]
    : undefined;

/**
 * updatedAt / updatedBy of a view, derived from the doc so that converged nodes show the same
 * (docs/profile-model.md, "Which view fields are node-local"): the version record of the current
 * state (its `at`, the last of its `actors`, i.e. the last to join the run); when the current state is not a closed version and no
 * run of this node is open on it (`open` false: a change made on another node whose run is still
 * open there, or a merge of states edited apart), the newest version record in history order.
 * Undefined (the caller uses its own last entry: time and actor) while this node's own run is
 * open, and for a doc without version records (schema 1).
 */
export function stampOf(versions: VersionLookup, key: string, open: boolean): { at: number; by: string } | undefined {
  const rec = versions.get(key);
  const by = lastActor(rec);
  if (by !== undefined) return { at: rec!.at, by };
  if (open) return undefined;
  const list = versions.sorted();
  const newest = list[list.length - 1]?.rec;
  const nby = lastActor(newest);
  return nby !== undefined ? { at: newest!.at, by: nby } : undefined;
}

/** Display form of a run's actors. */
export function byOf(actors: readonly string[]): string {
  return actors.length <= 3 ? actors.join(', ') : `${actors.slice(0, 3).join(', ')} +${actors.length - 3}`;
}

/** Origins whose writes were made on another node (their node closes their runs). */
export function isReplicated(origin: string): boolean {
  return origin.startsWith('peer:') || origin.startsWith('bus:');
}

export function isLive(origin: string): boolean {
  return origin.startsWith('yjs:');
}
