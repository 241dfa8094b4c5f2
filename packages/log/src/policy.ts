/** Snapshot policy: a small pure function, tested alone. */
import type { SnapshotPolicy, SnapshotPolicyInput } from './types.js';

export const SNAPSHOT_EVERY_ENTRIES = 256;
export const SNAPSHOT_EVERY_BYTES = 256 * 1024;

/** Snapshot after 256 entries or 256 KiB of bodies since the last snapshot, whichever comes first. */
export const defaultSnapshotPolicy: SnapshotPolicy = (input: SnapshotPolicyInput): boolean =>
  input.entriesSince >= SNAPSHOT_EVERY_ENTRIES || input.bytesSince >= SNAPSHOT_EVERY_BYTES;

/** A policy with other thresholds (tests and tuning). */
export function snapshotEvery(entries: number, bytes = Number.POSITIVE_INFINITY): SnapshotPolicy {
  return (input) => input.entriesSince >= entries || input.bytesSince >= bytes;
}
