/**
 * Table salvage (issue 11.3): a table file that LevelDB cannot read safely (a damaged index,
 * filter, meta index or footer, a data block whose keys would make LevelDB abort, a truncated
 * file) is rewritten IN PLACE so that LevelDB only ever sees its intact data blocks: every data
 * block that passes its crc32c stays where it is, a new index lists only those, an empty meta
 * index (no filter: lookups read the blocks) and a new footer end the file, which keeps the size
 * the MANIFEST records. The original goes to `lost/` first. What the dropped blocks held is
 * returned as user-key ranges; the caller marks every stream with a record there as damaged
 * (the keys are gone: an older version of a head may show through, entries leave a gap).
 *
 * Data blocks are found through the original index when it is intact, else by walking the file
 * from offset 0 (a block ends where a crc32c over its bytes and type byte matches the masked crc
 * that follows): a single flipped byte breaks either the index or one block, and a truncation
 * keeps every block before the cut.
 */
import { copyFile, mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32c, decodeHandle, type Handle, readBlock, unmask, walkBlock } from './tables.js';

const MAX_BLOCK = 1 << 20;

export interface LostRange {
  /** exclusive lower bound (a user key), undefined: from the start */
  after: Uint8Array | undefined;
  /** exclusive upper bound, undefined: to the end */
  before: Uint8Array | undefined;
}

interface Good {
  handle: Handle;
  first: Uint8Array;
  last: Uint8Array;
}

const u32le = (b: Uint8Array, o: number): number =>
  ((b[o] as number) | ((b[o + 1] as number) << 8) | ((b[o + 2] as number) << 16) | ((b[o + 3] as number) << 24)) >>> 0;

function mask(c: number): number {
  return (((c >>> 15) | (c << 17)) + 0xa282ead8) >>> 0;
}

function putVarint(out: number[], n: number): void {
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
}

/** First and last internal key of a block's contents (undefined when it has none or does not parse safely). */
function keysOf(contents: Uint8Array): { first: Uint8Array; last: Uint8Array } | undefined {
  let first: Uint8Array | undefined;
  let last: Uint8Array | undefined;
  const safe = walkBlock(contents, 8, (k) => {
    first ??= k.slice();
    last = k;
  }, false);
  if (!safe || first === undefined || last === undefined) return undefined;
  return { first, last: (last as Uint8Array).slice() };
}

/** The block starting at `o`: its size, found by the crc that follows it (undefined when none within MAX_BLOCK). */
function findBlockEnd(file: Uint8Array, o: number): number | undefined {
  // incremental crc32c over file[o .. o+n): check crc(file[o..o+n] + type byte) against the stored one
  for (let n = 0; o + n + 5 <= file.byteLength && n <= MAX_BLOCK; n++) {
    const type = file[o + n] as number;
    if (type > 1) continue;
    const stored = unmask(u32le(file, o + n + 1));
    if (crc32c(file, o, o + n + 1) === stored) return n;
  }
  return undefined;
}

function blockWithTrailer(contents: Uint8Array): Uint8Array {
  const out = new Uint8Array(contents.byteLength + 5);
  out.set(contents, 0);
  out[contents.byteLength] = 0;
  const c = mask(crc32c(out, 0, contents.byteLength + 1));
  new DataView(out.buffer).setUint32(contents.byteLength + 1, c, true);
  return out;
}

/** An index block (restart interval 1) mapping each good block's last key to its handle. */
function indexBlock(good: Good[]): Uint8Array {
  const bytes: number[] = [];
  const restarts: number[] = [];
  for (const g of good) {
    restarts.push(bytes.length);
    const h: number[] = [];
    putVarint(h, g.handle.offset);
    putVarint(h, g.handle.size);
    putVarint(bytes, 0);
    putVarint(bytes, g.last.byteLength);
    putVarint(bytes, h.length);
    for (const b of g.last) bytes.push(b);
    for (const b of h) bytes.push(b);
  }
  if (restarts.length === 0) restarts.push(0);
  const out = new Uint8Array(bytes.length + 4 * (restarts.length + 1));
  out.set(bytes, 0);
  const dv = new DataView(out.buffer);
  restarts.forEach((r, i) => dv.setUint32(bytes.length + 4 * i, r, true));
  dv.setUint32(bytes.length + 4 * restarts.length, restarts.length, true);
  return out;
}

const EMPTY_BLOCK = Uint8Array.of(0, 0, 0, 0, 1, 0, 0, 0);

function footer(meta: Handle, index: Handle): Uint8Array {
  const f = new Uint8Array(48);
  const v: number[] = [];
  putVarint(v, meta.offset);
  putVarint(v, meta.size);
  putVarint(v, index.offset);
  putVarint(v, index.size);
  f.set(v, 0);
  f.set([0x57, 0xfb, 0x80, 0x8b, 0x24, 0x75, 0x47, 0xdb], 40);
  return f;
}

const userKey = (k: Uint8Array): Uint8Array => k.subarray(0, Math.max(0, k.byteLength - 8));

