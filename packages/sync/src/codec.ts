/**
 * Application messages of the peer protocol (/sync), lib0 encoding. One message per frame
 * payload (after reassembly, see fragment.ts). docs/protocol.md §4 is the normative table.
 */
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { isProfileId } from '@profilesync/core';
import { SyncErrorCode, syncError } from './errors.js';

export const MessageType = {
  ROOT: 0,
  MATCH: 1,
  BUCKETS: 2,
  ENTRIES: 3,
  ROUND_END: 4,
  STEP1: 5,
  STEP2: 6,
  UPDATE: 7,
} as const;

export const BUCKET_COUNT = 256;
export const DIGEST_BYTES = 16;
/** STEP1 flag: this step 1 answers another one; the receiver must not pull back. */
export const STEP1_REPLY = 1;
const MAX_HASH_CHARS = 64;
const MAX_ENTRIES = 10_000_000;

export interface BucketEntries {
  bucket: number;
  entries: [id: string, hash: string][];
}

export type Message =
  | { type: typeof MessageType.ROOT; round: number; digest: Uint8Array; count: number }
  | { type: typeof MessageType.MATCH; round: number }
  | { type: typeof MessageType.BUCKETS; round: number; buckets: Uint8Array }
  | { type: typeof MessageType.ENTRIES; round: number; buckets: BucketEntries[] }
  | { type: typeof MessageType.ROUND_END; round: number }
  | { type: typeof MessageType.STEP1; id: string; stateVector: Uint8Array; hash: string; flags: number }
  | { type: typeof MessageType.STEP2; id: string; update: Uint8Array }
  | { type: typeof MessageType.UPDATE; id: string; update: Uint8Array };

export function encodeMessage(m: Message): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, m.type);
  switch (m.type) {
    case MessageType.ROOT:
      encoding.writeVarUint(e, m.round);
      encoding.writeVarUint8Array(e, m.digest);
      encoding.writeVarUint(e, m.count);
      break;
    case MessageType.MATCH:
    case MessageType.ROUND_END:
      encoding.writeVarUint(e, m.round);
      break;
    case MessageType.BUCKETS:
      encoding.writeVarUint(e, m.round);
      encoding.writeVarUint8Array(e, m.buckets);
      break;
    case MessageType.ENTRIES:
      encoding.writeVarUint(e, m.round);
      encoding.writeVarUint(e, m.buckets.length);
      for (const b of m.buckets) {
        encoding.writeVarUint(e, b.bucket);
        encoding.writeVarUint(e, b.entries.length);
        for (const [id, hash] of b.entries) {
          encoding.writeVarString(e, id);
          encoding.writeVarString(e, hash);
        }
      }
      break;
    case MessageType.STEP1:
      encoding.writeVarString(e, m.id);
      encoding.writeVarUint8Array(e, m.stateVector);
      encoding.writeVarString(e, m.hash);
      encoding.writeVarUint(e, m.flags);
      break;
    case MessageType.STEP2:
    case MessageType.UPDATE:
      encoding.writeVarString(e, m.id);
      encoding.writeVarUint8Array(e, m.update);
      break;
  }
  return encoding.toUint8Array(e);
}

function bad(why: string, cause?: unknown): Error {
  return syncError(SyncErrorCode.BAD_MESSAGE, `malformed sync message: ${why}`, { why }, cause);
}

function readId(d: decoding.Decoder): string {
  const id = decoding.readVarString(d);
  if (!isProfileId(id)) throw bad('invalid profile id');
  return id;
}

function readRound(d: decoding.Decoder): number {
  const r = decoding.readVarUint(d);
  if (!Number.isSafeInteger(r)) throw bad('round out of range');
  return r;
}

function readHash(d: decoding.Decoder): string {
  const h = decoding.readVarString(d);
  if (h.length > MAX_HASH_CHARS) throw bad('version hash too long');
  return h;
}

function readCount(d: decoding.Decoder, max: number, what: string): number {
  const n = decoding.readVarUint(d);
  if (!Number.isSafeInteger(n) || n > max) throw bad(`${what} out of range`);
  return n;
}

function decodeBody(d: decoding.Decoder, type: number): Message {
  switch (type) {
    case MessageType.ROOT: {
      const round = readRound(d);
      const digest = decoding.readVarUint8Array(d);
      if (digest.length !== DIGEST_BYTES) throw bad('root digest must be 16 bytes');
      return { type, round, digest, count: readCount(d, Number.MAX_SAFE_INTEGER, 'count') };
    }
    case MessageType.MATCH:
    case MessageType.ROUND_END:
      return { type, round: readRound(d) };
    case MessageType.BUCKETS: {
      const round = readRound(d);
      const buckets = decoding.readVarUint8Array(d);
      if (buckets.length !== BUCKET_COUNT * DIGEST_BYTES) throw bad('bucket digests must be 256 x 16 bytes');
      return { type, round, buckets };
    }
    case MessageType.ENTRIES: {
      const round = readRound(d);
      const n = readCount(d, BUCKET_COUNT, 'bucket count');
      const buckets: BucketEntries[] = [];
      const seen = new Set<number>();
      let total = 0;
      for (let i = 0; i < n; i++) {
        const bucket = readCount(d, BUCKET_COUNT - 1, 'bucket');
        if (seen.has(bucket)) throw bad('bucket listed twice');
        seen.add(bucket);
        const m = readCount(d, MAX_ENTRIES, 'entry count');
        total += m;
        if (total > MAX_ENTRIES) throw bad('too many entries');
        const entries: [string, string][] = [];
        for (let j = 0; j < m; j++) entries.push([readId(d), readHash(d)]);
        buckets.push({ bucket, entries });
      }
      return { type, round, buckets };
    }
    case MessageType.STEP1: {
      const id = readId(d);
      const stateVector = decoding.readVarUint8Array(d);
      const hash = readHash(d);
      const flags = readCount(d, 0xff, 'flags');
      return { type, id, stateVector, hash, flags };
    }
    case MessageType.STEP2:
    case MessageType.UPDATE:
      return { type, id: readId(d), update: decoding.readVarUint8Array(d) };
    default:
      throw bad(`unknown message type ${type}`);
  }
}

/** Decodes one message; anything malformed (or trailing bytes) is SYNC_BAD_MESSAGE. */
export function decodeMessage(bytes: Uint8Array): Message {
  const d = decoding.createDecoder(bytes);
  let m: Message;
  try {
    const type = decoding.readVarUint(d);
    m = decodeBody(d, type);
  } catch (err) {
    if ((err as { code?: string }).code === SyncErrorCode.BAD_MESSAGE) throw err;
    throw bad('truncated or malformed encoding', err);
  }
  if (decoding.hasContent(d)) throw bad('trailing bytes');
  return m;
}

export function messageName(type: number): string {
  for (const [k, v] of Object.entries(MessageType)) if (v === type) return k;
  return `type-${type}`;
}
