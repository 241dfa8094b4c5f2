/**
 * Byte layouts of stored values (docs/storage-format.md is the normative description).
 *
 * entry value  = u8 version(1) | u8 flags(0) | u64 lsn | u64 ts | prevHash[32] | hash[32] | stored payload
 * entry hash   = sha256(u8 version | u8 flags | u64 seq | u64 lsn | u64 ts | prevHash[32] | stored payload)
 * payload      = u8 version(1) | u8 flags(bit0: version ref) | vs actor | vs origin | vs summary | [vs version] | body
 *                (vs = varuint length + bytes; the payload passes through the codec as kind 'entry')
 * head value   = u8 version(1) | u64 seq | u64 lsn | u64 ts | hash[32] | u32 crc32(previous 57 bytes)
 * framed value = u8 version(1) | u32 crc32(rest) | kind header | stored payload   (catalog, view, snapshot, aux)
 */
import {
  asU8, crc32, equalBytes, fromUtf8, readBytes, readU32, readU64, readVaruint, sha256, span, utf8, varuintSize, writeU32, writeU64,
  writeVaruint,
} from './bytes.js';
import { logError } from './errors.js';

export const ENTRY_VERSION = 1;
export const PAYLOAD_VERSION = 1;
export const HEAD_VERSION = 1;
export const FRAME_VERSION = 1;
export const ENTRY_HEADER_BYTES = 82;
export const HEAD_BYTES = 61;
export const VIEW_HEADER_BYTES = 8;
export const SNAPSHOT_HEADER_BYTES = 32;

export interface EntryFields {
  actor: string;
  origin: string;
  summary: string;
  version: Uint8Array | undefined;
  body: Uint8Array;
}

/** Actors, origins and summaries repeat: their utf8 bytes are cached (bounded). */
const utf8Cache = new Map<string, Uint8Array>();
function cachedUtf8(s: string): Uint8Array {
  let b = utf8Cache.get(s);
  if (b === undefined) {
    if (utf8Cache.size >= 4096) utf8Cache.clear();
    b = utf8(s);
    if (s.length <= 256) utf8Cache.set(s, b);
  }
  return b;
}

/**
 * Plaintext payload of an entry (before the codec). Copies the body. With `headroom`, the
 * payload starts at that offset of the returned buffer (the writer reserves the entry header
 * there, so a plain-codec entry value needs no second copy).
 */
export function encodePayload(f: { actor: string; origin: string; summary?: string; version?: Uint8Array | undefined; body: Uint8Array }, headroom = 0): Uint8Array {
  const actor = cachedUtf8(f.actor);
  const origin = cachedUtf8(f.origin);
  const summary = cachedUtf8(f.summary ?? '');
  const version = f.version;
  let size = 2 + varuintSize(actor.byteLength) + actor.byteLength + varuintSize(origin.byteLength) + origin.byteLength
    + varuintSize(summary.byteLength) + summary.byteLength + f.body.byteLength;
  if (version !== undefined) size += varuintSize(version.byteLength) + version.byteLength;
  const out = new Uint8Array(headroom + size);
  out[headroom] = PAYLOAD_VERSION;
  out[headroom + 1] = version === undefined ? 0 : 1;
  let o = writeField(out, headroom + 2, actor);
  o = writeField(out, o, origin);
  o = writeField(out, o, summary);
  if (version !== undefined) o = writeField(out, o, version);
  out.set(f.body, o);
  return out;
}

function writeField(out: Uint8Array, o: number, field: Uint8Array): number {
  const at = writeVaruint(out, o, field.byteLength);
  out.set(field, at);
  return at + field.byteLength;
}

/** The body of a plaintext payload, skipping the metadata without decoding it (restore's hot path). */
export function payloadBody(p: Uint8Array): Uint8Array {
  if (p.byteLength < 2 || p[0] !== PAYLOAD_VERSION || ((p[1] as number) & ~1) !== 0) throw new RangeError('malformed payload');
  const c = { o: 2 };
  for (let i = (p[1] as number) & 1 ? 4 : 3; i > 0; i--) {
    const len = readVaruint(p, c);
    c.o += len;
    if (c.o > p.byteLength) throw new RangeError('truncated field');
  }
  return p.subarray(c.o);
}

