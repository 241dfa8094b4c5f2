/**
 * MemoryBus: the Bus port in memory, for tests and simulations. One MemoryBusServer plays
 * the Redis server (shards, epochs, trimming, members, ephemeral channels); each node gets
 * its own MemoryBus client from `server.connect()`. Faults, all seeded by `random`:
 *
 * - `server.stop()` / `server.start({ empty })`: the server goes away (every call rejects
 *   BUS_UNAVAILABLE) and comes back, keeping its data or losing all of it (new epochs,
 *   positions start over, members gone), like a Redis restarted without persistence.
 * - `client.partition()` / `client.heal()`: one node loses the bus alone.
 * - `server.trim(shard, keep)` and `maxLen`: entries fall out of the window.
 * - per-call probabilities (`faults`): a publish that fails before appending or after (the
 *   caller cannot tell it landed), a publish appended twice, a read that returns only part of
 *   what is there (delivery delay), shards returned in a random order (readers see different
 *   interleavings), an entry delivered with a flipped byte (a bad entry).
 *
 * Per-shard order within an epoch is never violated: that is the contract the fleet relies on.
 */
import { TypedEmitter } from '@profilesync/errors';
import { BusErrorCode, busError } from './errors.js';
import type { Bus, BusEntry, BusEvents, Cursor, MemberRecord, ReadOptions, ShardBatch } from './types.js';
import { checkChannel, checkCursors, checkMemberId, checkPayload, checkReadOptions, checkShard, checkShardCount, comparePositions } from './validate.js';

export interface MemoryBusFaults {
  /** probability that a publish rejects without appending */
  failPublish: number;
  /** probability that a publish appends and then rejects */
  failAfterPublish: number;
  /** probability that a published entry is appended twice */
  duplicate: number;
  /** probability that a read returns only a random prefix of what is available */
  delay: number;
  /** return the shards of a read in a random order */
  reorder: boolean;
  /** probability that an entry is delivered with one byte flipped */
  corrupt: number;
}

export const NO_FAULTS: MemoryBusFaults = Object.freeze({ failPublish: 0, failAfterPublish: 0, duplicate: 0, delay: 0, reorder: false, corrupt: 0 });

export interface MemoryBusServerOptions {
  shards: number;
  /** entries kept per shard (older ones are trimmed; default 10000) */
  maxLen?: number;
  clock?: () => number;
  random?: () => number;
  faults?: Partial<MemoryBusFaults>;
}

interface Shard {
  epoch: string;
  next: number;
  entries: BusEntry[];
  maxDeleted: string;
}

export class MemoryBusServer {
  readonly shards: number;
  readonly maxLen: number;
  faults: MemoryBusFaults;
  readonly #clock: () => number;
  readonly #random: () => number;
  #up = true;
  #generation = 0;
  #streams: Shard[] = [];
  #members = new Map<string, Uint8Array>();
  readonly #clients = new Set<MemoryBus>();
  #wakers = new Set<() => void>();

  constructor(opts: MemoryBusServerOptions) {
    this.shards = checkShardCount(opts.shards);
    this.maxLen = opts.maxLen ?? 10_000;
    this.#clock = opts.clock ?? Date.now;
    this.#random = opts.random ?? Math.random;
    this.faults = { ...NO_FAULTS, ...(opts.faults ?? {}) };
    this.#wipe();
  }

  get up(): boolean {
    return this.#up;
  }

  /** Counts restarts that lost the data (0 until the first). */
  get generation(): number {
    return this.#generation;
  }

  connect(): MemoryBus {
    const c = new MemoryBus(this);
    this.#clients.add(c);
    return c;
  }