/** The good data blocks of a (damaged) table file, where the non-data region starts, and the dropped blocks' regions. */
function goodBlocks(file: Uint8Array): { good: Good[]; lost: LostRange[]; end: number; holes: Handle[] } {
  const good: Good[] = [];
  const lost: LostRange[] = [];
  const holes: Handle[] = [];
  // through the original index, when its footer and index block are intact
  let handles: Handle[] | undefined;
  let dataEnd = 0;
  if (file.byteLength >= 48) {
    const foot = file.byteLength - 48;
    try {
      let o = foot;
      const read = (): number => {
        let n = 0;
        let mul = 1;
        for (let i = 0; i < 10; i++) {
          if (o >= foot + 40) break;
          const byte = file[o++] as number;
          n += (byte & 0x7f) * mul;
          if (byte < 0x80) return n;
          mul *= 128;
        }
        throw new RangeError('bad footer handle');
      };
      const meta = { offset: read(), size: read() };
      const index = { offset: read(), size: read() };
      const magicOk = [0x57, 0xfb, 0x80, 0x8b, 0x24, 0x75, 0x47, 0xdb].every((m, i) => file[foot + 40 + i] === m);
      const idx = magicOk ? readBlock(file, index) : { ok: false, contents: undefined };
      if (idx.ok && idx.contents !== undefined) {
        const list: Handle[] = [];
        walkBlock(idx.contents, 8, (_k, v) => list.push(decodeHandle(v)), false);
        handles = list;
        dataEnd = Math.min(meta.offset, index.offset);
      }
    } catch {
      handles = undefined;
    }
  }
  let prevLast: Uint8Array | undefined;
  let pendingLoss = false;
  const keep = (handle: Handle): boolean => {
    const blk = readBlock(file, handle);
    const keys = blk.ok && blk.contents !== undefined ? keysOf(blk.contents) : undefined;
    if (keys === undefined) {
      pendingLoss = true;
      holes.push({ offset: handle.offset, size: handle.size + 5 });
      return false;
    }
    if (pendingLoss) lost.push({ after: prevLast === undefined ? undefined : userKey(prevLast), before: userKey(keys.first) });
    pendingLoss = false;
    good.push({ handle, first: keys.first, last: keys.last });
    prevLast = keys.last;
    return true;
  };
  if (handles !== undefined) {
    for (const h of handles) keep(h);
    if (pendingLoss) lost.push({ after: prevLast === undefined ? undefined : userKey(prevLast), before: undefined });
    return { good, lost, end: dataEnd, holes };
  }
  // no index: walk the blocks from the start until one does not end in a matching crc
  let o = 0;
  for (;;) {
    const n = findBlockEnd(file, o);
    if (n === undefined) break;
    const h = { offset: o, size: n };
    const blk = readBlock(file, h);
    const keys = blk.ok && blk.contents !== undefined ? keysOf(blk.contents) : undefined;
    if (keys === undefined) break; // the index or meta blocks follow the data (or garbage)
    keep(h);
    o += n + 5;
  }
  // everything after the last good block is lost (a truncated tail, or the damaged index's blocks)
  lost.push({ after: prevLast === undefined ? undefined : userKey(prevLast), before: undefined });
  return { good, lost, end: o, holes };
}

/**
 * Rewrites `name` in `dir` as described above (original copied to lost/). Returns the key ranges
 * that are no longer readable. Throws when the new index does not fit in the file's size.
 */
export async function salvageTable(dir: string, name: string, file: Uint8Array, size: number): Promise<LostRange[]> {
  const { good, lost, end, holes } = goodBlocks(file);
  const index = blockWithTrailer(indexBlock(good));
  const meta = blockWithTrailer(EMPTY_BLOCK);
  const need = index.byteLength + meta.byteLength;
  // the new index and meta index go after the last good block, or into a dropped block's place
  // (full keys make the new index larger than LevelDB's shortened one: the tail may not hold it)
  const regions: Handle[] = [{ offset: end, size: size - 48 - end }];
  for (const h of holes) {
    const last = regions[regions.length - 1] as Handle;
    if (regions.length > 1 && last.offset + last.size === h.offset) last.size += h.size;
    else regions.push({ offset: h.offset, size: Math.min(h.size, size - 48 - h.offset) });
  }
  const place = regions.find((r) => r.size >= need && r.offset >= 0);
  if (place === undefined) throw new RangeError(`no room for a new index in ${name}`);
  const out = new Uint8Array(size);
  out.set(file.subarray(0, Math.min(file.byteLength, end)), 0);
  const indexHandle = { offset: place.offset, size: index.byteLength - 5 };
  out.set(index, place.offset);
  const metaHandle = { offset: place.offset + index.byteLength, size: meta.byteLength - 5 };
  out.set(meta, metaHandle.offset);
  out.set(footer(metaHandle, indexHandle), size - 48);
  await mkdir(join(dir, 'lost'), { recursive: true });
  await copyFile(join(dir, name), join(dir, 'lost', `${name}.${Date.now()}`)).catch(() => undefined);
  const fh = await open(join(dir, name), 'w');
  try {
    await fh.writeFile(out);
    await fh.sync();
  } finally {
    await fh.close();
  }
  return lost;
}
