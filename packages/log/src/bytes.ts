/** Small byte helpers: big-endian integers, varuints, utf8, crc32, sha-256. */
import { hash } from 'node:crypto';
import { crc32 as zlibCrc32 } from 'node:zlib';

export const EMPTY = new Uint8Array(0);
export const ZERO_HASH = new Uint8Array(32);

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}

/** Strict UTF-8 decoding: throws a TypeError on invalid bytes. */
export function fromUtf8(b: Uint8Array): string {
  return decoder.decode(b);
}

export function crc32(b: Uint8Array): number {
  return zlibCrc32(b) >>> 0;
}

/** One-shot sha-256 of a contiguous buffer (a Buffer: callers handing it out wrap it with asU8). */
export function sha256(data: Uint8Array): Uint8Array {
  return hash('sha256', data, 'buffer');
}

/**
 * Hands out short-lived byte ranges carved from shared chunks. A small `new Uint8Array(n)` costs
 * ~0.7 us above 64 bytes (its own backing store) and, below, lives on the V8 heap, where every
 * native call that reads it (LevelDB's put) first moves it off-heap; a range of a chunk costs
 * ~0.1 us and neither. Only for bytes nobody keeps: a range keeps its whole chunk alive.
 */
export class Arena {
  readonly #size: number;
  #chunk: Uint8Array;
  #at = 0;

  constructor(size = 64 * 1024) {
    this.#size = size;
    this.#chunk = new Uint8Array(size);
  }

  take(n: number): Uint8Array {
    if (n > this.#size >>> 3) return new Uint8Array(n);
    if (this.#at + n > this.#size) {
      this.#chunk = new Uint8Array(this.#size);
      this.#at = 0;
    }
    // a view on the chunk's buffer (offset 0): cheaper than subarray(), which goes through the species constructor
    const out = new Uint8Array(this.#chunk.buffer, this.#at, n);
    this.#at += n;
    return out;
  }
}

/**
 * b.subarray(start, end) as a plain Uint8Array, without subarray()'s species-constructor lookup
 * (measurable on the commit path, where it runs several times per append).
 */
export function span(b: Uint8Array, start: number, end = b.byteLength): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset + start, end - start);
}

/** A plain Uint8Array view over the same memory (Buffers become Uint8Arrays for callers). */
export function asU8(b: Uint8Array): Uint8Array {
  return b.constructor === Uint8Array ? b : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.compare(a, b) === 0;
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.byteLength;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}

export function writeU32(b: Uint8Array, o: number, n: number): void {
  b[o] = n >>> 24;
  b[o + 1] = (n >>> 16) & 0xff;
  b[o + 2] = (n >>> 8) & 0xff;
  b[o + 3] = n & 0xff;
}

export function readU32(b: Uint8Array, o: number): number {
  return ((b[o] as number) * 0x100_0000 + (((b[o + 1] as number) << 16) | ((b[o + 2] as number) << 8) | (b[o + 3] as number))) >>> 0;
}

/** Writes a non-negative safe integer as 8 big-endian bytes. */
export function writeU64(b: Uint8Array, o: number, n: number): void {
  writeU32(b, o, Math.floor(n / 0x1_0000_0000));
  writeU32(b, o + 4, n >>> 0);
}

/** Reads 8 big-endian bytes; throws a RangeError above 2^53 - 1. */
export function readU64(b: Uint8Array, o: number): number {
  const hi = readU32(b, o);
  if (hi > 0x1f_ffff) throw new RangeError('u64 above 2^53');
  return hi * 0x1_0000_0000 + readU32(b, o + 4);
}

export function varuintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

export function writeVaruint(out: Uint8Array, offset: number, n: number): number {
  while (n >= 0x80) {
    out[offset++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  out[offset++] = n;
  return offset;
}

/** Reads a varuint at `cursor.o` and advances it; throws a RangeError when truncated or too long. */
export function readVaruint(b: Uint8Array, cursor: { o: number }): number {
  let n = 0;
  let mul = 1;
  for (let i = 0; i < 8; i++) {
    if (cursor.o >= b.byteLength) throw new RangeError('truncated varuint');
    const byte = b[cursor.o++] as number;
    n += (byte & 0x7f) * mul;
    if (byte < 0x80) return n;
    mul *= 128;
  }
  throw new RangeError('varuint too long');
}

/** Reads a varuint-length-prefixed byte string. */
export function readBytes(b: Uint8Array, cursor: { o: number }): Uint8Array {
  const len = readVaruint(b, cursor);
  if (cursor.o + len > b.byteLength) throw new RangeError('truncated field');
  const out = b.subarray(cursor.o, cursor.o + len);
  cursor.o += len;
  return out;
}
