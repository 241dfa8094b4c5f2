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
