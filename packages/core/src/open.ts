/** openStore: opens the log (or takes a provided EventLog) and builds the store's index. */
import { openLog, type EventLog, type LogCodec, type OpenLogOptions, type SnapshotPolicy } from '@profilesync/log';
import { CoreErrorCode, coreError } from './errors.js';
import { ProfileStoreImpl } from './store-api.js';
import type { StoreCoreOptions } from './store.js';

/** Head seq up to which PROFILE_SNAPSHOT_POLICY uses the short spacing. */
export const YOUNG_PROFILE_SEQ = 1024;

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
 * Profiles are small and mostly read whole (sync's full state, cold doc loads, replays): while a
 * profile is young (head seq <= 1024) it is snapshotted after every 32 entries or 64 KiB of
 * bodies, so loadState reads and merges a short tail instead of up to 256 entries. Old
 * snapshots are kept and each holds the whole history (gc off), so a long history goes back to
 * the log's default spacing (256 entries / 256 KiB): the short spacing costs at most 32 extra
 * snapshots of a young profile, not 8x the snapshot bytes of every long one.
 * A pure function of its input, like every policy (rebuild gives the same positions).
 */
export const PROFILE_SNAPSHOT_POLICY: SnapshotPolicy = (c) =>
  c.headSeq <= YOUNG_PROFILE_SEQ ? c.entriesSince >= 32 || c.bytesSince >= 64 * 1024 : c.entriesSince >= 256 || c.bytesSince >= 256 * 1024;

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
