/**
 * Audit sources: (1) profile log entries themselves (actor, origin, ts, summary of fields) and
 * (2) the reserved stream '#audit' for events that are not profile changes (auth.denied,
 * token.create/revoke, key.rotate, sync.rejected, conflict). Both are append-only and
 * hash-chained by the log; audit() merges them newest first.
 */
import type { EntryRecord } from '@profilesync/log';
import { CoreErrorCode, coreError } from './errors.js';
import { parseSummary } from './diff.js';
import { isProfileId } from './ids.js';
import { isPlainObject } from './patch.js';
import type { AuditQuery, AuditRecord } from './types.js';

export const AUDIT_STREAM = '#audit';
export const DEFAULT_AUDIT_LIMIT = 100;
export const MAX_AUDIT_LIMIT = 10_000;
const OUTCOMES = new Set(['ok', 'denied', 'rejected']);
const MAX_DETAILS_BYTES = 16 * 1024;

const iso = (ts: number): string => new Date(ts).toISOString();

function bad(message: string, details?: Record<string, unknown>): Error {
  return coreError(CoreErrorCode.AUDIT_INVALID, message, details);
}

/**
 * Entries that are not audit records of their own: per-keystroke content changes ('update',
 * 'sync') are grouped into one 'profile.edit' record per version, written to '#audit' when the
 * version closes (and when a peer's version record arrives); 'version' entries carry only that.
 */
const GROUPED: ReadonlySet<string> = new Set(['update', 'sync', 'version']);

/** Profile entry -> audit record (null for entries grouped into versions). Actions map to 'profile.<action>' except label moves. */
export function entryToAudit(e: EntryRecord): AuditRecord | null {
  const { action, fields } = parseSummary(e.summary);
  if (GROUPED.has(action)) return null;
  const name = action.startsWith('label.') ? action : `profile.${action}`;
  return { at: iso(e.ts), actor: e.actor, origin: e.origin, action: name, profile: e.stream, fields, outcome: 'ok' };
}

type StoredAudit = Omit<AuditRecord, 'at'>;

export function validateAuditInput(record: unknown): StoredAudit {
  if (!isPlainObject(record)) throw bad('an audit record must be an object');
  const r = record as Record<string, unknown>;
  const str = (k: string, max: number): string => {
    const v = r[k];
    if (typeof v !== 'string' || v.length === 0 || v.length > max) throw bad(`audit ${k} must be a 1..${max} character string`, { path: k });
    return v;
  };
  const out: StoredAudit = { actor: str('actor', 256), origin: str('origin', 256), action: str('action', 64), outcome: 'ok' };
  if (typeof r['outcome'] !== 'string' || !OUTCOMES.has(r['outcome'])) throw bad('audit outcome must be ok, denied or rejected', { path: 'outcome' });
  out.outcome = r['outcome'] as AuditRecord['outcome'];
  if (r['profile'] !== undefined) {
    if (!isProfileId(r['profile'])) throw bad('audit profile must be a profile id', { path: 'profile' });
    out.profile = r['profile'];
  }
  if (r['fields'] !== undefined) {
    const f = r['fields'];
    if (!Array.isArray(f) || f.length > 100 || !f.every((x) => typeof x === 'string' && x.length <= 256)) throw bad('audit fields must be strings', { path: 'fields' });
    out.fields = f as string[];
  }
  if (r['details'] !== undefined) {
    if (!isPlainObject(r['details'])) throw bad('audit details must be an object', { path: 'details' });
    let json: string;
    try {
      json = JSON.stringify(r['details']);
    } catch {
      throw bad('audit details must be JSON', { path: 'details' });
    }
    if (Buffer.byteLength(json) > MAX_DETAILS_BYTES) throw bad('audit details too large', { path: 'details' });
    out.details = JSON.parse(json) as Record<string, unknown>;
  }
  return out;
}

export function encodeAudit(r: StoredAudit): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(r));
}

/** '#audit' entry -> record; an undecodable body still yields a record (never hidden). */
export function auditEntryToRecord(e: EntryRecord): AuditRecord {
  try {
    const r = JSON.parse(new TextDecoder().decode(e.body)) as StoredAudit & { at?: unknown };
    // a record copied into a new segment after damage keeps its own time (StoreCore.ensureAuditWritable)
    return { ...r, at: typeof r.at === 'string' ? r.at : iso(e.ts) };
  } catch {
    return { at: iso(e.ts), actor: e.actor, origin: e.origin, action: e.summary || 'unknown', outcome: 'ok', details: { undecodable: true } };
  }
}

export interface ParsedAuditQuery {
  profile?: string;
  actor?: string;
  action?: string;
  fromTs?: number;
  toTs?: number;
  limit: number;
  profiles?: (id: string) => boolean;
}

function parseTime(v: unknown, key: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string') {
    const asNum = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
    if (Number.isFinite(asNum)) return asNum;
  }
  throw bad(`audit ${key} must be an ISO-8601 time or milliseconds`, { path: key });
}

export function parseAuditQuery(q: AuditQuery | undefined): ParsedAuditQuery {
  if (q !== undefined && !isPlainObject(q)) throw bad('audit query must be an object');
  const query: AuditQuery = q ?? {};
  const limit: unknown = query.limit ?? DEFAULT_AUDIT_LIMIT;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_AUDIT_LIMIT) throw bad(`audit limit must be 1..${MAX_AUDIT_LIMIT}`, { path: 'limit' });
  const out: ParsedAuditQuery = { limit };
  for (const k of ['profile', 'actor', 'action'] as const) {
    const v = query[k];
    if (v === undefined) continue;
    if (typeof v !== 'string' || v.length === 0) throw bad(`audit ${k} must be a non-empty string`, { path: k });
    out[k] = v;
  }
  if (query.profiles !== undefined) {
    if (typeof query.profiles !== 'function') throw bad('audit profiles must be a function', { path: 'profiles' });
    out.profiles = query.profiles;
  }
  const from = parseTime(query.since, 'since');
  const to = parseTime(query.until, 'until');
  if (from !== undefined) out.fromTs = from;
  if (to !== undefined) out.toTs = to;
  return out;
}

export function matchesAudit(r: AuditRecord, q: ParsedAuditQuery): boolean {
  if (q.profile !== undefined && r.profile !== q.profile) return false;
  if (q.profiles !== undefined && (r.profile === undefined || !q.profiles(r.profile))) return false;
  if (q.actor !== undefined && r.actor !== q.actor) return false;
  if (q.action !== undefined && r.action !== q.action) return false;
  return true;
}
