/**
 * backupLog(): streams a consistent copy of the log (catalog, entries as stored, aux records,
 * extra named sections) into a writable, in the format of backup-format.ts. Entries are copied
 * verbatim (an encrypted log's backup stays encrypted), but each is verified first: a backup
 * never carries a broken chain.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { equalBytes, utf8, writeU32, writeU64 } from './bytes.js';
import {
  countsPayload, headerPayload, namedPayload, preamble, record, R_AUX, R_CATALOG, R_ENTRY, R_HEADER, R_SECTION, R_TRAILER,
} from './backup-format.js';
import { invalid, logError, readFailure } from './errors.js';
import { P_AUX, P_CATALOG, P_ENTRY, parseSeqKey, prefixRange, seqRange, streamKey } from './keys.js';
import { verifyEntry } from './records.js';
import type { BackupOptions, BackupReport, EventLog } from './types.js';
import type { Db } from './db.js';

/** What backupLog needs from an open log (the Log class provides it). */
export interface BackupSource {
  readonly formatVersion: number;
  /** a consistent view: the db, its snapshot option, and the heads at that instant */
  backupView(): Promise<{
    db: Db;
    options: Record<string, unknown>;
    codecId: string;
    createdAt: number;
    streams: { no: number; name: string; seq: number; hash: Uint8Array; lsn: number }[];
    release(): Promise<void>;
  }>;
}

const CHUNK = 1 << 20;