  /** The server goes away: every client is disconnected. */
  stop(): void {
    if (!this.#up) return;
    this.#up = false;
    for (const c of this.#clients) c.refresh();
    this.#wake();
  }

  /** The server is back; `empty`: it lost everything (new epochs, no entries, no members). */
  start(opts: { empty?: boolean } = {}): void {
    if (opts.empty) this.#wipe();
    if (this.#up) return this.#wake();
    this.#up = true;
    for (const c of this.#clients) c.refresh();
    this.#wake();
  }

  /** Keeps only the newest `keep` entries of a shard. */
  trim(shard: number, keep: number): void {
    const s = this.#streams[checkShard(shard, this.shards)]!;
    while (s.entries.length > keep) s.maxDeleted = s.entries.shift()!.position;
  }

  /** The entries a shard holds now (tests). */
  entries(shard: number): readonly BusEntry[] {
    return this.#streams[checkShard(shard, this.shards)]!.entries;
  }

  /** @internal */
  forget(c: MemoryBus): void {
    this.#clients.delete(c);
  }

  /** @internal */
  chance(p: number): boolean {
    return p > 0 && this.#random() < p;
  }

  /** @internal */
  pick(n: number): number {
    return Math.floor(this.#random() * n);
  }

  /** @internal */
  append(shard: number, payload: Uint8Array): string {
    const s = this.#streams[shard]!;
    const position = `${s.next++}-0`;
    s.entries.push({ position, time: this.#clock(), payload: payload.slice() });
    if (s.entries.length > this.maxLen) this.trim(shard, this.maxLen);
    this.#wake();
    return position;
  }

  /** @internal */
  readShard(shard: number, cursor: Cursor, count: number): ShardBatch | undefined {
    const s = this.#streams[shard]!;
    if (cursor.epoch !== s.epoch) return { shard, entries: [], next: { epoch: s.epoch, position: '0-0' }, gap: 'epoch', atEnd: false };
    if (comparePositions(s.maxDeleted, cursor.position) > 0) return { shard, entries: [], next: { epoch: s.epoch, position: s.maxDeleted }, gap: 'trimmed', atEnd: false };
    const from = s.entries.findIndex((e) => comparePositions(e.position, cursor.position) > 0);
    if (from < 0) return undefined;
    const entries = s.entries.slice(from, from + count);
    return { shard, entries, next: { epoch: s.epoch, position: entries[entries.length - 1]!.position }, atEnd: from + count >= s.entries.length };
  }

  /** @internal */
  get members(): Map<string, Uint8Array> {
    return this.#members;
  }

  /** @internal resolves on the next append or state change, or after ms */
  waitChange(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wakers.add(done);
    });
  }

  /** @internal */
  deliver(channel: string, payload: Uint8Array): void {
    for (const c of this.#clients) c.onBroadcast(channel, payload);
  }

  #wake(): void {
    for (const w of [...this.#wakers]) w();
  }

  #wipe(): void {
    this.#generation = this.#streams.length === 0 ? 0 : this.#generation + 1;
    this.#streams = Array.from({ length: this.shards }, () => ({ epoch: Math.floor(this.#random() * 2 ** 48).toString(36).padStart(10, '0'), next: 1, entries: [], maxDeleted: '0-0' }));
    this.#members = new Map();
  }
}

export class MemoryBus extends TypedEmitter<BusEvents> implements Bus {
  readonly kind = 'memory';
  readonly shards: number;
  readonly #server: MemoryBusServer;
  #started = false;
  #closed = false;
  #partitioned = false;
  #connected = false;
  #downSince = 0;
  #everUp = false;
  readonly #listeners = new Map<string, Set<(payload: Uint8Array) => void>>();

  constructor(server: MemoryBusServer) {
    super('@profilesync/bus');
    this.#server = server;
    this.shards = server.shards;
  }

  get connected(): boolean {
    return this.#connected;
  }

  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    this.#downSince = Date.now();
    this.refresh();
  }

  /** This node alone loses the bus. */
  partition(): void {
    this.#partitioned = true;
    this.refresh();
  }

  heal(): void {
    this.#partitioned = false;
    this.refresh();
  }

  /** @internal re-evaluates the connection state and emits up/down on a change */
  refresh(): void {
    const now = this.#started && !this.#closed && !this.#partitioned && this.#server.up;
    if (now === this.#connected) return;
    this.#connected = now;
    if (now) {
      const reconnect = this.#everUp;
      this.#everUp = true;
      // asynchronous, like a real reconnect
      queueMicrotask(() => this.emit('up', { reconnect, durationMillis: Date.now() - this.#downSince }));
    } else {
      this.#downSince = Date.now();
      queueMicrotask(() => this.emit('down', { error: this.#closed ? 'closed' : 'unreachable' }));
    }
  }

  async publish(shard: number, payload: Uint8Array): Promise<string> {
    checkShard(shard, this.shards);
    checkPayload(payload);
    this.#check('publish');
    const f = this.#server.faults;
    if (this.#server.chance(f.failPublish)) throw busError(BusErrorCode.UNAVAILABLE, 'injected: publish failed', { op: 'publish' });
    const position = this.#server.append(shard, payload);
    if (this.#server.chance(f.duplicate)) this.#server.append(shard, payload);
    if (this.#server.chance(f.failAfterPublish)) throw busError(BusErrorCode.UNAVAILABLE, 'injected: publish failed after appending', { op: 'publish' });
    return position;
  }

  async read(cursors: readonly Cursor[], opts: ReadOptions): Promise<ShardBatch[]> {
    checkCursors(cursors, this.shards);
    const { count, blockMs } = checkReadOptions(opts);
    this.#check('read');
    let out = this.#collect(cursors, count);
    if (out.length === 0 && blockMs > 0) {
      await this.#server.waitChange(blockMs);
      this.#check('read');
      out = this.#collect(cursors, count);
    }
    return out;
  }

  async announce(id: string, record: Uint8Array): Promise<void> {
    checkMemberId(id);
    checkPayload(record);
    this.#check('announce');
    this.#server.members.set(id, record.slice());
  }

  async members(): Promise<MemberRecord[]> {
    this.#check('members');
    return [...this.#server.members].map(([id, record]) => ({ id, record: record.slice() }));
  }

  async withdraw(id: string): Promise<void> {
    checkMemberId(id);
    this.#check('withdraw');
    this.#server.members.delete(id);
  }

  async broadcast(channel: string, payload: Uint8Array): Promise<void> {
    checkChannel(channel);
    checkPayload(payload);
    this.#check('broadcast');
    const copy = payload.slice();
    setImmediate(() => this.#server.deliver(channel, copy));
  }

  listen(channel: string, handler: (payload: Uint8Array) => void): () => void {
    checkChannel(channel);
    if (typeof handler !== 'function') throw busError(BusErrorCode.INVALID_ARGUMENT, 'handler must be a function', { field: 'handler' });
    if (this.#closed) throw busError(BusErrorCode.CLOSED, 'the bus is closed');
    let set = this.#listeners.get(channel);
    if (!set) this.#listeners.set(channel, (set = new Set()));
    set.add(handler);
    return () => {
      set.delete(handler);
      if (set.size === 0) this.#listeners.delete(channel);
    };
  }

  /** @internal */
  onBroadcast(channel: string, payload: Uint8Array): void {
    if (!this.#connected) return;
    for (const h of this.#listeners.get(channel) ?? []) {
      try {
        h(payload.slice());
      } catch {
        /* a listener's failure is its own */
      }
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.refresh();
    this.#listeners.clear();
    this.#server.forget(this);
  }

  #check(op: string): void {
    if (this.#closed) throw busError(BusErrorCode.CLOSED, 'the bus is closed', { op });
    if (!this.#connected) throw busError(BusErrorCode.UNAVAILABLE, `the bus is not reachable (${op})`, { op });
  }

  #collect(cursors: readonly Cursor[], count: number): ShardBatch[] {
    const f = this.#server.faults;
    const out: ShardBatch[] = [];
    for (let shard = 0; shard < this.shards; shard++) {
      let b = this.#server.readShard(shard, cursors[shard]!, count);
      if (!b) continue;
      if (b.entries.length > 0 && this.#server.chance(f.delay)) {
        const keep = this.#server.pick(b.entries.length + 1);
        if (keep === 0) continue;
        const entries = b.entries.slice(0, keep);
        b = { ...b, entries, next: { epoch: b.next.epoch, position: entries[entries.length - 1]!.position }, atEnd: false };
      }
      if (b.entries.length > 0 && f.corrupt > 0) {
        b = {
          ...b,
          entries: b.entries.map((e) => {
            if (!this.#server.chance(f.corrupt)) return e;
            const payload = e.payload.slice();
            payload[this.#server.pick(payload.length)]! ^= 1 << this.#server.pick(8);
            return { ...e, payload };
          }),
        };
      }
      out.push(b);
    }
    if (f.reorder) {
      for (let i = out.length - 1; i > 0; i--) {
        const j = this.#server.pick(i + 1);
        [out[i], out[j]] = [out[j]!, out[i]!];
      }
    }
    return out;
  }
}
