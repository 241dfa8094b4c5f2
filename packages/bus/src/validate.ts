/** Edge checks shared by the adapters: a bad argument is BUS_INVALID_ARGUMENT and changes nothing. */
import { BusErrorCode, busError } from './errors.js';
import { CHANNEL_RE, MAX_PAYLOAD_BYTES, MEMBER_ID_RE, type Cursor, type ReadOptions } from './types.js';

export function checkShard(shard: unknown, shards: number): number {
  if (typeof shard !== 'number' || !Number.isInteger(shard) || shard < 0 || shard >= shards) {
    throw busError(BusErrorCode.INVALID_ARGUMENT, `shard must be an integer in 0..${shards - 1}`, { field: 'shard' });
  }
  return shard;
}

export function checkPayload(payload: unknown): Uint8Array {
  if (!(payload instanceof Uint8Array) || payload.byteLength === 0 || payload.byteLength > MAX_PAYLOAD_BYTES) {
    throw busError(BusErrorCode.INVALID_ARGUMENT, `a payload is 1..${MAX_PAYLOAD_BYTES} bytes (Uint8Array)`, { field: 'payload' });
  }
  return payload;
}

export function checkMemberId(id: unknown): string {
  if (typeof id !== 'string' || !MEMBER_ID_RE.test(id)) throw busError(BusErrorCode.INVALID_ARGUMENT, 'a member id is 1..64 of [A-Za-z0-9._-]', { field: 'id' });
  return id;
}

export function checkChannel(channel: unknown): string {
  if (typeof channel !== 'string' || !CHANNEL_RE.test(channel)) throw busError(BusErrorCode.INVALID_ARGUMENT, 'a channel is 1..128 of [A-Za-z0-9._:-]', { field: 'channel' });
  return channel;
}

const POSITION_RE = /^\d{1,20}-\d{1,20}$/;

/** Positions are Redis stream ids, "<ms>-<seq>" (both adapters use the form). */
export function parsePosition(p: string): [bigint, bigint] | undefined {
  if (!POSITION_RE.test(p)) return undefined;
  const i = p.indexOf('-');
  return [BigInt(p.slice(0, i)), BigInt(p.slice(i + 1))];
}

/** a < b: -1, equal: 0, a > b: 1 (both must parse). */
export function comparePositions(a: string, b: string): number {
  const x = parsePosition(a);
  const y = parsePosition(b);
  if (!x || !y) throw busError(BusErrorCode.INVALID_ARGUMENT, 'not a bus position', { field: 'position' });
  if (x[0] !== y[0]) return x[0] < y[0] ? -1 : 1;
  return x[1] === y[1] ? 0 : x[1] < y[1] ? -1 : 1;
}

export function checkCursors(cursors: unknown, shards: number): readonly Cursor[] {
  if (!Array.isArray(cursors) || cursors.length !== shards) throw busError(BusErrorCode.INVALID_ARGUMENT, `cursors must be an array of ${shards} cursors`, { field: 'cursors' });
  for (const c of cursors) {
    if (typeof c !== 'object' || c === null || typeof (c as Cursor).epoch !== 'string' || (c as Cursor).epoch.length > 64 || typeof (c as Cursor).position !== 'string' || !parsePosition((c as Cursor).position)) {
      throw busError(BusErrorCode.INVALID_ARGUMENT, 'a cursor is { epoch: string, position: "<ms>-<seq>" }', { field: 'cursors' });
    }
  }
  return cursors as readonly Cursor[];
}

export function checkReadOptions(opts: unknown): ReadOptions {
  const o = opts as ReadOptions | undefined;
  if (typeof o !== 'object' || o === null || !Number.isInteger(o.count) || o.count < 1 || o.count > 10_000 || !Number.isInteger(o.blockMs) || o.blockMs < 0 || o.blockMs > 60_000) {
    throw busError(BusErrorCode.INVALID_ARGUMENT, 'read options are { count: 1..10000, blockMs: 0..60000 }', { field: 'opts' });
  }
  return o;
}

export function checkShardCount(shards: unknown): number {
  if (typeof shards !== 'number' || !Number.isInteger(shards) || shards < 1 || shards > 1024) throw busError(BusErrorCode.INVALID_ARGUMENT, 'shards must be an integer in 1..1024', { field: 'shards' });
  return shards;
}
