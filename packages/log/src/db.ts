/**
 * Opening LevelDB (one classic-level DB per data dir, binary keys and values) and a holder
 * that can reopen it: after a failed synced write LevelDB refuses every later write until the
 * DB is reopened, so the writer reopens before its next batch. Reads that raced with a reopen
 * are retried once on the new handle.
 */
import { readdirSync, statfsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Level } from 'level';
import { errorCode, type ProfileSyncError } from '@profilesync/errors';
import { isNotOpenError, logError } from './errors.js';

export type Db = Level<Uint8Array, Uint8Array>;

const OPTIONS = { keyEncoding: 'view', valueEncoding: 'view' } as const;

function causeCode(err: unknown): string | undefined {
  return errorCode((err as { cause?: unknown } | undefined)?.cause) ?? errorCode(err);
}

export async function openLevel(dir: string, wrap?: (db: unknown) => unknown): Promise<Db> {
  const raw = new Level<Uint8Array, Uint8Array>(dir, OPTIONS);
  try {
    await raw.open();
  } catch (err) {
    const code = causeCode(err);
    if (code === 'LEVEL_LOCKED') {
      throw logError('LOG_LOCKED', `data dir ${dir} is locked by another process (or another open log in this one)`, {
        cause: err, details: { dir },
      });
    }
    if (code === 'LEVEL_CORRUPTION') {
      throw logError('LOG_CORRUPT', `LevelDB in ${dir} is corrupt and cannot be opened`, { cause: err, details: { dir } });
    }
    throw logError('LOG_OPEN_FAILED', `cannot open the log in ${dir}: ${String((err as Error).cause ?? (err as Error).message)}`, {
      cause: err, details: { dir },
    });
  }
  return (wrap === undefined ? raw : wrap(raw)) as Db;
}

/** True when `err` (or a cause of it) says the disk is full (ENOSPC). */
export function isNoSpace(err: unknown): boolean {
  for (let e = err as { code?: unknown; message?: unknown; cause?: unknown } | undefined, i = 0; e && i < 5; e = e.cause as typeof e, i++) {
    if (e.code === 'ENOSPC' || e.code === 'LOG_DISK_FULL' || /no space left on device|ENOSPC/i.test(String(e.message ?? ''))) return true;
  }
  return false;
}

/** Head room a reopen needs beyond LevelDB's own files: a new manifest, a new log, some slack. */
const REOPEN_SLACK_BYTES = 1024 * 1024;

/**
 * When the file system of `dir` has less free space than a reopen of the LevelDB there needs —
 * its write-ahead logs become a table, the manifest is rewritten (both sizes counted) plus
 * REOPEN_SLACK_BYTES — returns { need, free }; otherwise (or when it cannot be told) undefined.
 */
export function reopenSpace(dir: string): { need: number; free: number } | undefined {
  let free: number;
  let need = REOPEN_SLACK_BYTES;
  try {
    const fs = statfsSync(dir);
    free = fs.bavail * fs.bsize;
    for (const name of readdirSync(dir)) {
      if (name.endsWith('.log') || name.startsWith('MANIFEST-')) need += statSync(join(dir, name)).size;
    }
  } catch {
    return undefined;
  }
  return free < need ? { need, free } : undefined;
}

export function noSpaceError(space: { need: number; free: number }): ProfileSyncError {
  return logError('LOG_DISK_FULL', `the disk holding the log is full (${space.free} bytes free, ${space.need} needed to resume writing); reads keep working`, {
    details: { free: space.free, need: space.need },
  });
}

export class DbHolder {
  readonly dir: string;
  readonly #wrap: ((db: unknown) => unknown) | undefined;
  #db: Db;
  #generation = 0;
  #reopening: Promise<void> | undefined;
  #writeFailed = false;
  /** set when a reopen closed the handle but could not open it again (reads retry the open) */
  #openFailed: unknown;

  constructor(dir: string, db: Db, wrap?: (db: unknown) => unknown) {
    this.dir = dir;
    this.#db = db;
    this.#wrap = wrap;
  }

  /** The current handle (the writer uses it directly; it is the only one that reopens). */
  get db(): Db {
    return this.#db;
  }

  get generation(): number {
    return this.#generation;
  }

