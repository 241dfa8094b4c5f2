/**
 * RedisStreamsBus: the Bus port on Redis Streams (node-redis, Redis >= 7.0).
 *
 * Keys (every shard's keys share the hash tag `{<prefix>:<shard>}`, so a Redis Cluster can
 * spread shards over its nodes while each shard's script stays slot-local):
 *   {<prefix>:<n>}:log     the shard's stream; entries { d: payload }, trimmed to ~maxLen
 *                          entries on every XADD and to maxAgeMs by a periodic XTRIM MINID
 *   {<prefix>:<n>}:epoch   a random id of the stream's incarnation; created when missing, so
 *                          a Redis that lost its data (restart without persistence,
 *                          FLUSHALL, failover to an empty replica) shows a new epoch
 *   {<prefix>:members}     hash: member id -> record
 *   <prefix>:ch:<channel>  pub/sub channels (ephemeral)
 *
 * Three connections: commands (XADD, the read script, members, PUBLISH), one for the
 * blocking XREAD (used only as a wake-up; the entries are then read by the atomic read
 * script), and a subscriber created on the first listen(). No offline queue: while Redis is
 * unreachable every call rejects BUS_UNAVAILABLE at once, and reconnects run with capped
 * exponential backoff.
 */
import { randomBytes } from 'node:crypto';
import { createClient, RESP_TYPES } from 'redis';
import { TypedEmitter } from '@profilesync/errors';
import { BusErrorCode, busError } from './errors.js';
import { PUBLISH_SCRIPT, READ_SCRIPT, script, TRIM_AGE_SCRIPT, type Script } from './redis-scripts.js';
import type { Bus, BusEntry, BusEvents, Cursor, GapReason, MemberRecord, ReadOptions, ShardBatch } from './types.js';
import { checkChannel, checkCursors, checkMemberId, checkPayload, checkReadOptions, checkShard, checkShardCount, parsePosition } from './validate.js';

export interface BusLogger {
  debug?(obj: Record<string, unknown>, msg?: string): void;
  info?(obj: Record<string, unknown>, msg?: string): void;
  warn(obj: Record<string, unknown>, msg?: string): void;
  error(obj: Record<string, unknown>, msg?: string): void;
}

const silent: BusLogger = { warn: () => undefined, error: () => undefined };

export interface RedisBusOptions {
  /** redis:// or rediss:// URL */
  url: string;
  /** number of shard streams (default 16); every member of a fleet must use the same */
  shards?: number;
  /** key prefix (default 'profilesync:fleet') */
  prefix?: string;
  /** entries kept per shard, approximately (default 10000) */
  maxLen?: number;
  /** entries older than this are trimmed (ms, default 24 h; 0 = by length only) */
  maxAgeMs?: number;
  connectTimeoutMs?: number;
  /** a command that takes longer fails with BUS_UNAVAILABLE (default 2000) */
  commandTimeoutMs?: number;
  reconnect?: { baseMs: number; maxMs: number };
  logger?: BusLogger;
  random?: () => number;
}

export const DEFAULT_SHARDS = 16;
export const DEFAULT_PREFIX = 'profilesync:fleet';
/** the atomic epoch/trim check runs at least this often even when plain reads would do */
const VERIFY_EVERY_MS = 5_000;

const BUFFERS = { [RESP_TYPES.BLOB_STRING]: Buffer } as const;
const UNAVAILABLE_REPLY = /^(LOADING|BUSY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|READONLY)\b/;

type Client = ReturnType<typeof createClient>;

/** The URL without its password (for logs and messages). */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

const str = (v: unknown): string => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v));