class Sink {
  readonly #out: Writable;
  /** the first 'error' the output emitted (a missing dir, EACCES, a full disk): every later push fails with it */
  #failure: unknown;
  readonly #onError = (err: unknown): void => {
    this.#failure ??= err;
  };
  readonly #hash = createHash('sha256');
  #parts: Uint8Array[] = [];
  #size = 0;
  bytes = 0;

  constructor(out: Writable) {
    this.#out = out;
    out.on('error', this.#onError);
  }

  /** Throws LOG_BACKUP_WRITE_FAILED when the output failed. */
  check(): void {
    if (this.#failure === undefined) return;
    const err = this.#failure as NodeJS.ErrnoException;
    const why = err?.message ?? String(err);
    // Node's fs messages start with the errno already ("ENOSPC: no space left on device, write")
    const text = typeof err?.code === 'string' && !why.startsWith(err.code) ? `${err.code} ${why}` : why;
    throw logError('LOG_BACKUP_WRITE_FAILED', `the backup could not be written: ${text}`, {
      cause: err, details: { errno: err?.code },
    });
  }

  detach(): void {
    this.#out.off('error', this.#onError);
  }

  /** Waits for `event` or the first error, whichever comes first. */
  async wait(event: 'drain' | 'finish'): Promise<void> {
    this.check();
    try {
      await once(this.#out, event);
    } catch (err) {
      this.#onError(err);
    }
    this.check();
  }

  async push(b: Uint8Array, hashed = true): Promise<void> {
    this.check();
    if (hashed) this.#hash.update(b);
    this.#parts.push(b);
    this.#size += b.byteLength;
    this.bytes += b.byteLength;
    if (this.#size >= CHUNK) await this.flush();
  }

  digest(): Uint8Array {
    return new Uint8Array(this.#hash.digest());
  }

  async flush(): Promise<void> {
    if (this.#size === 0) return;
    const chunk = Buffer.concat(this.#parts, this.#size);
    this.#parts = [];
    this.#size = 0;
    this.check();
    if (!this.#out.write(chunk)) await this.wait('drain');
    this.check();
  }
}

function isWritable(o: unknown): o is Writable {
  return typeof o === 'object' && o !== null && typeof (o as Writable).write === 'function' && typeof (o as Writable).once === 'function';
}

/**
 * Writes a backup of `log` to `output` (ends it and waits for 'finish' unless `end: false`).
 * Throws LOG_CHECKSUM_MISMATCH / LOG_CORRUPT when the log itself is broken.
 */
export async function backupLog(log: EventLog, output: Writable, opts: BackupOptions & { end?: boolean } = {}): Promise<BackupReport> {
  const start = performance.now();
  if (!isWritable(output)) throw invalid('output must be a writable stream');
  const source = log as unknown as Partial<BackupSource>;
  if (typeof source.backupView !== 'function') throw invalid('log must come from openLog()');
  const sections = Object.entries(opts.sections ?? {});
  for (const [name, bytes] of sections) {
    const n = utf8(name).byteLength;
    if (n < 1 || n > 255 || !(bytes instanceof Uint8Array)) throw invalid(`section ${JSON.stringify(name)} needs a 1-255 byte name and Uint8Array bytes`);
  }
  const view = await source.backupView();
  const sink = new Sink(output);
  try {
    const { db, options } = view;
    const total = view.streams.reduce((n, s) => n + s.seq, 0);
    const lastLsn = view.streams.reduce((n, s) => Math.max(n, s.lsn), 0);
    await sink.push(preamble());
    await sink.push(record(R_HEADER, headerPayload({
      logFormat: log.formatVersion, createdAt: view.createdAt, lastLsn, streams: view.streams.length, entries: total,
      sections: sections.length, codecId: view.codecId,
    })));
    for (const [name, bytes] of sections) await sink.push(record(R_SECTION, ...namedPayload(utf8(name), bytes)));
    let aux = 0;
    for await (const [k, v] of db.iterator({ ...prefixRange(P_AUX), ...options })) {
      await sink.push(record(R_AUX, ...namedPayload(k.subarray(1), v)));
      aux++;
    }
    for (const s of view.streams) {
      const v = await db.get(streamKey(P_CATALOG, s.no), options);
      if (v === undefined) throw logError('LOG_CORRUPT', `stream ${s.name} has no catalog record`, { details: { stream: s.name } });
      const no = new Uint8Array(4);
      writeU32(no, 0, s.no);
      await sink.push(record(R_CATALOG, no, v));
    }
    let done = 0;
    const every = Math.max(1, Math.floor(total / 100));
    for (const s of view.streams) {
      let expect = 1;
      let prev: Uint8Array | undefined;
      const it = db.iterator({ ...seqRange(P_ENTRY, s.no, 1, s.seq), ...options });
      try {
        for (let items = await it.nextv(1024); items.length > 0; items = await it.nextv(1024)) {
          for (const [k, v] of items) {
            const key = parseSeqKey(k, P_ENTRY);
            if (key === undefined || key.seq !== expect) throw logError('LOG_CORRUPT', `entry ${s.name}/${expect} is missing`, { details: { stream: s.name, seq: expect } });
            const e = verifyEntry(s.no, key.seq, v);
            if (prev !== undefined && !equalBytes(e.prevHash, prev)) throw logError('LOG_CORRUPT', `entry ${s.name}/${key.seq} does not link`, { details: { stream: s.name, seq: key.seq } });
            prev = e.hash;
            const pos = new Uint8Array(12);
            writeU32(pos, 0, s.no);
            writeU64(pos, 4, key.seq);
            await sink.push(record(R_ENTRY, pos, v));
            expect++;
            if (++done % every === 0) opts.onProgress?.({ done, total });
          }
        }
      } catch (err) {
        throw readFailure(err, `entries of ${s.name}`, { stream: s.name });
      } finally {
        await it.close().catch(() => undefined);
      }
      if (expect !== s.seq + 1 || prev === undefined || !equalBytes(prev, s.hash)) {
        throw logError('LOG_CORRUPT', `stream ${s.name} ends at ${expect - 1}, its head says ${s.seq}`, { details: { stream: s.name } });
      }
    }
    const counts = { streams: view.streams.length, entries: done, aux, sections: sections.length };
    const digest = sink.digest();
    await sink.push(record(R_TRAILER, countsPayload(counts, digest)), false);
    await sink.flush();
    opts.onProgress?.({ done, total });
    if (opts.end !== false) {
      output.end();
      if (!output.writableFinished) await sink.wait('finish');
    }
    sink.check();
    return { ...counts, bytes: sink.bytes, sha256: Buffer.from(digest).toString('hex'), lastLsn, durationMillis: performance.now() - start };
  } finally {
    sink.detach();
    await view.release();
  }
}