  /** A write outside the writer's batches failed: LevelDB refuses writes until a reopen. */
  markWriteFailed(): void {
    this.#writeFailed = true;
  }

  get writeFailed(): boolean {
    return this.#writeFailed;
  }

  async current(): Promise<Db> {
    if (this.#reopening !== undefined) await this.#reopening.catch(() => undefined);
    if (this.#openFailed !== undefined) {
      // the last reopen left no open handle: try again (space may have returned), else say why
      await this.reopen().catch(() => undefined);
      if (this.#openFailed !== undefined) {
        const cause = this.#openFailed;
        throw isNoSpace(cause) ? logError('LOG_DISK_FULL', 'the log cannot be reopened: the disk is full', { cause }) : cause;
      }
    }
    return this.#db;
  }

  /** Runs a read; when it failed because a reopen closed the handle under it, runs it once more. */
  async run<T>(fn: (db: Db) => Promise<T>): Promise<T> {
    const db = await this.current();
    const gen = this.#generation;
    try {
      return await fn(db);
    } catch (err) {
      if (!isNotOpenError(err) || (gen === this.#generation && this.#reopening === undefined)) throw err;
      return fn(await this.current());
    }
  }

  /** Closes and reopens the DB (one at a time: a call during a reopen waits for it). Readers wait meanwhile. */
  async reopen(): Promise<void> {
    if (this.#reopening !== undefined) return this.#reopening;
    const work = (async () => {
      try {
        await this.#db.close();
      } catch {
        // a handle in a failed state may refuse to close cleanly; opening again is what matters
      }
      try {
        this.#db = await openLevel(this.dir, this.#wrap);
      } catch (err) {
        this.#openFailed = err;
        throw err;
      }
      this.#openFailed = undefined;
      this.#writeFailed = false;
      this.#generation++;
    })();
    this.#reopening = work;
    try {
      await work;
    } finally {
      this.#reopening = undefined;
    }
  }

  async close(): Promise<void> {
    if (this.#reopening !== undefined) await this.#reopening.catch(() => undefined);
    await this.#db.close();
  }
}

/**
 * One point read. Uses abstract-level 3's getSync when the handle offers it (a wrapper may
 * not): a small value from LevelDB's block cache or the page cache takes ~0.1 ms on the main
 * thread, while the async get's two thread hops (libuv pool, then back to the loop) were the
 * multi-ms tail of a cold getView on a loaded 2-core machine (docs/storage-format.md).
 * Errors come back as a rejected promise either way (DbHolder.run retries not-open ones).
 */
export async function getPoint(db: Db, key: Uint8Array): Promise<Uint8Array | undefined> {
  const sync = (db as { getSync?: unknown }).getSync;
  if (typeof sync === 'function' && db.status === 'open') return (sync as (k: Uint8Array) => Uint8Array | undefined).call(db, key);
  return db.get(key);
}

export type Op = { type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'del'; key: Uint8Array };

export interface Chained {
  put(key: Uint8Array, value: Uint8Array): unknown;
  del(key: Uint8Array): unknown;
  write(options: { sync: boolean }): Promise<void>;
  close(): Promise<void>;
}

/**
 * A chained batch (`db.batch()` with no arguments): in abstract-level 3 it costs a third of the
 * array form per op. A wrapper (wrapDb) may make `batch()` throw or return a rejected promise:
 * the returned promise then rejects.
 */
export async function startBatch(db: Db): Promise<Chained> {
  const b = (db.batch as () => unknown).call(db) as Chained | PromiseLike<unknown>;
  if (typeof (b as Chained)?.put !== 'function' || typeof (b as Chained).write !== 'function') {
    await b;
    throw new Error('db.batch() did not return a chained batch');
  }
  return b as Chained;
}

/**
 * Writes ops atomically through one chained batch. A wrapper (wrapDb) may also make `write()`
 * reject: the batch then fails.
 */
export async function writeOps(db: Db, ops: readonly Op[], sync: boolean): Promise<void> {
  const chained = await startBatch(db);
  try {
    for (const op of ops) {
      if (op.type === 'put') chained.put(op.key, op.value);
      else chained.del(op.key);
    }
  } catch (err) {
    await chained.close().catch(() => undefined);
    throw err;
  }
  await chained.write({ sync });
}
