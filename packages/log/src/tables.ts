/**
 * Table-file check, run before LevelDB opens a dir. LevelDB (as bundled by classic-level, built
 * with assertions) reads table blocks without verifying their crc32c and ABORTS the process on
 * some malformed keys (e.g. an internal key shorter than 8 bytes). So before opening, CURRENT and
 * the MANIFEST are checked (see DirCheck.manifest: when they cannot be trusted the caller rebuilds
 * the MANIFEST, manifest.ts), and every live table file (from CURRENT -> MANIFEST) is read and
 * every block's crc32c checked. Any damage (a data block, index, filter, meta index, footer, a
 * size that differs from the MANIFEST, a missing file) is "unsafe": LevelDB must not read that
 * table as it is, and openLog salvages it (salvage.ts). A data block whose entries still parse is
 * no exception: its keys cannot be trusted either.
 * Formats: leveldb-1.20 table/format.cc, table/block.cc, db/log_format.h, db/version_edit.cc.
 */
import { closeSync, fstatSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';

export interface TableDamage {
  file: string;
  offset: number;
  block: 'data' | 'index' | 'metaindex' | 'filter' | 'footer' | 'file';
  safe: boolean;
  message: string;
}

/** Slicing-by-8 tables of CRC-32C (Castagnoli, reflected polynomial 0x82f63b78). */
const CRC_TABLES = (() => {
  const t = Array.from({ length: 8 }, () => new Int32Array(256));
  const t0 = t[0] as Int32Array;
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t0[i] = c;
  }
  for (let k = 1; k < 8; k++) {
    const prev = t[k - 1] as Int32Array;
    const cur = t[k] as Int32Array;
    for (let i = 0; i < 256; i++) cur[i] = (prev[i] as number) >>> 8 ^ (t0[(prev[i] as number) & 0xff] as number);
  }
  return t;
})();
const [T0, T1, T2, T3, T4, T5, T6, T7] = CRC_TABLES as [Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array];

