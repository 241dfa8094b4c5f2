/**
 * Keeps the commit seal (seal.ts) while the log is open, and checks the last one at open.
 *
 * Runtime: after each committed batch the streams it touched are noted (head seq + 8 bytes of
 * the chain hash; the encoded catalog record of new streams); a background write persists them
 * with lastLsn, the entry count and the damage ledger, one write in flight, at most every
 * SEAL_INTERVAL_MS. Past CHECKPOINT_STREAMS touched streams a checkpoint flushes LevelDB's
 * memtable (everything before it is then in crc-checked table files) and forgets what it
 * covered. close() flushes and writes the exact final seal.
 */
import { utf8 } from './bytes.js';
import type { DamageRegistry } from './damage.js';
import type { Db, DbHolder } from './db.js';
import type { Emitter } from './emitter.js';
import { entryKey } from './keys.js';
import { frame, verifyEntry } from './records.js';
import { CHECKPOINT_STREAMS, FLAG_CLEAN, readSeal, SEAL_INTERVAL_MS, type Seal, type Touched, writeSeal } from './seal.js';
import type { StreamTable } from './table.js';
import type { LogCodec, LogEvents } from './types.js';
import type { CommittedStream } from './writer.js';
import { fromUtf8 } from './bytes.js';
import { unframe } from './records.js';
import { isValidStreamName } from './validate.js';

const EMPTY_HEADER = new Uint8Array(0);
/** an empty key range past every record: compactRange over it only flushes the memtable */
const FLUSH_FROM = Uint8Array.of(0xff, 0xff, 0xff, 0xfe);
const FLUSH_TO = Uint8Array.of(0xff, 0xff, 0xff, 0xff);

export interface SealerDeps {
  dir: string;
  holder: DbHolder;
  table: StreamTable;
  damage: DamageRegistry;
  codec: LogCodec;
  emitter: Emitter<LogEvents>;
  clock: () => number;
}

/** Flushes LevelDB's memtable into a table file (a no-op when the handle has no compactRange). */
export async function flushMemtable(db: Db): Promise<boolean> {
  const compact = (db as unknown as { compactRange?: (a: Uint8Array, b: Uint8Array) => Promise<void> }).compactRange;
  if (typeof compact !== 'function') return false;
  await compact.call(db, FLUSH_FROM, FLUSH_TO);
  return true;
}

export class Sealer {
  readonly #d: SealerDeps;
  readonly #touched = new Map<number, Touched>();
  #counter: number;
  #dirty = false;
  #writing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #lastWrite = 0;
  #checkpointing = false;
  #ledgerVersion = -1;
  #closed = false;

  constructor(deps: SealerDeps, counter: number) {
    this.#d = deps;
    this.#counter = counter;
  }

