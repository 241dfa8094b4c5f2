/**
 * The backup file format (docs/storage-format.md, "Backup file"): a magic, a version, then
 * length-prefixed records each followed by a crc32, ending with a trailer that holds the counts
 * and the sha-256 of every byte before it. Streamable both ways.
 *
 *   file    = magic "PSLOGBAK" | u16 version(1) | record* | trailer record
 *   record  = u8 type | u32 length | payload[length] | u32 crc32(type | length | payload)
 */
import { createHash, type Hash } from 'node:crypto';
import { crc32, fromUtf8, readU32, readU64, utf8, writeU32, writeU64 } from './bytes.js';
import { logError } from './errors.js';

export const BACKUP_MAGIC = utf8('PSLOGBAK');
export const BACKUP_VERSION = 1;
export const PREAMBLE_BYTES = 10;
export const MAX_RECORD_BYTES = 256 * 1024 * 1024;

export const R_HEADER = 1;
export const R_SECTION = 2;
export const R_AUX = 3;
export const R_CATALOG = 4;
export const R_ENTRY = 5;
export const R_TRAILER = 0x7f;

export interface BackupHeader {
  logFormat: number;
  createdAt: number;
  lastLsn: number;
  streams: number;
  entries: number;
  sections: number;
  codecId: string;
}

export interface BackupCounts {
  streams: number;
  entries: number;
  aux: number;
  sections: number;
}

export function preamble(): Uint8Array {
  const b = new Uint8Array(PREAMBLE_BYTES);
  b.set(BACKUP_MAGIC, 0);
  b[8] = BACKUP_VERSION >>> 8;
  b[9] = BACKUP_VERSION & 0xff;
  return b;
}

/** One framed record: type, length, payload parts, crc32. */
export function record(type: number, ...parts: Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.byteLength;
  const out = new Uint8Array(5 + len + 4);
  out[0] = type;
  writeU32(out, 1, len);
  let o = 5;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  writeU32(out, o, crc32(out.subarray(0, o)));
  return out;
}

export function headerPayload(h: BackupHeader): Uint8Array {
  const id = utf8(h.codecId);
  const b = new Uint8Array(4 + 8 + 8 + 4 + 8 + 4 + 2 + id.byteLength);
  writeU32(b, 0, h.logFormat);
  writeU64(b, 4, h.createdAt);
  writeU64(b, 12, h.lastLsn);
  writeU32(b, 20, h.streams);
  writeU64(b, 24, h.entries);
  writeU32(b, 32, h.sections);
  b[36] = id.byteLength >>> 8;
  b[37] = id.byteLength & 0xff;
  b.set(id, 38);
  return b;
}

export function parseHeader(p: Uint8Array): BackupHeader {
  if (p.byteLength < 38) throw new RangeError('short header');
  const idLen = ((p[36] as number) << 8) | (p[37] as number);
  if (p.byteLength !== 38 + idLen) throw new RangeError('header length mismatch');
  return {
    logFormat: readU32(p, 0), createdAt: readU64(p, 4), lastLsn: readU64(p, 12), streams: readU32(p, 20),
    entries: readU64(p, 24), sections: readU32(p, 32), codecId: fromUtf8(p.subarray(38)),
  };
}

/** u16 length-prefixed name, then the rest (sections and aux records). */
export function namedPayload(name: Uint8Array, rest: Uint8Array): Uint8Array[] {
  const len = new Uint8Array(2);
  len[0] = name.byteLength >>> 8;
  len[1] = name.byteLength & 0xff;
  return [len, name, rest];
}

export function parseNamed(p: Uint8Array): { name: Uint8Array; rest: Uint8Array } {
  if (p.byteLength < 2) throw new RangeError('short record');
  const n = ((p[0] as number) << 8) | (p[1] as number);
  if (p.byteLength < 2 + n) throw new RangeError('name beyond record');
  return { name: p.subarray(2, 2 + n), rest: p.subarray(2 + n) };
}

export function countsPayload(c: BackupCounts, digest: Uint8Array): Uint8Array {
  const b = new Uint8Array(20 + 32);
  writeU32(b, 0, c.streams);
  writeU64(b, 4, c.entries);
  writeU32(b, 12, c.aux);
  writeU32(b, 16, c.sections);
  b.set(digest, 20);
  return b;
}

export function parseCounts(p: Uint8Array): { counts: BackupCounts; digest: Uint8Array } {
  if (p.byteLength !== 52) throw new RangeError('trailer length mismatch');
  return {
    counts: { streams: readU32(p, 0), entries: readU64(p, 4), aux: readU32(p, 12), sections: readU32(p, 16) },
    digest: p.subarray(20),
  };
}

export function corrupt(message: string, cause?: unknown): Error {
  return logError('LOG_BACKUP_CORRUPT', `backup is corrupt: ${message}`, cause === undefined ? {} : { cause });
}

/**
 * Streaming reader: yields records (type + payload views) from chunks, checks every crc, and
 * keeps a running sha-256 of every byte before the trailer. Throws LOG_BACKUP_CORRUPT.
 */
