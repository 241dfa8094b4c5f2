/** openStore: opens the log (or takes a provided EventLog) and builds the store's index. */
import { openLog, type EventLog, type LogCodec, type OpenLogOptions, type SnapshotPolicy } from '@profilesync/log';
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

export async function openStore(opts: OpenStoreOptions): Promise<ProfileStoreImpl> {
  let log = opts.log;
  const owns = log === undefined;
  if (log === undefined) {
    if (typeof opts.dir !== 'string' || opts.dir.length === 0) throw coreError(CoreErrorCode.INVALID, 'openStore needs dir or log', { path: 'dir', rule: 'required' });
    const logOpts: OpenLogOptions = { dir: opts.dir };
    if (opts.codec) logOpts.codec = opts.codec;
    if (opts.clock) logOpts.clock = opts.clock;
    if (opts.snapshotPolicy) logOpts.snapshotPolicy = opts.snapshotPolicy;
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