/** CRC-32C (Castagnoli), as LevelDB uses for blocks and log records. */
export function crc32c(b: Uint8Array, start = 0, end = b.byteLength): number {
  let c = -1;
  let i = start;
  for (; i + 8 <= end; i += 8) {
    c ^= (b[i] as number) | ((b[i + 1] as number) << 8) | ((b[i + 2] as number) << 16) | ((b[i + 3] as number) << 24);
    c = (T7[c & 0xff] as number) ^ (T6[(c >>> 8) & 0xff] as number) ^ (T5[(c >>> 16) & 0xff] as number) ^ (T4[c >>> 24] as number)
      ^ (T3[b[i + 4] as number] as number) ^ (T2[b[i + 5] as number] as number) ^ (T1[b[i + 6] as number] as number) ^ (T0[b[i + 7] as number] as number);
  }
  for (; i < end; i++) c = (T0[(c ^ (b[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

export function unmask(masked: number): number {
  const rot = (masked - 0xa282ead8) >>> 0;
  return ((rot >>> 17) | (rot << 15)) >>> 0;
}

const u32le = (b: Uint8Array, o: number): number =>
  ((b[o] as number) | ((b[o + 1] as number) << 8) | ((b[o + 2] as number) << 16) | ((b[o + 3] as number) << 24)) >>> 0;

/** Varint (LEB128) at c.o; throws when truncated. Up to 64 bits, as a Number. */
function varint(b: Uint8Array, c: { o: number }, limit = b.byteLength): number {
  let n = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (c.o >= limit) throw new RangeError('truncated varint');
    const byte = b[c.o++] as number;
    n += (byte & 0x7f) * mul;
    if (byte < 0x80) return n;
    mul *= 128;
  }
  throw new RangeError('varint too long');
}

/** Snappy raw decompression (for compressed index blocks); throws on malformed input. */
export function snappyDecompress(src: Uint8Array): Uint8Array {
  const c = { o: 0 };
  const len = varint(src, c);
  if (len > 64 * 1024 * 1024) throw new RangeError('snappy length too large');
  const out = new Uint8Array(len);
  let o = 0;
  while (c.o < src.byteLength) {
    const tag = src[c.o++] as number;
    const kind = tag & 3;
    if (kind === 0) {
      let n = tag >>> 2;
      if (n >= 60) {
        const bytes = n - 59;
        if (c.o + bytes > src.byteLength) throw new RangeError('truncated literal length');
        n = 0;
        for (let i = 0; i < bytes; i++) n |= (src[c.o + i] as number) << (8 * i);
        n >>>= 0;
        c.o += bytes;
      }
      n += 1;
      if (c.o + n > src.byteLength || o + n > len) throw new RangeError('literal out of bounds');
      out.set(src.subarray(c.o, c.o + n), o);
      c.o += n;
      o += n;
      continue;
    }
    let n: number;
    let off: number;
    if (kind === 1) {
      if (c.o >= src.byteLength) throw new RangeError('truncated copy');
      n = ((tag >>> 2) & 7) + 4;
      off = ((tag >>> 5) << 8) | (src[c.o++] as number);
    } else {
      const bytes = kind === 2 ? 2 : 4;
      if (c.o + bytes > src.byteLength) throw new RangeError('truncated copy');
      n = (tag >>> 2) + 1;
      off = 0;
      for (let i = 0; i < bytes; i++) off += (src[c.o + i] as number) * 2 ** (8 * i);
      c.o += bytes;
    }
    if (off === 0 || off > o || o + n > len) throw new RangeError('copy out of bounds');
    for (let i = 0; i < n; i++, o++) out[o] = out[o - off] as number;
  }
  if (o !== len) throw new RangeError('snappy length mismatch');
  return out;
}

export interface Handle {
  offset: number;
  size: number;
}

/**
 * Whether a block's crc32c matches, and its (decompressed) contents when asked for them or
 * when the crc fails (a damaged block is then examined).
 */
export function readBlock(file: Uint8Array, h: Handle, wantContents = true): { ok: boolean; contents: Uint8Array | undefined } {
  const end = h.offset + h.size;
  if (h.offset < 0 || end + 5 > file.byteLength) return { ok: false, contents: undefined };
  const ok = unmask(u32le(file, end + 1)) === crc32c(file, h.offset, end + 1);
  if (ok && !wantContents) return { ok, contents: undefined };
  const type = file[end] as number;
  const raw = file.subarray(h.offset, end);
  try {
    if (type === 0) return { ok, contents: raw };
    if (type === 1) return { ok, contents: snappyDecompress(raw) };
  } catch {
    // falls through: unreadable contents
  }
  return { ok: false, contents: undefined };
}

/**
 * Walks a block the way LevelDB's Block::Iter does from each restart point, and calls `onEntry`
 * for each entry. Returns false when some key LevelDB would compare is shorter than `minKey`
 * bytes (LevelDB asserts on those); decode errors stop a walk (LevelDB reports Corruption).
 */
export function walkBlock(b: Uint8Array, minKey: number, onEntry?: (key: Uint8Array, value: Uint8Array) => void, fromEveryRestart = true): boolean {
  if (b.byteLength < 4) return true; // LevelDB: error iterator
  const num = u32le(b, b.byteLength - 4);
  if (num > (b.byteLength - 4) / 4) return true; // LevelDB: error iterator
  if (num === 0) return true; // LevelDB: empty iterator
  const limit = b.byteLength - (1 + num) * 4;
  // a damaged block is walked from every restart point (a seek lands on any of them: O(n^2),
  // fine for the rare damaged 4 KiB block); an intact one once, in order
  const starts = new Set<number>();
  for (let i = 0; i < (fromEveryRestart ? num : 1); i++) starts.add(u32le(b, limit + i * 4));
  let first = true;
  for (const start of starts) {
    const c = { o: start };
    let key = new Uint8Array(0);
    while (c.o < limit) {
      let shared: number;
      let nonShared: number;
      let valueLen: number;
      try {
        shared = varint(b, c, limit);
        nonShared = varint(b, c, limit);
        valueLen = varint(b, c, limit);
      } catch {
        break;
      }
      if (limit - c.o < nonShared + valueLen || shared > key.byteLength) break;
      const next = new Uint8Array(shared + nonShared);
      next.set(key.subarray(0, shared), 0);
      next.set(b.subarray(c.o, c.o + nonShared), shared);
      if (next.byteLength < minKey) return false;
      key = next;
      c.o += nonShared;
      if (first) onEntry?.(key, b.subarray(c.o, c.o + valueLen));
      c.o += valueLen;
    }
    first = false; // entries are reported once, from the first restart's sequential walk
  }
  return true;
}

export function decodeHandle(v: Uint8Array): Handle {
  const c = { o: 0 };
  return { offset: varint(v, c), size: varint(v, c) };
}

/** Checks one table file; returns its damage (empty when intact). */
export function checkTable(name: string, file: Uint8Array, expectedSize?: number): TableDamage[] {
  const out: TableDamage[] = [];
  const bad = (offset: number, block: TableDamage['block'], safe: boolean, message: string) =>
    out.push({ file: name, offset, block, safe, message: `table ${name}: ${message}` });
  if (expectedSize !== undefined && file.byteLength !== expectedSize) {
    bad(0, 'file', false, `size ${file.byteLength}, the manifest says ${expectedSize}`);
    return out;
  }
  if (file.byteLength < 48) {
    bad(0, 'footer', false, 'shorter than a footer');
    return out;
  }
  const foot = file.byteLength - 48;
  const magic = [0x57, 0xfb, 0x80, 0x8b, 0x24, 0x75, 0x47, 0xdb];
  if (magic.some((m, i) => file[foot + 40 + i] !== m)) {
    bad(foot, 'footer', false, 'bad magic number');
    return out;
  }
  let meta: Handle;
  let index: Handle;
  try {
    const c = { o: foot };
    meta = { offset: varint(file, c, foot + 40), size: varint(file, c, foot + 40) };
    index = { offset: varint(file, c, foot + 40), size: varint(file, c, foot + 40) };
  } catch {
    bad(foot, 'footer', false, 'unreadable block handles');
    return out;
  }
  const idx = readBlock(file, index);
  if (!idx.ok || idx.contents === undefined) {
    bad(index.offset, 'index', false, `index block at ${index.offset} fails its crc32c`);
    return out;
  }
  const dataBlocks: Handle[] = [];
  walkBlock(idx.contents, 8, (_k, v) => {
    try {
      dataBlocks.push(decodeHandle(v));
    } catch {
      bad(index.offset, 'index', false, 'unreadable data block handle');
    }
  }, false);
  for (const h of dataBlocks) {
    if (readBlock(file, h, false).ok) continue;
    // never "safe", even when its entries parse: an altered key (a sequence number or type byte
    // in its last 8 bytes) would resurrect an older value of the key or hide the record, which no
    // record-level check can see. The block is dropped by salvage and what it held is damaged.
    bad(h.offset, 'data', false, `data block at ${h.offset} fails its crc32c`);
  }
  const mi = readBlock(file, meta);
  if (!mi.ok || mi.contents === undefined) {
    bad(meta.offset, 'metaindex', false, `meta index block at ${meta.offset} fails its crc32c`);
    return out;
  }
  walkBlock(mi.contents, 0, (k, v) => {
    if (!Buffer.from(k).toString('latin1').startsWith('filter.')) return;
    let h: Handle;
    try {
      h = decodeHandle(v);
    } catch {
      bad(meta.offset, 'metaindex', false, 'unreadable filter handle');
      return;
    }
    if (!readBlock(file, h, false).ok) bad(h.offset, 'filter', false, `filter block at ${h.offset} fails its crc32c`);
  }, false);
  return out;
}

/**
 * Records of a LevelDB log-format file (the MANIFEST). Stops at the first damaged record and says
 * why: a record whose crc fails, one that runs past its block or the file (a cut tail), an
 * unknown record type, or a fragmented record left open at the end. LevelDB itself takes a cut
 * tail for the end of the file and opens with the version edits before it.
 */
function logRecords(b: Uint8Array): { records: Uint8Array[]; problem: string | undefined } {
  const out: Uint8Array[] = [];
  let pending: Uint8Array[] | undefined;
  for (let block = 0; block < b.byteLength; block += 32768) {
    const end = Math.min(block + 32768, b.byteLength);
    let o = block;
    while (end - o >= 7) {
      const len = (b[o + 4] as number) | ((b[o + 5] as number) << 8);
      const type = b[o + 6] as number;
      if (type === 0 && len === 0 && end === block + 32768) break; // zero padding at a block's end
      if (o + 7 + len > end) return { records: out, problem: `a record at ${o} runs past the end of its block or the file (cut)` };
      if (unmask(u32le(b, o)) !== crc32c(b, o + 6, o + 7 + len)) return { records: out, problem: `the record at ${o} fails its crc32c` };
      const payload = b.subarray(o + 7, o + 7 + len);
      if (type === 1 && pending === undefined) out.push(payload);
      else if (type === 2 && pending === undefined) pending = [payload];
      else if (type === 3 && pending !== undefined) pending.push(payload);
      else if (type === 4 && pending !== undefined) {
        pending.push(payload);
        out.push(Buffer.concat(pending));
        pending = undefined;
      } else return { records: out, problem: `the record at ${o} has type ${type} out of place` };
      o += 7 + len;
    }
    if (end === b.byteLength && end - o > 0) return { records: out, problem: `${end - o} bytes of a cut record header at ${o}` };
  }
  if (pending !== undefined) return { records: out, problem: 'a fragmented record is cut at the end of the file' };
  return { records: out, problem: undefined };
}

/** Live table files (number -> size) from the MANIFEST's version edits, and why it is not whole (if it is not). */
export function parseManifest(manifest: Uint8Array): { live: Map<number, number>; problem: string | undefined } {
  const live = new Map<number, number>();
  const key = (level: number, n: number) => level * 2 ** 40 + n;
  const files = new Map<number, { n: number; size: number }>();
  const read = logRecords(manifest);
  let problem = read.problem;
  if (read.records.length === 0 && problem === undefined) problem = 'it holds no version edit';
  try {
    for (const rec of read.records) {
      const c = { o: 0 };
      const skipSlice = (): void => {
        const n = varint(rec, c);
        c.o += n;
        if (c.o > rec.byteLength) throw new RangeError('slice beyond record');
      };
      while (c.o < rec.byteLength) {
        const tag = varint(rec, c);
        if (tag === 1) skipSlice();
        else if (tag === 2 || tag === 3 || tag === 4 || tag === 9) varint(rec, c);
        else if (tag === 5) {
          varint(rec, c);
          skipSlice();
        } else if (tag === 6) {
          const level = varint(rec, c);
          files.delete(key(level, varint(rec, c)));
        } else if (tag === 7) {
          const level = varint(rec, c);
          const n = varint(rec, c);
          const size = varint(rec, c);
          skipSlice();
          skipSlice();
          files.set(key(level, n), { n, size });
        } else throw new RangeError(`unknown version edit tag ${tag}`);
      }
    }
  } catch (err) {
    problem ??= `a version edit does not decode (${(err as Error).message})`;
  }
  for (const f of files.values()) live.set(f.n, f.size);
  return { live, problem };
}

/** Live table files (number -> size) from the MANIFEST's version edits; throws when it is not whole. */
export function liveTables(manifest: Uint8Array): Map<number, number> {
  const { live, problem } = parseManifest(manifest);
  if (problem !== undefined) throw new RangeError(problem);
  return live;
}

/** A table file that LevelDB could use as it is: footer magic and an index block whose crc32c holds. */
export function isCompleteTable(file: Uint8Array): boolean {
  if (file.byteLength < 48) return false;
  const foot = file.byteLength - 48;
  if ([0x57, 0xfb, 0x80, 0x8b, 0x24, 0x75, 0x47, 0xdb].some((m, i) => file[foot + 40 + i] !== m)) return false;
  try {
    const c = { o: foot };
    varint(file, c, foot + 40);
    varint(file, c, foot + 40);
    const index = { offset: varint(file, c, foot + 40), size: varint(file, c, foot + 40) };
    return readBlock(file, index, false).ok;
  } catch {
    return false;
  }
}

/**
 * Checks every live table file of a closed LevelDB dir. Returns [] for a dir without a DB;
 * when CURRENT or the MANIFEST cannot be read it returns [] too (LevelDB itself reports a
 * damaged MANIFEST as Corruption when it opens).
 */
export async function checkTables(dir: string): Promise<TableDamage[]> {
  return (await checkTablesWithSizes(dir)).damage;
}

export interface DirCheck {
  damage: TableDamage[];
  /** the live tables' MANIFEST sizes (salvage keeps a file at that size) */
  sizes: Map<string, number>;
  /**
   * Why LevelDB's own metadata (CURRENT, the MANIFEST) cannot be trusted, when it cannot: CURRENT
   * missing beside LevelDB files (LevelDB would create a new, empty DB and delete every table),
   * malformed, or naming a missing MANIFEST; a MANIFEST record that fails its crc, is cut, or does
   * not decode; or a complete table file that the MANIFEST does not list (its version edit is
   * lost: LevelDB would delete the file with its data). The table check is skipped then.
   */
  manifest: string | undefined;
}

const TABLE_FILE = /^(\d+)\.(ldb|sst)$/;

/**
 * Reads a whole file into `scratch` (grown when too small) and returns a view of its bytes.
 * The check reads every table at each open: one reused buffer and synchronous reads (no thread
 * pool round trip per 512 KiB chunk, no new multi-megabyte buffer per table for the GC to
 * collect) keep that cost to the copy from the page cache and the crc32c.
 */
function readInto(path: string, scratch: { buf: Uint8Array }): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (scratch.buf.byteLength < size) scratch.buf = new Uint8Array(Math.max(size, scratch.buf.byteLength * 2));
    let n = 0;
    while (n < size) {
      const got = readSync(fd, scratch.buf, n, size - n, n);
      if (got === 0) break; // cut while we read: the view is shorter, as the file now is
      n += got;
    }
    return scratch.buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/** The MANIFEST a CURRENT file's text names (`MANIFEST-000123` and a newline), or undefined. */
export function manifestNamedBy(current: string): string | undefined {
  return /^(MANIFEST-\d+)\n$/.exec(current)?.[1];
}

/** Checks CURRENT, the MANIFEST and every live table file of a closed LevelDB dir (see DirCheck). */
export async function checkTablesWithSizes(dir: string): Promise<DirCheck> {
  const sizes = new Map<string, number>();
  const none = (manifest?: string): DirCheck => ({ damage: [], sizes, manifest });
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return none(); // no dir yet: a new log
  }
  const leveldbFiles = names.filter((f) => TABLE_FILE.test(f) || /^MANIFEST-\d+$/.test(f));
  let current: string;
  try {
    current = readFileSync(join(dir, 'CURRENT'), 'latin1');
  } catch {
    // a new DB has none; LevelDB files without one would be taken for an empty dir
    return none(leveldbFiles.length > 0 ? `CURRENT is missing beside ${leveldbFiles.length} LevelDB file(s)` : undefined);
  }
  const named = manifestNamedBy(current);
  if (named === undefined) return none(`CURRENT does not name a MANIFEST (${JSON.stringify(current.slice(0, 40))})`);
  let manifest: Uint8Array;
  try {
    manifest = readFileSync(join(dir, named));
  } catch {
    return none(`CURRENT names ${named}, which is missing`);
  }
  const parsed = parseManifest(manifest);
  if (parsed.problem !== undefined) return none(`${named} is damaged: ${parsed.problem}`);
  const live = parsed.live;
  // a complete table the MANIFEST does not list: its version edit is lost (or a crash came between
  // a compaction's output and its edit); either way LevelDB would delete it at open
  for (const f of names) {
    const t = TABLE_FILE.exec(f);
    if (t === null || live.has(Number(t[1]))) continue;
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(join(dir, f));
    } catch {
      continue;
    }
    if (isCompleteTable(bytes)) return none(`${named} does not list the complete table ${f}`);
  }
  const damage: TableDamage[] = [];
  const scratch = { buf: new Uint8Array(0) };
  for (const [n, size] of live) {
    const base = String(n).padStart(6, '0');
    let name = `${base}.ldb`;
    sizes.set(name, size);
    let file: Uint8Array;
    try {
      file = readInto(join(dir, name), scratch);
    } catch {
      try {
        name = `${base}.sst`;
        file = readInto(join(dir, name), scratch);
        sizes.set(name, size);
      } catch {
        damage.push({ file: `${base}.ldb`, offset: 0, block: 'file', safe: false, message: `table ${base}.ldb is missing` });
        continue;
      }
    }
    damage.push(...checkTable(name, file, size));
  }
  return { damage, sizes, manifest: undefined };
}
