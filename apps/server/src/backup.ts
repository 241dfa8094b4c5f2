/**
 * Backups of a node: the log's backup stream (a LevelDB snapshot: consistent at one instant
 * while writes go on; every entry verified as it is copied) plus the file needed to read it
 * (`keyring.json` for encrypted dirs, still wrapped by the passphrase; `identity.json` for
 * plaintext ones). The same bytes whether the node is stopped (`profilesync backup FILE`),
 * running (`POST /api/backup`, `profilesync backup FILE --url URL`) or on a schedule
 * (`backup.interval_minutes`, kept `backup.keep` deep in `backup.dir`).
 *
 * Files are written as FILE.partial, fsynced, checked end to end (checkBackup: crc of every
 * record, counts and sha-256 of the trailer) and renamed, so FILE is never a half-written or
 * unchecked backup.
 */
import { closeSync, createReadStream, createWriteStream, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { ProfileSyncError, errorCode } from '@profilesync/errors';
import { backupLog, checkBackup, type BackupReport, type EventLog } from '@profilesync/log';
import { IDENTITY_FILE, KEYRING_FILE } from '@profilesync/crypto';
import type { ServerConfig } from './config.js';

export type BackupKind = 'online' | 'scheduled' | 'offline';

export interface BackupFileReport extends BackupReport {
  file: string;
  encrypted: boolean;
}

/** The files a backup carries beside the log, read from the data dir. */
export function backupSections(dataDir: string, encrypted: boolean): Record<string, Uint8Array> {
  const name = encrypted ? KEYRING_FILE : IDENTITY_FILE;
  const path = join(dataDir, name);
  return existsSync(path) ? { [name]: readFileSync(path) } : {};
}

/** Streams a backup of the node's log into `output` (ended when done). */
export function streamBackup(log: EventLog, dataDir: string, encrypted: boolean, output: Writable, onProgress?: (p: { done: number; total: number }) => void): Promise<BackupReport> {
  return backupLog(log, output, { sections: backupSections(dataDir, encrypted), ...(onProgress ? { onProgress } : {}) });
}

function fsyncPath(path: string, flags: 'r' | 'r+' = 'r+'): void {
  const fd = openSync(path, flags);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Moves a finished FILE.partial into place once it checks out end to end (the rename is
 * fsynced through the directory). Removes the partial and throws LOG_BACKUP_CORRUPT otherwise.
 */
export async function commitBackupFile(partial: string, file: string): Promise<Awaited<ReturnType<typeof checkBackup>>> {
  try {
    fsyncPath(partial);
    const checked = await checkBackup(createReadStream(partial));
    renameSync(partial, file);
    try {
      fsyncPath(dirname(resolve(file)), 'r');
    } catch {
      /* some filesystems cannot fsync a directory; the rename itself is atomic */
    }
    return checked;
  } catch (err) {
    throw discardPartial(partial, err);
  }
}

/**
 * Removes FILE.partial after a backup failed, and returns the error to throw: always the one
 * that made the backup fail. When the cleanup fails too (a directory in the way, no permission),
 * that is only a detail of it (`details.cleanup`), never a replacement.
 */
export function discardPartial(partial: string, err: unknown): unknown {
  try {
    rmSync(partial, { force: true });
    return err;
  } catch (rmErr) {
    const e = rmErr as NodeJS.ErrnoException;
    const cleanup = `${partial} was left in place: ${e.code === 'ERR_FS_EISDIR' ? 'it is a directory' : e.message}`;
    if (!(err instanceof ProfileSyncError)) return err;
    return new ProfileSyncError(err.code, err.message, { details: { ...err.details, cleanup }, ...(err.cause !== undefined ? { cause: err.cause } : {}) });
  }
}

/** Writes a backup of `log` to `file` (via FILE.partial, checked, renamed). */
export async function writeBackupFile(log: EventLog, dataDir: string, encrypted: boolean, file: string, onProgress?: (p: { done: number; total: number }) => void): Promise<BackupFileReport> {
  const dir = dirname(resolve(file));
  if (!existsSync(dir)) throw new ProfileSyncError('USAGE', `cannot write the backup: the folder ${dir} does not exist`, { details: { file } });
  const partial = `${file}.partial`;
  let report: BackupReport;
  try {
    report = await streamBackup(log, dataDir, encrypted, createWriteStream(partial, { mode: 0o600 }), onProgress);
  } catch (err) {
    throw discardPartial(partial, err);
  }
  await commitBackupFile(partial, file);
  return { ...report, file, encrypted };
}

const SCHEDULED_RE = /^profilesync-(\d{8}T\d{6}(?:\d{3})?Z)\.bak$/;

/** `profilesync-20240501T100000123Z.bak`: sortable by name, one per millisecond. */
export function scheduledBackupName(at: number): string {
  return `profilesync-${new Date(at).toISOString().replace(/[-:.]/g, '')}.bak`;
}

function nameTime(name: string): number | undefined {
  const m = SCHEDULED_RE.exec(name);
  if (!m) return undefined;
  const s = m[1]!;
  const iso = `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T${s.slice(9, 11)}:${s.slice(11, 13)}:${s.slice(13, 15)}${s.length > 16 ? `.${s.slice(15, 18)}` : ''}Z`;
  const t = Date.parse(iso);
  return Number.isFinite(t) ? t : undefined;
}

/** Scheduled backups in `dir`, newest first. */
export function listScheduledBackups(dir: string): { name: string; at: number }[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .map((name) => ({ name, at: nameTime(name) }))
    .filter((x): x is { name: string; at: number } => x.at !== undefined)
    .sort((a, b) => (a.name < b.name ? 1 : -1));
}

/** Deletes scheduled backups beyond the newest `keep` (and stale .partial files of the schedule). */
export function pruneScheduledBackups(dir: string, keep: number): string[] {
  const removed: string[] = [];
  for (const b of listScheduledBackups(dir).slice(keep)) {
    rmSync(join(dir, b.name), { force: true });
    removed.push(b.name);
  }
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    /* no dir */
  }
  for (const n of names) {
    if (n.endsWith('.bak.partial') && SCHEDULED_RE.test(n.slice(0, -'.partial'.length))) {
      rmSync(join(dir, n), { force: true });
      removed.push(n);
    }
  }
  return removed;
}

export interface BackupObserver {
  observeBackup(kind: BackupKind, outcome: 'ok' | 'failed', seconds: number, bytes: number, at: number): void;
}

export interface BackupServiceOptions {
  log: EventLog;
  dataDir: string;
  encrypted: boolean;
  config: ServerConfig['backup'];
  logger: Logger;
  metrics: BackupObserver;
  audit(record: { action: string; actor: string; origin: string; outcome: 'ok' | 'denied' | 'rejected'; details?: Record<string, unknown> }): Promise<void>;
  clock: () => number;
}

/** Longest single timer wait (setTimeout's limit is 2^31-1 ms); longer intervals re-arm. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The node's backups: one at a time (an online request while another runs is 503
 * BACKUP_IN_PROGRESS), the schedule, metrics, logs and audit records.
 */
export class BackupService {
  readonly #o: BackupServiceOptions;
  #running: Promise<unknown> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #nextAt: number | undefined;

  constructor(opts: BackupServiceOptions) {
    this.#o = opts;
  }

  /** Absolute path of the scheduled backups (relative `backup.dir` resolves against the data dir). */
  get dir(): string {
    return resolve(this.#o.dataDir, this.#o.config.dir);
  }

  /** When the next scheduled backup is due (ms), or undefined when the schedule is off. */
  get nextAt(): number | undefined {
    return this.#nextAt;
  }

  get busy(): boolean {
    return this.#running !== undefined;
  }

  #claim<T>(kind: BackupKind, work: () => Promise<T>): Promise<T> {
    if (this.#running) {
      throw new ProfileSyncError('BACKUP_IN_PROGRESS', 'another backup of this node is running; retry when it is done', { details: { kind } });
    }
    const p = work().finally(() => {
      if (this.#running === p) this.#running = undefined;
    });
    this.#running = p;
    return p;
  }

  #done(kind: BackupKind, started: number, report: BackupReport, actor: string, origin: string, file?: string): void {
    const seconds = (this.#o.clock() - started) / 1000;
    this.#o.metrics.observeBackup(kind, 'ok', seconds, report.bytes, this.#o.clock());
    this.#o.logger.info({ kind, ...(file ? { file } : {}), bytes: report.bytes, entries: report.entries, streams: report.streams, lastLsn: report.lastLsn, sha256: report.sha256, durationMillis: Math.round(report.durationMillis), actor }, 'backup written');
    void this.#o
      .audit({ action: 'backup.create', actor, origin, outcome: 'ok', details: { kind, bytes: report.bytes, entries: report.entries, lastLsn: report.lastLsn, sha256: report.sha256, ...(file ? { file: basename(file) } : {}) } })
      .catch((err: unknown) => this.#o.logger.warn({ err }, 'audit of a backup failed'));
  }

  #failed(kind: BackupKind, started: number, err: unknown, actor: string, file?: string): void {
    const seconds = (this.#o.clock() - started) / 1000;
    this.#o.metrics.observeBackup(kind, 'failed', seconds, 0, this.#o.clock());
    const code = errorCode(err) ?? 'INTERNAL';
    // a client that went away is the client's business; anything else is the node's
    const level = code === 'LOG_BACKUP_WRITE_FAILED' && kind === 'online' ? 'warn' : 'error';
    this.#o.logger[level]({ kind, ...(file ? { file } : {}), code, err, actor }, 'backup failed');
  }

  /** An online backup streamed to `output` (an HTTP response). */
  stream(output: Writable, who: { actor: string; origin: string }): Promise<BackupReport> {
    return this.#claim('online', async () => {
      const started = this.#o.clock();
      try {
        const report = await streamBackup(this.#o.log, this.#o.dataDir, this.#o.encrypted, output);
        this.#done('online', started, report, who.actor, who.origin);
        return report;
      } catch (err) {
        this.#failed('online', started, err, who.actor);
        throw err;
      }
    });
  }

  /** One scheduled backup now: a new file in `dir`, then the oldest beyond `keep` are removed. */
  runScheduled(): Promise<BackupFileReport> {
    return this.#claim('scheduled', async () => {
      const started = this.#o.clock();
      const dir = this.dir;
      const file = join(dir, scheduledBackupName(started));
      try {
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        const report = await writeBackupFile(this.#o.log, this.#o.dataDir, this.#o.encrypted, file);
        this.#done('scheduled', started, report, 'scheduler', 'schedule', file);
        const removed = pruneScheduledBackups(dir, this.#o.config.keep);
        if (removed.length > 0) this.#o.logger.info({ dir, removed, keep: this.#o.config.keep }, 'old backups removed');
        return report;
      } catch (err) {
        this.#failed('scheduled', started, err, 'scheduler', file);
        throw err;
      }
    });
  }

  /** Starts the schedule (no-op when `backup.interval_minutes` is 0). The first run is due one interval after the newest backup in `dir`. */
  start(): void {
    const minutes = this.#o.config.intervalMinutes;
    if (minutes <= 0 || this.#stopped) return;
    const interval = minutes * 60_000;
    const newest = listScheduledBackups(this.dir)[0]?.at;
    this.#arm(newest === undefined ? this.#o.clock() : newest + interval, interval);
    this.#o.logger.info({ dir: this.dir, intervalMinutes: minutes, keep: this.#o.config.keep, nextAt: new Date(this.#nextAt!).toISOString() }, 'backup schedule on');
  }

  #arm(at: number, interval: number): void {
    if (this.#stopped) return;
    this.#nextAt = at;
    const wait = Math.max(0, Math.min(MAX_TIMER_MS, at - this.#o.clock()));
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#o.clock() < at) return this.#arm(at, interval);
      const run = this.#running ? Promise.resolve() : this.runScheduled().then(() => undefined, () => undefined);
      void run.then(() => this.#arm(this.#o.clock() + interval, interval));
    }, wait);
    this.#timer.unref();
  }

  /** Stops the schedule and waits for a running backup to end. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#nextAt = undefined;
    await this.#running?.catch(() => undefined);
  }
}