/** Parses a plaintext payload; throws a RangeError/TypeError when malformed. */
export function decodePayload(p: Uint8Array): EntryFields {
  if (p.byteLength < 2 || p[0] !== PAYLOAD_VERSION) throw new RangeError(`unknown payload version ${p[0]}`);
  const flags = p[1] as number;
  if ((flags & ~1) !== 0) throw new RangeError(`unknown payload flags ${flags}`);
  const c = { o: 2 };
  const actor = fromUtf8(readBytes(p, c));
  const origin = fromUtf8(readBytes(p, c));
  const summary = fromUtf8(readBytes(p, c));
  const version = flags & 1 ? asU8(readBytes(p, c)) : undefined;
  return { actor, origin, summary, version, body: asU8(p.subarray(c.o)) };
}

export interface ParsedEntry {
  lsn: number;
  ts: number;
  prevHash: Uint8Array;
  hash: Uint8Array;
  stored: Uint8Array;
}

let scratch = new Uint8Array(4096);

/** sha256(u8 version | u8 flags | u64 seq | u64 lsn | u64 ts | prevHash | stored), hashed in one shot. */
function computeHash(seq: number, lsn: number, ts: number, prevHash: Uint8Array, stored: Uint8Array): Uint8Array {
  const n = 58 + stored.byteLength;
  if (scratch.byteLength < n) scratch = new Uint8Array(Math.max(n, scratch.byteLength * 2));
  const h = scratch;
  h[0] = ENTRY_VERSION;
  h[1] = 0;
  writeU64(h, 2, seq);
  writeU64(h, 10, lsn);
  writeU64(h, 18, ts);
  h.set(prevHash, 26);
  h.set(stored, 58);
  return sha256(h.subarray(0, n));
}

/** Where the 58-byte hash-input header fits right before the stored payload of an entry value. */
const HASH_INPUT_AT = ENTRY_HEADER_BYTES - 58;

/**
 * Fills the header of an entry value whose stored payload already sits at ENTRY_HEADER_BYTES
 * and returns its chain hash (the writer's path: no copy of the payload). The hash input is
 * laid out contiguously in the header space first, hashed, then overwritten by the header.
 * Same bytes as encodeEntry.
 */
export function sealEntryInPlace(value: Uint8Array, seq: number, lsn: number, ts: number, prevHash: Uint8Array): Uint8Array {
  const o = HASH_INPUT_AT;
  value[o] = ENTRY_VERSION;
  value[o + 1] = 0;
  writeU64(value, o + 2, seq);
  writeU64(value, o + 10, lsn);
  writeU64(value, o + 18, ts);
  value.set(prevHash, o + 26);
  const hash = sha256(span(value, o));
  value[0] = ENTRY_VERSION;
  value[1] = 0;
  writeU64(value, 2, lsn);
  writeU64(value, 10, ts);
  value.set(prevHash, 18);
  value.set(hash, 50);
  return hash;
}

/** Builds a stored entry value and its chain hash. */
export function encodeEntry(seq: number, lsn: number, ts: number, prevHash: Uint8Array, stored: Uint8Array): { value: Uint8Array; hash: Uint8Array } {
  const value = new Uint8Array(ENTRY_HEADER_BYTES + stored.byteLength);
  value.set(stored, ENTRY_HEADER_BYTES);
  return { value, hash: sealEntryInPlace(value, seq, lsn, ts, prevHash) };
}

/** Parses an entry value's header; throws a RangeError when malformed. */
export function parseEntry(value: Uint8Array): ParsedEntry {
  if (value.byteLength < ENTRY_HEADER_BYTES) throw new RangeError('entry shorter than its header');
  if (value[0] !== ENTRY_VERSION) throw new RangeError(`unknown entry version ${value[0]}`);
  if (value[1] !== 0) throw new RangeError(`unknown entry flags ${value[1]}`);
  return {
    lsn: readU64(value, 2),
    ts: readU64(value, 10),
    prevHash: value.subarray(18, 50),
    hash: value.subarray(50, 82),
    stored: value.subarray(ENTRY_HEADER_BYTES),
  };
}

/**
 * Parses an entry and checks its stored hash against the recomputed one.
 * Throws LOG_CHECKSUM_MISMATCH (malformed header or wrong hash).
 */
