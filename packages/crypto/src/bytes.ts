import { timingSafeEqual } from 'node:crypto';

/** Small byte helpers shared by the modules of this package. */

export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

export const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

/** Writes a non-negative safe integer as 8 big-endian bytes. */
export function writeU64(target: Uint8Array, offset: number, value: number): void {
  const hi = Math.floor(value / 0x1_0000_0000);
  const lo = value >>> 0;
  writeU32(target, offset, hi);
  writeU32(target, offset + 4, lo);
}

export function readU64(source: Uint8Array, offset: number): number {
  return readU32(source, offset) * 0x1_0000_0000 + readU32(source, offset + 4);
}

export function writeU32(target: Uint8Array, offset: number, value: number): void {
  target[offset] = (value >>> 24) & 0xff;
  target[offset + 1] = (value >>> 16) & 0xff;
  target[offset + 2] = (value >>> 8) & 0xff;
  target[offset + 3] = value & 0xff;
}

export function readU32(source: Uint8Array, offset: number): number {
  return (
    ((source[offset] as number) * 0x100_0000) +
    (((source[offset + 1] as number) << 16) | ((source[offset + 2] as number) << 8) | (source[offset + 3] as number))
  );
}

/** Constant-time equality (false when lengths differ). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Overwrites a buffer with zeros (best-effort secret hygiene). */
export function wipe(...buffers: (Uint8Array | undefined)[]): void {
  for (const b of buffers) b?.fill(0);
}

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

export function toBase64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

/** Strict base64 decode: undefined unless `text` is the canonical encoding of some bytes. */
export function fromBase64(text: unknown, expectedLength?: number): Uint8Array | undefined {
  return strictDecode(text, 'base64', expectedLength);
}

/** Strict base64url decode (no padding): undefined unless canonical. */
export function fromBase64Url(text: unknown, expectedLength?: number): Uint8Array | undefined {
  return strictDecode(text, 'base64url', expectedLength);
}

function strictDecode(text: unknown, encoding: 'base64' | 'base64url', expectedLength?: number): Uint8Array | undefined {
  if (typeof text !== 'string') return undefined;
  const bytes = Buffer.from(text, encoding);
  if (bytes.toString(encoding) !== text) return undefined;
  if (expectedLength !== undefined && bytes.length !== expectedLength) return undefined;
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** RFC 4648 base32, lowercase, no padding (used for human fingerprints). */
export function toBase32(bytes: Uint8Array): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return out;
}
