/**
 * The LevelDB keyspace (see docs/storage-format.md). One prefix byte per record family;
 * stream names never appear in keys (internal u32 stream numbers only).
 *
 *   M name                 meta (format version, codec id, creation time)
 *   C u32 stream           catalog: stream number -> codec-encoded name
 *   E u32 stream u64 seq   entry
 *   H u32 stream           head
 *   V u32 stream           materialized view
 *   S u32 stream u64 seq   snapshot
 *   R u32 stream           rest state: the stream's state at one seq (usually its head), outside the policy
 *   A key-bytes            aux record (utf8 name, or codec.keyFor(name))
 *   a key-bytes            copy of the aux record (same value), at the other end of the keyspace
 *   c u32 stream           copy of the catalog record (same value), at the other end of the keyspace
 *
 * The copies (written in the same batch as the record) let the open restore catalog and aux
 * records that a damaged table block took (mirrors.ts): LevelDB keeps neighbouring keys in one
 * block, and one block must not lose every profile's name or every token.
 */
import { readU32, readU64, utf8, writeU32, writeU64 } from './bytes.js';

export const P_META = 0x4d; // 'M'
export const P_CATALOG = 0x43; // 'C'
export const P_ENTRY = 0x45; // 'E'
export const P_HEAD = 0x48; // 'H'
export const P_VIEW = 0x56; // 'V'
export const P_SNAPSHOT = 0x53; // 'S'
export const P_REST = 0x52; // 'R'
export const P_AUX = 0x41; // 'A'
export const P_AUX_COPY = 0x61; // 'a'
export const P_CATALOG_COPY = 0x63; // 'c'

export const MAX_STREAM_NO = 0xffff_ffff;
export const MAX_SEQ = Number.MAX_SAFE_INTEGER;

export function metaKey(name: string): Uint8Array {
  const n = utf8(name);
  const k = new Uint8Array(1 + n.byteLength);
  k[0] = P_META;
  k.set(n, 1);
  return k;
}

/** prefix + u32 stream number (catalog, head, view). */
export function streamKey(prefix: number, stream: number): Uint8Array {
  const k = new Uint8Array(5);
  k[0] = prefix;
  writeU32(k, 1, stream);
  return k;
}

/** prefix + u32 stream + u64 seq (entry, snapshot). */
export function seqKey(prefix: number, stream: number, seq: number): Uint8Array {
  const k = new Uint8Array(13);
  k[0] = prefix;
  writeU32(k, 1, stream);
  writeU64(k, 5, seq);
  return k;
}

/** Writes a 5-byte stream key into `out` (e.g. a range of an Arena) and returns it. */
export function putStreamKey(out: Uint8Array, prefix: number, stream: number): Uint8Array {
  out[0] = prefix;
  writeU32(out, 1, stream);
  return out;
}

/** Writes a 13-byte seq key into `out` and returns it. */
export function putSeqKey(out: Uint8Array, prefix: number, stream: number, seq: number): Uint8Array {
  out[0] = prefix;
  writeU32(out, 1, stream);
  writeU64(out, 5, seq);
  return out;
}

export function entryKey(stream: number, seq: number): Uint8Array {
  return seqKey(P_ENTRY, stream, seq);
}

export function snapshotKey(stream: number, seq: number): Uint8Array {
  return seqKey(P_SNAPSHOT, stream, seq);
}

export function auxKey(nameKey: Uint8Array, prefix: number = P_AUX): Uint8Array {
  const k = new Uint8Array(1 + nameKey.byteLength);
  k[0] = prefix;
  k.set(nameKey, 1);
  return k;
}

/** Range covering every key of one prefix byte. */
export function prefixRange(prefix: number): { gte: Uint8Array; lt: Uint8Array } {
  return { gte: Uint8Array.of(prefix), lt: Uint8Array.of(prefix + 1) };
}

/** Range of seq keys of one stream, seq in [from, to]. */
export function seqRange(prefix: number, stream: number, from: number, to: number): { gte: Uint8Array; lte: Uint8Array } {
  return { gte: seqKey(prefix, stream, from), lte: seqKey(prefix, stream, to) };
}

/** Parses a 5-byte stream key; undefined when the shape is wrong. */
export function parseStreamKey(k: Uint8Array, prefix: number): number | undefined {
  if (k.byteLength !== 5 || k[0] !== prefix) return undefined;
  return readU32(k, 1);
}

/** Parses a 13-byte seq key; undefined when the shape is wrong. */
export function parseSeqKey(k: Uint8Array, prefix: number): { stream: number; seq: number } | undefined {
  if (k.byteLength !== 13 || k[0] !== prefix) return undefined;
  try {
    return { stream: readU32(k, 1), seq: readU64(k, 5) };
  } catch {
    return undefined;
  }
}