export class RedisStreamsBus extends TypedEmitter<BusEvents> implements Bus {
  readonly kind = 'redis';
  readonly shards: number;
  readonly prefix: string;
  readonly url: string;
  readonly #o: Required<Omit<RedisBusOptions, 'logger' | 'random' | 'reconnect'>> & { reconnect: { baseMs: number; maxMs: number } };
  readonly #logger: BusLogger;
  readonly #random: () => number;
  readonly #cmd: Client;
  readonly #blocker: Client;
  #sub: Client | undefined;
  readonly #channels = new Map<string, Set<(payload: Uint8Array) => void>>();
  readonly #publish: Script = script(PUBLISH_SCRIPT);
  readonly #read: Script = script(READ_SCRIPT);
  readonly #trimAge: Script = script(TRIM_AGE_SCRIPT);
  #started = false;
  #closed = false;
  #connected = false;
  #everUp = false;
  #downSince = Date.now();
  #lastError = '';
  #warned = false;
  #unsupported: string | undefined;
  #trimTimer: ReturnType<typeof setInterval> | undefined;
  readonly #shardOfKey = new Map<string, number>();
  /** epochs seen by the last script pass, when, and for which connection generation */
  #verified: string[] | undefined;
  #verifiedAt = 0;
  #verifiedGeneration = -1;
  /** bumped whenever a connection (re)connects: a Redis restart goes unseen by nothing else */
  #generation = 0;

