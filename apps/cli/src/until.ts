/** `restore --until TIME|SEQ`. */
import { ProfileSyncError } from '@profilesync/errors';

/** `--until`: digits are an lsn (the log's global sequence number), anything else an ISO-8601 time. */
export function parseUntil(value: string | undefined): { untilLsn?: number; untilTs?: number } {
  if (value === undefined) return {};
  if (/^\d+$/.test(value)) {
    const n = Number(value);
    if (!Number.isSafeInteger(n)) throw new ProfileSyncError('USAGE', '--until SEQ is too large');
    return { untilLsn: n };
  }
  const ts = Date.parse(value);
  if (!Number.isFinite(ts) || !/^\d{4}-\d{2}-\d{2}/.test(value)) throw new ProfileSyncError('USAGE', `--until takes an lsn (digits) or an ISO-8601 time, got ${JSON.stringify(value)}`);
  return { untilTs: ts };
}

const DURATION_UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/**
 * A point in time for `audit --since/--until`: an ISO-8601 time (`2024-05-01`,
 * `2024-05-01T10:00:00Z`), milliseconds since the epoch (digits), or a duration ago
 * (`90s`, `30m`, `24h`, `7d`, `2w`). Anything else is a USAGE error that says what works.
 */
export function parseTimeArg(flag: string, value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) {
    const n = Number(v);
    if (Number.isSafeInteger(n)) return n;
  }
  const d = /^(\d{1,9})([smhdw])$/.exec(v);
  if (d) return now - Number(d[1]) * DURATION_UNITS[d[2]!]!;
  if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(v)) {
    const ts = Date.parse(v);
    if (Number.isFinite(ts)) return ts;
  }
  throw new ProfileSyncError('USAGE', `${flag} takes an ISO-8601 time (2024-05-01 or 2024-05-01T10:00:00Z), milliseconds since the epoch, or a duration ago (30m, 24h, 7d); got ${JSON.stringify(value)}`);
}
