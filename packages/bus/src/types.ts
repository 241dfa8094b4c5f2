/**
 * The Bus port: a small, bytes-only interface between the fleet (packages/sync) and an
 * ordered, retained message log with membership and ephemeral channels. Two adapters pass
 * one contract suite (test/contract.ts): RedisStreamsBus (redis.ts) and MemoryBus
 * (memory.ts, with fault injection for simulations).
 *
 * Model
 * - `shards` independent streams. Within a shard, entries are delivered in publish order,
 *   each once per read position; across shards there is no order.
 * - A reader keeps one Cursor per shard: the shard's epoch (an incarnation of its stream:
 *   a new one after the bus lost the stream, e.g. Redis restarted empty) and the position
 *   of the last entry it consumed. The bus reports a gap whenever it can no longer deliver
 *   everything after a cursor (other epoch, entries trimmed, an unreadable entry); the
 *   reader then repairs by other means and continues from the batch's `next` cursor.
 * - Nothing here waits for the bus to come back: while disconnected every call rejects at
 *   once with BUS_UNAVAILABLE (reads may first block up to `blockMs` while connected).
 */

/** Where a reader stands in one shard. `epoch: ''` = never read: the first read reports a gap. */
export interface Cursor {
  readonly epoch: string;
  /** the last consumed position ('0-0' = before the first entry) */
  readonly position: string;
}

export const START_CURSOR: Cursor = Object.freeze({ epoch: '', position: '0-0' });

export interface BusEntry {
  /** opaque, strictly increasing within a shard's epoch */
  readonly position: string;
  /** when the bus accepted the entry (ms since the epoch, the bus's clock) */
  readonly time: number;
  readonly payload: Uint8Array;
}

export type GapReason = 'epoch' | 'trimmed' | 'bad-entry';

/** What one read returned for one shard (shards with nothing new are left out). */
export interface ShardBatch {
  readonly shard: number;
  /** entries after the cursor, in order (possibly none when only a gap is reported) */
  readonly entries: BusEntry[];
  /** the cursor for the next read of this shard: after the entries and after anything skipped */
  readonly next: Cursor;
  /** set when something between the old cursor and `next` can no longer be delivered */
  readonly gap?: GapReason;
  /** the shard had no more entries than these at read time */
  readonly atEnd: boolean;
}

export interface ReadOptions {
  /** most entries per shard per read */
  count: number;
  /** when nothing is available, wait up to this long for an entry (0 = do not wait) */
  blockMs: number;
}

export interface MemberRecord {
  readonly id: string;
  /** opaque (the fleet seals it) */
  readonly record: Uint8Array;
}

export interface BusEvents {
  /** connected (again); `durationMillis` = how long it was down (0 the first time) */
  up: { reconnect: boolean; durationMillis: number };
  /** the connection was lost or an attempt failed */
  down: { error: string };
}

export interface Bus {
  readonly kind: string;
  readonly shards: number;
  /** true while commands can reach the bus */
  readonly connected: boolean;
  on<E extends keyof BusEvents>(event: E, listener: (payload: BusEvents[E]) => void): () => void;
  /** starts connecting (and reconnecting, with backoff, until close) */
  start(): void;
  /** appends to a shard; resolves with the entry's position once the bus holds it */
  publish(shard: number, payload: Uint8Array): Promise<string>;
  /** entries after each shard's cursor (`cursors[shard]`, one per shard) */
  read(cursors: readonly Cursor[], opts: ReadOptions): Promise<ShardBatch[]>;
  /** creates or replaces a member's record */
  announce(id: string, record: Uint8Array): Promise<void>;
  members(): Promise<MemberRecord[]>;
  withdraw(id: string): Promise<void>;
  /** fire-and-forget message on an ephemeral channel (no retention, no delivery guarantee) */
  broadcast(channel: string, payload: Uint8Array): Promise<void>;
  /** listens on an ephemeral channel until the returned function is called (kept across reconnects) */
  listen(channel: string, handler: (payload: Uint8Array) => void): () => void;
  close(): Promise<void>;
}

/** Shards, ids and channels are checked at the edge of every adapter (BUS_INVALID_ARGUMENT). */
export const MEMBER_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const CHANNEL_RE = /^[A-Za-z0-9._:-]{1,128}$/;
/** largest payload an adapter accepts (Redis itself takes 512 MiB; a profile update is far smaller) */
export const MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;