export function verifyEntry(stream: number, seq: number, value: Uint8Array): ParsedEntry {
  let parsed: ParsedEntry;
  try {
    parsed = parseEntry(value);
  } catch (err) {
    throw logError('LOG_CHECKSUM_MISMATCH', `entry ${stream}/${seq} is malformed: ${(err as Error).message}`, {
      cause: err, details: { stream, seq },
    });
  }
  const hash = computeHash(seq, parsed.lsn, parsed.ts, parsed.prevHash, parsed.stored);
  if (!equalBytes(hash, parsed.hash)) {
    throw logError('LOG_CHECKSUM_MISMATCH', `entry ${stream}/${seq} does not match its hash`, { details: { stream, seq } });
  }
  return parsed;
}

export interface HeadRecord {
  seq: number;
  lsn: number;
  ts: number;
  hash: Uint8Array;
}

export function encodeHead(h: HeadRecord, out: Uint8Array = new Uint8Array(HEAD_BYTES)): Uint8Array {
  out[0] = HEAD_VERSION;
  writeU64(out, 1, h.seq);
  writeU64(out, 9, h.lsn);
  writeU64(out, 17, h.ts);
  out.set(h.hash, 25);
  writeU32(out, 57, crc32(span(out, 0, 57)));
  return out;
}

/** Parses a head value; throws LOG_CHECKSUM_MISMATCH when malformed or its crc is wrong. */
export function decodeHead(stream: number, v: Uint8Array): HeadRecord {
  if (v.byteLength !== HEAD_BYTES || v[0] !== HEAD_VERSION || readU32(v, 57) !== crc32(v.subarray(0, 57))) {
    throw logError('LOG_CHECKSUM_MISMATCH', `head of stream ${stream} is corrupt`, { details: { stream } });
  }
  try {
    return { seq: readU64(v, 1), lsn: readU64(v, 9), ts: readU64(v, 17), hash: asU8(v.slice(25, 57)) };
  } catch (err) {
    throw logError('LOG_CHECKSUM_MISMATCH', `head of stream ${stream} is corrupt`, { cause: err, details: { stream } });
  }
}

/** A framed derived/auxiliary value: version, crc32 over the rest, a fixed kind header, the stored payload. */
export function frame(header: Uint8Array, stored: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + header.byteLength + stored.byteLength);
  out[0] = FRAME_VERSION;
  out.set(header, 5);
  out.set(stored, 5 + header.byteLength);
  writeU32(out, 1, crc32(out.subarray(5)));
  return out;
}

/** Checks a framed value; returns its kind header and stored payload, or throws LOG_CHECKSUM_MISMATCH. */
export function unframe(v: Uint8Array, headerBytes: number, what: string, details: Record<string, unknown>): { header: Uint8Array; stored: Uint8Array } {
  if (v.byteLength < 5 + headerBytes || v[0] !== FRAME_VERSION || readU32(v, 1) !== crc32(v.subarray(5))) {
    throw logError('LOG_CHECKSUM_MISMATCH', `${what} is corrupt`, { details });
  }
  return { header: asU8(v.subarray(5, 5 + headerBytes)), stored: asU8(v.subarray(5 + headerBytes)) };
}

/** Bytes a framed view has before its stored payload: frame version + crc32 + u64 seq. */
export const VIEW_FRAME_HEADROOM = 5 + VIEW_HEADER_BYTES;

/**
 * Frames a view whose stored payload already sits at VIEW_FRAME_HEADROOM (the writer's path:
 * no copy). Same bytes as frame(viewHeader(seq), stored).
 */
export function frameViewInPlace(v: Uint8Array, seq: number): Uint8Array {
  v[0] = FRAME_VERSION;
  writeU64(v, 5, seq);
  writeU32(v, 1, crc32(span(v, 5)));
  return v;
}

export function viewHeader(seq: number): Uint8Array {
  const h = new Uint8Array(VIEW_HEADER_BYTES);
  writeU64(h, 0, seq);
  return h;
}

export function readViewSeq(header: Uint8Array): number {
  return readU64(header, 0);
}

/** Plaintext of an aux record: the name travels inside (keys may be hashes) and is checked on read. */
export function encodeAuxPlain(name: string, value: Uint8Array): Uint8Array {
  const n = utf8(name);
  const out = new Uint8Array(varuintSize(n.byteLength) + n.byteLength + value.byteLength);
  const o = writeVaruint(out, 0, n.byteLength);
  out.set(n, o);
  out.set(value, o + n.byteLength);
  return out;
}

export function decodeAuxPlain(p: Uint8Array): { name: string; value: Uint8Array } {
  const c = { o: 0 };
  const name = fromUtf8(readBytes(p, c));
  return { name, value: asU8(p.subarray(c.o)) };
}