export class RecordReader {
  readonly #hash: Hash = createHash('sha256');
  #buf: Uint8Array = new Uint8Array(0);
  #pos = 0;
  /** chunks received but not yet joined to #buf: joined once they complete what #drain needs */
  #chunks: Uint8Array[] = [];
  #pending = 0;
  /** bytes #buf must hold from #pos for #drain to make progress (the next record, whole) */
  #need = PREAMBLE_BYTES;
  #copied = 0;
  #preamble = false;
  #sawTrailer = false;

  /**
   * Bytes copied while joining chunks. Each input byte is copied a bounded number of times
   * (at most three times), whatever the chunking and the record sizes: a record of hundreds of MiB
   * read in 64 KiB chunks costs linear time, not one copy of the growing buffer per chunk.
   */
  get copiedBytes(): number {
    return this.#copied;
  }

  /** sha-256 of the bytes consumed before the trailer record. */
  digest(): Uint8Array {
    return new Uint8Array(this.#hash.copy().digest());
  }

  /** Records in batches (one batch per input chunk: no per-record await). */
  async *batches(input: AsyncIterable<Uint8Array>): AsyncGenerator<{ type: number; payload: Uint8Array }[]> {
    try {
      for await (const chunk of input) {
        if (!(chunk instanceof Uint8Array)) throw corrupt('input yields non-binary chunks');
        this.#append(chunk);
        const batch = this.#drain();
        if (batch.length > 0) yield batch;
      }
    } catch (err) {
      if ((err as { code?: string }).code === 'LOG_BACKUP_CORRUPT') throw err;
      throw corrupt(`cannot read the input: ${String((err as Error)?.message ?? err)}`, err);
    }
    if (!this.#preamble) throw corrupt('missing magic');
    if (!this.#sawTrailer) throw corrupt('truncated (no trailer)');
    if (this.#pos !== this.#buf.byteLength || this.#pending > 0) throw corrupt('bytes after the trailer');
  }

  /** Holds chunks until they complete the next record; then joins them once (linear, not quadratic). */
  #append(chunk: Uint8Array): void {
    const rest = this.#buf.byteLength - this.#pos;
    if (rest === 0 && this.#pending === 0) {
      this.#buf = chunk;
      this.#pos = 0;
      return;
    }
    this.#chunks.push(chunk);
    this.#pending += chunk.byteLength;
    if (rest + this.#pending < this.#need) return;
    const b = new Uint8Array(rest + this.#pending);
    b.set(this.#buf.subarray(this.#pos), 0);
    let o = rest;
    for (const c of this.#chunks) {
      b.set(c, o);
      o += c.byteLength;
    }
    this.#copied += b.byteLength;
    this.#chunks = [];
    this.#pending = 0;
    this.#buf = b;
    this.#pos = 0;
  }

  /** Parses the complete records in the buffer; the digest is fed once per pass, not per record. */
  #drain(): { type: number; payload: Uint8Array }[] {
    const out: { type: number; payload: Uint8Array }[] = [];
    const b = this.#buf;
    if (this.#pending > 0) return out; // #append joins the chunks once they complete #need
    if (!this.#preamble) {
      if (b.byteLength - this.#pos < PREAMBLE_BYTES) return out;
      for (let i = 0; i < 8; i++) if (b[this.#pos + i] !== BACKUP_MAGIC[i]) throw corrupt('not a profilesync backup (bad magic)');
      const version = ((b[this.#pos + 8] as number) << 8) | (b[this.#pos + 9] as number);
      if (version !== BACKUP_VERSION) throw corrupt(`unsupported backup version ${version}`);
      this.#hash.update(b.subarray(this.#pos, this.#pos + PREAMBLE_BYTES));
      this.#pos += PREAMBLE_BYTES;
      this.#preamble = true;
    }
    const hashFrom = this.#pos;
    let hashTo = this.#sawTrailer ? hashFrom : -1;
    for (;;) {
      const avail = b.byteLength - this.#pos;
      if (avail < 5) {
        this.#need = 5;
        break;
      }
      const len = readU32(b, this.#pos + 1);
      if (len > MAX_RECORD_BYTES) throw corrupt(`record of ${len} bytes`);
      if (avail < 9 + len) {
        this.#need = 9 + len;
        break;
      }
      if (this.#sawTrailer) throw corrupt('records after the trailer');
      const start = this.#pos;
      const end = start + 5 + len;
      if (readU32(b, end) !== crc32(b.subarray(start, end))) throw corrupt(`record crc mismatch at record type ${b[start]}`);
      const type = b[start] as number;
      if (type === R_TRAILER) {
        this.#sawTrailer = true;
        hashTo = start; // the digest covers everything before the trailer record
      }
      this.#pos = end + 4;
      out.push({ type, payload: b.subarray(start + 5, end) });
    }
    if (hashTo < 0) hashTo = this.#pos;
    if (hashTo > hashFrom) this.#hash.update(b.subarray(hashFrom, hashTo));
    return out;
  }
}
