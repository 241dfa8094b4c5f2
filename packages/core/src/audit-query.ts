/** audit() and conflicts(): merged, newest-first reads over profile entries and '#audit'. */
import type { EventLog } from '@profilesync/log';
import { AUDIT_STREAM, auditEntryToRecord, entryToAudit, matchesAudit, type ParsedAuditQuery } from './audit.js';
import type { AuditRecord, ConflictRecord } from './types.js';
import { damagedError, isDamageCode } from './errors.js';

const findingsOf = (log: EventLog, stream: string): unknown[] => log.damage().streams.find((s) => s.stream === stream)?.findings ?? [];

interface Found {
  ts: number;
  lsn: number;
  r: AuditRecord;
}

const newestFirst = (a: Found, b: Found): number => b.ts - a.ts || b.lsn - a.lsn;

/**
 * Reads '#audit', then profile streams in order of their last change, keeping the newest
 * `limit` matches; stops at the first stream whose last change is older than the current
 * limit-th record (no older stream can enter the result).
 */
export async function queryAudit(log: EventLog, q: ParsedAuditQuery): Promise<AuditRecord[]> {
  const range = { reverse: true, ...(q.fromTs !== undefined ? { fromTs: q.fromTs } : {}), ...(q.toTs !== undefined ? { toTs: q.toTs } : {}) };
  let found: Found[] = [];
  const take = async (stream: string, toRecord: (e: Parameters<typeof entryToAudit>[0]) => AuditRecord | null): Promise<void> => {
    let n = 0;
    try {
      for await (const e of log.read(stream, range)) {
        const r = toRecord(e);
        if (r === null || !matchesAudit(r, q)) continue;
        found.push({ ts: e.ts, lsn: e.lsn, r });
        if (++n >= q.limit) break;
      }
    } catch (err) {
      // a damaged stream's records are not served (the damage report lists it); the others are
      if (!isDamageCode((err as { code?: string }).code)) throw err;
      if (q.profile !== undefined && stream === q.profile) throw damagedError(stream, findingsOf(log, stream), err);
    }
    if (found.length > q.limit) found = found.sort(newestFirst).slice(0, q.limit);
  };
  if (q.profile !== undefined && log.isDamaged(q.profile)) throw damagedError(q.profile, findingsOf(log, q.profile));
  if (log.head(AUDIT_STREAM) !== undefined) await take(AUDIT_STREAM, auditEntryToRecord);
  const streams = (q.profile !== undefined ? (log.head(q.profile) !== undefined ? [q.profile] : []) : log.streams().filter((s) => !s.startsWith('#'))).filter(
    (s) => q.profiles === undefined || q.profiles(s),
  );
  const byRecent = streams.map((s) => ({ s, ts: log.head(s)?.ts ?? 0 })).sort((a, b) => b.ts - a.ts);
  for (const { s, ts } of byRecent) {
    if (q.fromTs !== undefined && ts < q.fromTs) break;
    if (found.length >= q.limit) {
      const kth = found.sort(newestFirst)[q.limit - 1] as Found;
      if (ts < kth.ts) break;
    }
    await take(s, entryToAudit);
  }
  return found.sort(newestFirst).slice(0, q.limit).map((f) => f.r);
}

export async function listConflicts(log: EventLog, id: string): Promise<ConflictRecord[]> {
  const out: ConflictRecord[] = [];
  if (log.head(AUDIT_STREAM) === undefined) return out;
  try {
    for await (const e of log.read(AUDIT_STREAM, { reverse: true })) {
      const r = auditEntryToRecord(e);
      if (r.action === 'conflict' && r.profile === id && r.details) out.push(r.details as unknown as ConflictRecord);
    }
  } catch (err) {
    if (!isDamageCode((err as { code?: string }).code)) throw err;
    throw damagedError(AUDIT_STREAM, findingsOf(log, AUDIT_STREAM), err);
  }
  return out;
}