  constructor(opts: RedisBusOptions) {
    super('@profilesync/bus');
    if (typeof opts?.url !== 'string' || !/^rediss?:\/\//.test(opts.url)) throw busError(BusErrorCode.INVALID_ARGUMENT, 'url must be a redis:// or rediss:// URL', { field: 'url' });
    const prefix = opts.prefix ?? DEFAULT_PREFIX;
    if (typeof prefix !== 'string' || !/^[A-Za-z0-9._:-]{1,64}$/.test(prefix)) throw busError(BusErrorCode.INVALID_ARGUMENT, 'prefix is 1..64 of [A-Za-z0-9._:-]', { field: 'prefix' });
    const int = (field: string, v: number | undefined, def: number, min: number, max: number): number => {
      const x = v ?? def;
      if (!Number.isInteger(x) || x < min || x > max) throw busError(BusErrorCode.INVALID_ARGUMENT, `${field} must be an integer in ${min}..${max}`, { field });
      return x;
    };
    this.shards = checkShardCount(opts.shards ?? DEFAULT_SHARDS);
    this.prefix = prefix;
    this.url = opts.url;
    this.#o = {
      url: opts.url,
      shards: this.shards,
      prefix,
      maxLen: int('maxLen', opts.maxLen, 10_000, 10, 100_000_000),
      maxAgeMs: int('maxAgeMs', opts.maxAgeMs, 24 * 3_600_000, 0, 365 * 24 * 3_600_000),
      connectTimeoutMs: int('connectTimeoutMs', opts.connectTimeoutMs, 2_000, 10, 600_000),
      commandTimeoutMs: int('commandTimeoutMs', opts.commandTimeoutMs, 2_000, 10, 600_000),
      reconnect: opts.reconnect ?? { baseMs: 50, maxMs: 2_000 },
    };
    this.#logger = opts.logger ?? silent;
    this.#random = opts.random ?? Math.random;
    this.#cmd = this.#client('profilesync-bus', true);
    this.#blocker = this.#client('profilesync-bus-reader', false);
    this.#cmd.on('ready', () => void this.#onReady());
    for (const c of [this.#cmd, this.#blocker]) c.on('ready', () => this.#generation++);
    for (let s = 0; s < this.shards; s++) this.#shardOfKey.set(this.streamKey(s), s);
  }

  get connected(): boolean {
    return this.#connected;
  }

  streamKey(shard: number): string {
    return `{${this.prefix}:${shard}}:log`;
  }

  epochKey(shard: number): string {
    return `{${this.prefix}:${shard}}:epoch`;
  }

  seqKey(shard: number): string {
    return `{${this.prefix}:${shard}}:seq`;
  }

  get membersKey(): string {
    return `{${this.prefix}:members}`;
  }

  channelKey(channel: string): string {
    return `${this.prefix}:ch:${channel}`;
  }

  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    this.#downSince = Date.now();
    for (const c of [this.#cmd, this.#blocker]) c.connect().catch(() => undefined);
    if (this.#o.maxAgeMs > 0) {
      const every = Math.min(60_000, Math.max(1_000, Math.floor(this.#o.maxAgeMs / 4)));
      this.#trimTimer = setInterval(() => void this.#trimByAge(), every);
      this.#trimTimer.unref?.();
    }
  }

  /** Resolves once connected, or rejects BUS_UNAVAILABLE after timeoutMs (attempts continue). */
  whenConnected(timeoutMs: number): Promise<void> {
    if (this.#connected) return Promise.resolve();
    if (this.#closed) return Promise.reject(busError(BusErrorCode.CLOSED, 'the bus is closed'));
    this.start();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(busError(BusErrorCode.UNAVAILABLE, `redis not reachable at ${redactUrl(this.url)} within ${timeoutMs} ms${this.#lastError ? `: ${this.#lastError}` : ''}`, { timeoutMs }));
      }, timeoutMs);
      const off = this.on('up', () => {
        clearTimeout(timer);
        off();
        resolve();
      });
    });
  }

  async publish(shard: number, payload: Uint8Array): Promise<string> {
    checkShard(shard, this.shards);
    checkPayload(payload);
    this.#ready('publish');
    try {
      return str(await this.#eval(this.#publish, [this.streamKey(shard), this.seqKey(shard)], [String(this.#o.maxLen), Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)]));
    } catch (err) {
      throw this.#error(err, 'publish');
    }
  }

  async read(cursors: readonly Cursor[], opts: ReadOptions): Promise<ShardBatch[]> {
    checkCursors(cursors, this.shards);
    const { count, blockMs } = checkReadOptions(opts);
    this.#ready('read');
    // The atomic script pass checks every shard's epoch and first entry. It is needed after a
    // (re)connect (Redis may have restarted empty), for cursors of another epoch than the one last
    // seen, and every few seconds (data lost without a reconnect: FLUSHALL, eviction); otherwise a
    // plain XREAD is enough, because entries that continue the cursors' numbering cannot hide a gap.
    if (this.#mustVerify(cursors)) {
      const out = await this.#readOnce(cursors, count);
      if (out.length > 0 || blockMs === 0) return out;
    }
    if (!this.#blocker.isReady) throw busError(BusErrorCode.UNAVAILABLE, 'the reader connection is not ready', { op: 'read' });
    const args = blockMs > 0 ? ['XREAD', 'COUNT', String(count), 'BLOCK', String(blockMs), 'STREAMS'] : ['XREAD', 'COUNT', String(count), 'STREAMS'];
    for (let s = 0; s < this.shards; s++) args.push(this.streamKey(s));
    for (const c of cursors) args.push(c.position);
    const generation = this.#generation;
    let reply: unknown;
    try {
      reply = await this.#blocker.sendCommand(args, { timeout: blockMs + this.#o.commandTimeoutMs, typeMapping: BUFFERS });
    } catch (err) {
      throw this.#error(err, 'read');
    }
    const direct = generation === this.#generation ? this.#contiguous(cursors, reply, count) : undefined;
    if (direct) return direct;
    this.#ready('read');
    return this.#readOnce(cursors, count);
  }

  #mustVerify(cursors: readonly Cursor[]): boolean {
    if (this.#verified === undefined || this.#verifiedGeneration !== this.#generation || Date.now() - this.#verifiedAt > VERIFY_EVERY_MS) return true;
    for (let s = 0; s < cursors.length; s++) if (cursors[s]!.epoch !== this.#verified[s]) return true;
    return false;
  }

  /** The XREAD reply as batches if every shard's entries continue its cursor's numbering; else undefined. */
  #contiguous(cursors: readonly Cursor[], reply: unknown, count: number): ShardBatch[] | undefined {
    if (reply === null || reply === undefined) return [];
    // RESP2 gives [[key, rows], ...]; with a type mapping node-redis may hand a Map or an object
    const streams: [unknown, unknown][] = Array.isArray(reply) ? (reply as [unknown, unknown][]) : reply instanceof Map ? [...reply] : typeof reply === 'object' ? Object.entries(reply as object) : [];
    if (streams.length === 0) return [];
    const out: ShardBatch[] = [];
    for (const [key, rows] of streams) {
      const shard = this.#shardOfKey.get(str(key));
      if (shard === undefined || !Array.isArray(rows) || rows.length === 0) return undefined;
      const cursor = cursors[shard]!;
      if (cursor.epoch === '') return undefined;
      let expected = parsePosition(cursor.position)![1] + 1n;
      for (const row of rows) {
        const pos = Array.isArray(row) ? parsePosition(str(row[0])) : undefined;
        if (!pos || pos[1] !== expected) return undefined;
        expected++;
      }
      const b = this.#batch(shard, cursor, ['ok', cursor.epoch, rows], count);
      if (!b || b.gap) return undefined;
      out.push(b);
    }
    return out;
  }

  async announce(id: string, record: Uint8Array): Promise<void> {
    checkMemberId(id);
    checkPayload(record);
    this.#ready('announce');
    try {
      await this.#cmd.sendCommand(['HSET', this.membersKey, id, Buffer.from(record)]);
    } catch (err) {
      throw this.#error(err, 'announce');
    }
  }

  async members(): Promise<MemberRecord[]> {
    this.#ready('members');
    let reply: unknown;
    try {
      reply = await this.#cmd.sendCommand(['HGETALL', this.membersKey], { typeMapping: BUFFERS });
    } catch (err) {
      throw this.#error(err, 'members');
    }
    const out: MemberRecord[] = [];
    const push = (k: unknown, v: unknown): void => {
      if (Buffer.isBuffer(v) && v.length > 0) out.push({ id: str(k), record: new Uint8Array(v) });
    };
    if (Array.isArray(reply)) for (let i = 0; i + 1 < reply.length; i += 2) push(reply[i], reply[i + 1]);
    else if (reply instanceof Map) for (const [k, v] of reply) push(k, v);
    else if (reply && typeof reply === 'object') for (const [k, v] of Object.entries(reply)) push(k, v);
    return out;
  }

  async withdraw(id: string): Promise<void> {
    checkMemberId(id);
    this.#ready('withdraw');
    try {
      await this.#cmd.sendCommand(['HDEL', this.membersKey, id]);
    } catch (err) {
      throw this.#error(err, 'withdraw');
    }
  }

  async broadcast(channel: string, payload: Uint8Array): Promise<void> {
    checkChannel(channel);
    checkPayload(payload);
    this.#ready('broadcast');
    try {
      await this.#cmd.sendCommand(['PUBLISH', this.channelKey(channel), Buffer.from(payload)]);
    } catch (err) {
      throw this.#error(err, 'broadcast');
    }
  }

  listen(channel: string, handler: (payload: Uint8Array) => void): () => void {
    checkChannel(channel);
    if (typeof handler !== 'function') throw busError(BusErrorCode.INVALID_ARGUMENT, 'handler must be a function', { field: 'handler' });
    if (this.#closed) throw busError(BusErrorCode.CLOSED, 'the bus is closed');
    let set = this.#channels.get(channel);
    if (!set) {
      this.#channels.set(channel, (set = new Set()));
      void this.#subscribe(channel);
    }
    set.add(handler);
    return () => {
      set.delete(handler);
      if (set.size > 0 || this.#channels.get(channel) !== set) return;
      this.#channels.delete(channel);
      if (this.#sub?.isReady) void this.#sub.unsubscribe(this.channelKey(channel)).catch(() => undefined);
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#trimTimer) clearInterval(this.#trimTimer);
    const wasConnected = this.#connected;
    this.#connected = false;
    for (const c of [this.#cmd, this.#blocker, this.#sub]) {
      if (!c) continue;
      try {
        c.destroy();
      } catch {
        /* not open */
      }
    }
    this.#channels.clear();
    if (wasConnected) this.emit('down', { error: 'closed' });
  }

  // --- internals ---------------------------------------------------------------------

  #client(name: string, main: boolean): Client {
    const c = createClient({
      url: this.#o.url,
      name,
      disableOfflineQueue: true,
      commandOptions: { timeout: this.#o.commandTimeoutMs },
      socket: {
        connectTimeout: this.#o.connectTimeoutMs,
        reconnectStrategy: (retries: number) => {
          if (this.#closed) return false;
          const { baseMs, maxMs } = this.#o.reconnect;
          const d = Math.min(maxMs, baseMs * 2 ** Math.min(retries, 20));
          return Math.round(d * (1 - 0.2 * this.#random()));
        },
      },
    });
    c.on('error', (err: Error) => (main ? this.#onError(err) : undefined));
    return c as Client;
  }

  async #onReady(): Promise<void> {
    if (this.#closed) return;
    try {
      const info = str(await this.#cmd.sendCommand(['INFO', 'server']));
      const m = /redis_version:(\d+)\.(\d+)/.exec(info);
      if (m && Number(m[1]) < 7) {
        this.#unsupported = `redis ${m[1]}.${m[2]} has no max-deleted-entry-id; the bus needs Redis >= 7.0`;
        this.#logger.error({ url: redactUrl(this.url) }, this.#unsupported);
        return;
      }
      const policy = (await this.#cmd.sendCommand(['CONFIG', 'GET', 'maxmemory-policy']).catch(() => undefined)) as unknown;
      const value = Array.isArray(policy) ? str(policy[1]) : policy && typeof policy === 'object' ? str(Object.values(policy)[0]) : undefined;
      if (value !== undefined && value !== 'noeviction') this.#logger.warn({ url: redactUrl(this.url), policy: value }, 'redis maxmemory-policy is not noeviction: evicted stream or epoch keys cost a repair');
    } catch (err) {
      if (!this.#cmd.isReady) return; // lost again: the next ready retries
      this.#logger.warn({ err: (err as Error).message }, 'redis version check failed');
    }
    if (this.#connected || !this.#cmd.isReady) return;
    this.#connected = true;
    const reconnect = this.#everUp;
    this.#everUp = true;
    const durationMillis = reconnect ? Date.now() - this.#downSince : 0;
    if (this.#warned) this.#logger.info?.({ url: redactUrl(this.url), durationMillis }, 'bus: redis connection restored');
    this.#warned = false;
    this.#lastError = '';
    this.emit('up', { reconnect, durationMillis });
  }

  #onError(err: Error): void {
    if (this.#closed) return;
    this.#lastError = err.message || err.constructor.name;
    if (!this.#warned) {
      this.#warned = true;
      this.#logger.warn({ url: redactUrl(this.url), err: this.#lastError }, this.#everUp ? 'bus: redis connection lost; reconnecting with backoff' : 'bus: redis unreachable; retrying with backoff');
    }
    if (this.#connected) {
      this.#connected = false;
      this.#downSince = Date.now();
      this.emit('down', { error: this.#lastError });
    }
  }

  #ready(op: string): void {
    if (this.#closed) throw busError(BusErrorCode.CLOSED, 'the bus is closed', { op });
    if (this.#unsupported) throw busError(BusErrorCode.UNSUPPORTED, this.#unsupported, { op });
    if (!this.#connected || !this.#cmd.isReady) throw busError(BusErrorCode.UNAVAILABLE, `redis is not reachable (${op})${this.#lastError ? `: ${this.#lastError}` : ''}`, { op });
  }

  #error(err: unknown, op: string): Error {
    if ((err as { name?: string })?.name === 'ProfileSyncError') return err as Error;
    if (this.#closed) return busError(BusErrorCode.CLOSED, 'the bus is closed', { op });
    const name = (err as { constructor?: { name?: string } })?.constructor?.name ?? '';
    const message = (err as Error)?.message ?? String(err);
    if ((name === 'ErrorReply' || name === 'SimpleError' || name === 'BlobError') && !UNAVAILABLE_REPLY.test(message)) {
      return busError(BusErrorCode.COMMAND_FAILED, `redis rejected ${op}: ${message}`, { op }, err);
    }
    return busError(BusErrorCode.UNAVAILABLE, `redis unavailable (${op}): ${message}`, { op }, err);
  }

  async #eval(s: Script, keys: string[], args: (string | Buffer)[]): Promise<unknown> {
    const opts = { typeMapping: BUFFERS };
    try {
      return await this.#cmd.sendCommand(['EVALSHA', s.sha, String(keys.length), ...keys, ...args], opts);
    } catch (err) {
      if (!/^NOSCRIPT/.test((err as Error)?.message ?? '')) throw err;
      return this.#cmd.sendCommand(['EVAL', s.text, String(keys.length), ...keys, ...args], opts);
    }
  }

  async #readOnce(cursors: readonly Cursor[], count: number): Promise<ShardBatch[]> {
    const fresh = randomBytes(8).toString('hex');
    const generation = this.#generation;
    let replies: unknown[];
    try {
      // one script per shard (slot-local), issued together: node-redis pipelines them
      replies = await Promise.all(cursors.map((c, shard) => this.#eval(this.#read, [this.epochKey(shard), this.streamKey(shard), this.seqKey(shard)], [c.epoch, c.position, String(count), fresh])));
    } catch (err) {
      throw this.#error(err, 'read');
    }
    const out: ShardBatch[] = [];
    const epochs: string[] = [];
    replies.forEach((reply, shard) => {
      const b = this.#batch(shard, cursors[shard]!, reply, count);
      if (b) out.push(b);
      epochs.push(Array.isArray(reply) && reply.length >= 2 ? str(reply[1]) : '');
    });
    this.#verified = epochs;
    this.#verifiedAt = Date.now();
    this.#verifiedGeneration = generation;
    return out;
  }

  /** One shard's script reply as a batch (undefined: nothing new). Malformed entries are skipped as a 'bad-entry' gap. */
  #batch(shard: number, cursor: Cursor, reply: unknown, count: number): ShardBatch | undefined {
    if (!Array.isArray(reply) || reply.length < 2) return { shard, entries: [], next: cursor, gap: 'bad-entry', atEnd: false };
    const kind = str(reply[0]);
    const epoch = str(reply[1]);
    if (kind === 'epoch') return { shard, entries: [], next: { epoch, position: '0-0' }, gap: 'epoch', atEnd: false };
    if (kind === 'trimmed') {
      const maxDeleted = str(reply[2]);
      if (!parsePosition(maxDeleted)) return { shard, entries: [], next: cursor, gap: 'bad-entry', atEnd: false };
      return { shard, entries: [], next: { epoch, position: maxDeleted }, gap: 'trimmed', atEnd: false };
    }
    const rows = Array.isArray(reply[2]) ? (reply[2] as unknown[]) : [];
    if (rows.length === 0) return undefined;
    const entries: BusEntry[] = [];
    let gap: GapReason | undefined;
    let last = cursor.position;
    // entry numbers run 1, 2, 3, ... per epoch (the seq part of the id): a hole means a loss
    let expected = parsePosition(cursor.position)![1] + 1n;
    for (const row of rows) {
      const id = Array.isArray(row) ? str(row[0]) : '';
      const pos = parsePosition(id);
      if (!pos) {
        gap = 'bad-entry';
        continue;
      }
      if (pos[1] !== expected) gap ??= 'trimmed';
      expected = pos[1] + 1n;
      last = id;
      const fields = Array.isArray(row) && Array.isArray(row[1]) ? (row[1] as unknown[]) : [];
      let payload: Buffer | undefined;
      for (let i = 0; i + 1 < fields.length; i += 2) if (str(fields[i]) === 'd' && Buffer.isBuffer(fields[i + 1])) payload = fields[i + 1] as Buffer;
      if (!payload || payload.length === 0) {
        gap = 'bad-entry';
        continue;
      }
      entries.push({ position: id, time: Number(pos[0]), payload: new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength) });
    }
    return { shard, entries, next: { epoch, position: last }, atEnd: rows.length < count, ...(gap ? { gap } : {}) };
  }

  async #subscribe(channel: string): Promise<void> {
    if (!this.#sub) {
      this.#sub = this.#client('profilesync-bus-sub', false);
      this.#sub.connect().catch(() => undefined);
    }
    const key = this.channelKey(channel);
    const deliver = (message: Buffer): void => {
      for (const h of this.#channels.get(channel) ?? []) {
        try {
          h(new Uint8Array(message.buffer, message.byteOffset, message.byteLength));
        } catch {
          /* a listener's failure is its own */
        }
      }
    };
    // node-redis queues SUBSCRIBE until the subscriber connects and re-subscribes after reconnects
    for (let attempt = 0; !this.#closed && this.#channels.has(channel); attempt++) {
      try {
        await this.#sub.subscribe(key, deliver, true);
        return;
      } catch {
        await new Promise((r) => setTimeout(r, Math.min(2_000, 50 * 2 ** Math.min(attempt, 6))).unref?.());
      }
    }
  }

  async #trimByAge(): Promise<void> {
    if (!this.#connected) return;
    try {
      await Promise.all(Array.from({ length: this.shards }, (_, s) => this.#eval(this.#trimAge, [this.streamKey(s)], [String(this.#o.maxAgeMs)])));
    } catch (err) {
      this.#logger.debug?.({ err: (err as Error).message }, 'bus: age trim failed');
    }
  }
}
