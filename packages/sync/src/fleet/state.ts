/**
 * The fleet's durable state, one aux record of the node's log ('fleet/state', encrypted at rest
 * with the log): per-shard cursors, whether a repair is owed, the publish watermark (every
 * change with a smaller lsn was published or is not ours to publish) and the members last seen
 * (so a node that starts while the bus is down still knows whom to sync with).
 *
 * Written debounced (flushMs, default 1 s: at most one fsync a second) and at close; a crash loses at most the last interval, which only
 * means entries read again (idempotent) and changes published again (a duplicate appends
 * nothing). A gap sets repairPending in the same record that moves the cursor past it, so no
 * crash can forget a gap.
 */
import { START_CURSOR, type Cursor } from '@profilesync/bus';

export const STATE_AUX = 'fleet/state';

export interface KnownMember {
  id: string;
  url: string;
  publicKey: string;
}

export interface FleetState {
  v: 1;
  shards: number;
  cursors: Cursor[];
  repairPending: boolean;
  publishedLsn: number;
  members: KnownMember[];
}

export interface FleetStorage {
  getAux(name: string): Promise<Uint8Array | undefined>;
  putAux(name: string, value: Uint8Array): Promise<void>;
  /** profiles (not internal streams) whose newest entry has an lsn above `lsn` */
  changedSince(lsn: number): string[];
  /** the log's last lsn */
  lastLsn(): number;
}

export function freshState(shards: number): FleetState {
  return { v: 1, shards, cursors: Array.from({ length: shards }, () => START_CURSOR), repairPending: false, publishedLsn: 0, members: [] };
}

/** The stored state, or a fresh one (when absent, unreadable, or for another shard count: cursors restart, a repair is owed). */
export function parseState(raw: Uint8Array | undefined, shards: number): { state: FleetState; problem?: string; fresh?: true } {
  if (!raw) return { state: freshState(shards), fresh: true };
  try {
    const o = JSON.parse(Buffer.from(raw).toString('utf8')) as FleetState;
    if (o?.v !== 1 || !Array.isArray(o.cursors) || !Array.isArray(o.members) || typeof o.publishedLsn !== 'number') throw new Error('shape');
    for (const c of o.cursors) if (typeof c?.epoch !== 'string' || typeof c?.position !== 'string') throw new Error('cursor');
    if (o.shards !== shards || o.cursors.length !== shards) {
      return { state: { ...freshState(shards), publishedLsn: o.publishedLsn, members: o.members, repairPending: true }, problem: `shard count changed (${o.shards} -> ${shards})` };
    }
    return { state: { v: 1, shards, cursors: o.cursors, repairPending: o.repairPending === true, publishedLsn: o.publishedLsn, members: o.members.filter((m) => typeof m?.id === 'string' && typeof m?.url === 'string' && typeof m?.publicKey === 'string') } };
  } catch (err) {
    return { state: { ...freshState(shards), repairPending: true }, problem: `unreadable (${(err as Error).message})`, fresh: true };
  }
}

export function serializeState(s: FleetState): Uint8Array {
  return Buffer.from(JSON.stringify(s), 'utf8');
}

/**
 * The publish watermark: lsns seen in order; a change is pending while its publish is in flight
 * or its profile waits for a republish. watermark() = every lsn at or below it is settled.
 */
export class Outbox {
  #maxSeen: number;
  readonly #inflight = new Map<number, number>();
  /** profile -> { lsn of its oldest unpublished change, generation (bumped on every change) } */
  readonly dirty = new Map<string, { lsn: number; gen: number }>();

  constructor(publishedLsn: number) {
    this.#maxSeen = publishedLsn;
  }

  seen(lsn: number): void {
    if (lsn > this.#maxSeen) this.#maxSeen = lsn;
  }

  begin(lsn: number): void {
    this.#inflight.set(lsn, (this.#inflight.get(lsn) ?? 0) + 1);
  }

  end(lsn: number): void {
    const n = (this.#inflight.get(lsn) ?? 1) - 1;
    if (n <= 0) this.#inflight.delete(lsn);
    else this.#inflight.set(lsn, n);
  }

  markDirty(id: string, lsn: number): void {
    const d = this.dirty.get(id);
    if (d) {
      d.gen++;
      d.lsn = Math.min(d.lsn, lsn);
    } else this.dirty.set(id, { lsn, gen: 0 });
  }

  /** Clears a republished profile unless it changed since generation `gen` was read. */
  settle(id: string, gen: number): boolean {
    const d = this.dirty.get(id);
    if (d && d.gen === gen) {
      this.dirty.delete(id);
      return true;
    }
    return false;
  }

  watermark(): number {
    let low = Infinity;
    for (const lsn of this.#inflight.keys()) if (lsn < low) low = lsn;
    for (const d of this.dirty.values()) if (d.lsn < low) low = d.lsn;
    return low === Infinity ? this.#maxSeen : Math.min(this.#maxSeen, low - 1);
  }
}

/** The slice of an EventLog the fleet stores its state in and reads its outbox from. */
export interface FleetLogLike {
  getAux(name: string): Promise<Uint8Array | undefined>;
  putAux(name: string, value: Uint8Array): Promise<void>;
  streams(): string[];
  head(stream: string): { lsn: number } | undefined;
  info(): { lastLsn: number };
}

/** FleetStorage on the node's own log ('#'-streams are internal, not profiles). */
export function logFleetStorage(log: FleetLogLike): FleetStorage {
  return {
    getAux: (name) => log.getAux(name),
    putAux: (name, value) => log.putAux(name, value),
    changedSince: (lsn) => log.streams().filter((s) => !s.startsWith('#') && (log.head(s)?.lsn ?? 0) > lsn),
    lastLsn: () => log.info().lastLsn,
  };
}