  /** Called by the writer after every committed batch. */
  committed(streams: readonly CommittedStream[]): void {
    if (this.#closed) return;
    for (const c of streams) {
      const n = c.hashes.length;
      if (n === 0) continue;
      const prev = this.#touched.get(c.no);
      const seq = c.firstSeq + n - 1;
      const hash8 = (c.hashes[n - 1] as Uint8Array).slice(0, 8);
      let catalog = prev?.catalog;
      if (c.firstSeq === 1 && catalog === undefined) catalog = frame(EMPTY_HEADER, this.#d.codec.encode({ kind: 'catalog', stream: c.no, seq: 0 }, utf8(c.name)));
      this.#touched.set(c.no, { seq, hash8, catalog });
    }
    this.#dirty = true;
    this.#schedule();
  }

  /** The damage ledger changed: persist it soon. */
  damageChanged(): void {
    if (this.#closed) return;
    this.#dirty = true;
    this.#schedule();
  }

  #schedule(): void {
    if (this.#writing !== undefined || this.#timer !== undefined || this.#closed) return;
    const wait = Math.max(0, this.#lastWrite + SEAL_INTERVAL_MS - performance.now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#writing = this.#background().finally(() => {
        this.#writing = undefined;
        if (this.#dirty) this.#schedule();
      });
    }, wait);
    this.#timer.unref?.();
  }

  async #background(): Promise<void> {
    if (!this.#dirty || this.#closed) return;
    this.#dirty = false;
    try {
      if (this.#touched.size > CHECKPOINT_STREAMS && !this.#checkpointing) await this.#checkpoint();
      await this.#write(false);
    } catch (err) {
      this.#dirty = true;
      this.#d.emitter.emit('seal-failed', { message: String((err as Error)?.message ?? err) });
    }
  }

  /** Flushes the memtable; forgets the touched streams the flush covered. */
  async #checkpoint(): Promise<void> {
    this.#checkpointing = true;
    try {
      const before = new Map(this.#touched);
      if (!(await flushMemtable(await this.#d.holder.current()))) return;
      for (const [no, t] of before) if (this.#touched.get(no) === t) this.#touched.delete(no);
    } finally {
      this.#checkpointing = false;
    }
  }

  #snapshot(clean: boolean): Seal {
    const { table, damage } = this.#d;
    this.#ledgerVersion = damage.version;
    return {
      counter: ++this.#counter,
      lastLsn: table.lastLsn,
      entries: table.totalEntries(),
      flags: clean ? FLAG_CLEAN : 0,
      touched: clean ? new Map() : new Map(this.#touched),
      damage: damage.all(),
    };
  }

  async #write(clean: boolean): Promise<void> {
    const start = performance.now();
    const s = this.#snapshot(clean);
    await writeSeal(this.#d.dir, s);
    this.#lastWrite = performance.now();
    this.#d.emitter.emit('sealed', { lastLsn: s.lastLsn, touched: s.touched.size, durationMillis: this.#lastWrite - start, clean });
  }

  /** Waits until everything committed so far is sealed (no write pending or in flight). */
  async drain(): Promise<void> {
    for (let i = 0; i < 100; i++) {
      if (this.#writing !== undefined) {
        await this.#writing.catch(() => undefined);
        continue;
      }
      if (this.#timer !== undefined) {
        clearTimeout(this.#timer);
        this.#timer = undefined;
      } else if (!this.#dirty) return;
      this.#writing = this.#background().finally(() => (this.#writing = undefined));
    }
  }

  /**
   * close(): flush the memtable, then the exact final seal (no touched streams: all in tables).
   * `beforeFlush` writes what must be in tables under this seal (the open index) and learns the
   * counter the final seal will carry; when it fails, the flush and the seal still happen.
   */
  async close(beforeFlush?: (db: Db, counter: number) => Promise<void>): Promise<void> {
    await this.drain();
    this.#closed = true;
    try {
      const db = await this.#d.holder.current();
      if (beforeFlush !== undefined) {
        // the counter the final seal below carries (#snapshot counts it up by one)
        await beforeFlush(db, this.#counter + 1).catch((err: unknown) => {
          this.#d.emitter.emit('seal-failed', { message: `open index not written: ${String((err as Error)?.message ?? err)}` });
        });
      }
      const flushed = await flushMemtable(db);
      if (flushed) this.#touched.clear();
      const s = this.#snapshot(flushed);
      await writeSeal(this.#d.dir, s);
    } catch (err) {
      this.#d.emitter.emit('seal-failed', { message: String((err as Error)?.message ?? err) });
    }
  }

  get ledgerDirty(): boolean {
    return this.#ledgerVersion !== this.#d.damage.version;
  }
}

export interface SealCheck {
  counter: number;
  /** the open found nothing to compare with (a new DB, or one written before seals existed) */
  first: boolean;
  /** a seal file exists but does not parse (damaged): nothing could be compared */
  unreadable: boolean;
}

/**
 * Compares the newest intact seal with what LevelDB holds after opening, and records every
 * difference in the damage registry: a stream whose head is behind its sealed head, or whose
 * sealed entry is missing or different (a lost or altered batch); the sealed damage ledger; a
 * node-level finding when the seal is unreadable or entries are missing that no stream explains.
 */
export async function checkSeal(deps: SealerDeps, db: Db): Promise<SealCheck> {
  const { dir, table, damage, codec, clock } = deps;
  const read = await readSeal(dir);
  const at = clock();
  // an unreadable seal is the caller's to report (it is written again at once, not damage that stays)
  const seal = read.seal;
  if (seal === undefined) return { counter: 0, first: !read.unreadable, unreadable: read.unreadable };
  // (a 'seal' finding of an older version concerned the open that made it)
  for (const d of seal.damage) if (d.kind !== 'seal') damage.mark({ ...d });
  const marked = new Set<number>();
  const mark = (no: number, seq: number, kind: 'rollback' | 'gap' | 'checksum', message: string): void => {
    marked.add(no);
    damage.mark({ no, kind, seq, at, message });
  };
  const getSync = (db as unknown as { getSync?: (k: Uint8Array) => Uint8Array | undefined }).getSync;
  for (const [no, t] of seal.touched) {
    if (table.nameOf(no) === undefined && t.catalog !== undefined) {
      // the stream's catalog record is lost with its batch: the seal still knows its name
      try {
        const name = fromUtf8(codec.decode({ kind: 'catalog', stream: no, seq: 0 }, unframe(t.catalog, 0, 'sealed catalog', {}).stored));
        if (isValidStreamName(name)) table.adoptName(no, name);
      } catch {
        // unreadable: the number is still marked below
      }
    }
    const head = table.head(no);
    if (head === undefined || head.seq < t.seq) {
      mark(no, t.seq, 'rollback', `the log holds ${head === undefined ? 'no entries' : `entries up to ${head.seq}`} of this stream, but entry ${t.seq} was committed (commit seal): the end of LevelDB's write-ahead log was lost`);
      continue;
    }
    let hash8: Uint8Array | undefined;
    if (head.seq === t.seq) hash8 = head.hash.subarray(0, 8);
    else {
      let v: Uint8Array | undefined;
      try {
        v = typeof getSync === 'function' ? getSync.call(db, entryKey(no, t.seq)) : await db.get(entryKey(no, t.seq));
      } catch {
        v = undefined;
      }
      if (v === undefined) {
        mark(no, t.seq, 'gap', `entry ${t.seq} was committed (commit seal) but is missing: a batch of LevelDB's write-ahead log was lost`);
        continue;
      }
      try {
        hash8 = verifyEntry(no, t.seq, v).hash.subarray(0, 8);
      } catch {
        mark(no, t.seq, 'checksum', `entry ${t.seq} does not match its hash`);
        continue;
      }
    }
    if (!hash8.every((b, i) => b === t.hash8[i])) mark(no, t.seq, 'rollback', `entry ${t.seq} differs from the committed one (commit seal)`);
  }
  const lastLsn = table.lastLsn;
  const offset = lastLsn - table.totalEntries();
  const sealedOffset = seal.lastLsn - seal.entries;
  // node-level only when no damaged stream explains the loss (a salvaged table's streams do)
  if (lastLsn < seal.lastLsn && marked.size === 0 && damage.size === 0) {
    damage.mark({ no: 0, kind: 'rollback', seq: 0, at, message: `the log ends at lsn ${lastLsn}, but lsn ${seal.lastLsn} was committed (commit seal): acknowledged writes were lost` });
  } else if (offset !== sealedOffset && marked.size === 0 && table.broken.size === 0 && damage.size === 0) {
    damage.mark({ no: 0, kind: 'gap', seq: 0, at, message: `${Math.abs(offset - sealedOffset)} committed entries are missing from the log and cannot be attributed to a stream` });
  }
  return { counter: seal.counter, first: false, unreadable: false };
}
