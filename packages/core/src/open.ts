/** openStore: opens the log (or takes a provided EventLog) and builds the store's index. */
import { openLog, snapshotEvery, type EventLog, type LogCodec, type OpenLogOptions, type SnapshotPolicy } from '@profilesync/log';
import { CoreErrorCode, coreError } from './errors.js';
import { ProfileStoreImpl } from './store-api.js';
import type { StoreCoreOptions } from './store.js';

export interface OpenStoreOptions extends Omit<StoreCoreOptions, 'ownsLog'> {
  /** data dir of the log (ignored when `log` is given) */
  dir?: string;
  /** a log opened by the caller; the store then does not close it */
  log?: EventLog;
  codec?: LogCodec;
  snapshotPolicy?: SnapshotPolicy;
  /** test hook passed to openLog */
  wrapDb?: OpenLogOptions['wrapDb'];
}

/**
 * Snapshot after 32 entries or 64 KiB of entry bodies (the log's default is 256 / 256 KiB).
 * Profiles are small and mostly read whole (sync's full state, cold doc loads, replays): with a
 * short tail, loadState reads and verifies a few entries and merges a few updates instead of up
 * to 256. Snapshots are built on the log's worker thread from bodies still in memory.
 */
export const PROFILE_SNAPSHOT_POLICY: SnapshotPolicy = snapshotEvery(32, 64 * 1024);

export async function openStore(opts: OpenStoreOptions): Promise<ProfileStoreImpl> {
  let log = opts.log;
  const owns = log === undefined;
  if (log === undefined) {
    if (typeof opts.dir !== 'string' || opts.dir.length === 0) throw coreError(CoreErrorCode.INVALID, 'openStore needs dir or log', { path: 'dir', rule: 'required' });
    const logOpts: OpenLogOptions = { dir: opts.dir };
    if (opts.codec) logOpts.codec = opts.codec;
    if (opts.clock) logOpts.clock = opts.clock;
    logOpts.snapshotPolicy = opts.snapshotPolicy ?? PROFILE_SNAPSHOT_POLICY;
    if (opts.wrapDb) logOpts.wrapDb = opts.wrapDb;
    log = await openLog(logOpts);
  }
  const store = new ProfileStoreImpl(log, { ...opts, ownsLog: owns });
  try {
    await store.init();
  } catch (err) {
    if (owns) await log.close().catch(() => undefined);
    throw err;
  }
  return store;
}
