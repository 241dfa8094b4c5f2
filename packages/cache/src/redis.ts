/**
 * RedisCache: CacheInterface on node-redis.
 *
 * - Every key lives under `prefix` (non-empty); patterns match the part after it, and
 *   the prefix is glob-escaped in MATCH so a user pattern can never reach other keys.
 * - Values are JSON in a typed envelope (envelope.ts), zlib-compressed above
 *   `compressionThreshold`; TTLs are Redis' own (SET PX, PTTL).
 * - keys()/invalidatePattern()/clear()/stats().size walk the keyspace with SCAN (never
 *   KEYS) and delete with UNLINK in batches of `deleteBatch`.
 * - A corrupt entry reads as a miss, counted in stats().corrupt and emitted as
 *   'corrupt-entry' with a CACHE_CORRUPT_ENTRY error.
 * - Failures are coded: CACHE_UNAVAILABLE (cannot reach Redis; commands fail at once
 *   while reconnecting), CACHE_COMMAND_FAILED, CACHE_CLOSED.
 */
import { backoffPolicy } from './backoff.js';
import { TypedEmitter } from '@profilesync/errors';
import { decodeEnvelope, decodeEnvelopeAsync, encodeEnvelope, ASYNC_ZLIB_BYTES } from './envelope.js';
import { CacheErrorCode, cacheError } from './errors.js';
import { compileGlob, escapeGlob } from './glob.js';
import type { CacheMonitor } from './monitor.js';
import { type RedisConnectionEvents, RedisConnection, toCacheError } from './redis-connection.js';
import { type RedisCacheOptions, type ResolvedRedisOptions, resolveRedisOptions } from './redis-options.js';
import { type CacheInterface, type CacheStats, type SetOptions, silentLogger } from './types.js';
import { optPositiveInt, resolveTtl, validateKey, validateSetOptions, validateValue } from './validate.js';

export interface RedisCacheEvents extends RedisConnectionEvents {
  'corrupt-entry': { key: string; error: Error };
}

/** stored values above this size are inflated/parsed off the hot synchronous path */
const ASYNC_DECODE_BYTES = ASYNC_ZLIB_BYTES / 4;

export interface RedisSubscription {
  readonly connection: RedisConnection;
  close(): Promise<void>;
}

export class RedisCache<V = unknown> extends TypedEmitter<RedisCacheEvents> implements CacheInterface<V> {
  readonly prefix: string;
  readonly #o: ResolvedRedisOptions;
  readonly #conn: RedisConnection;
  readonly #monitor: CacheMonitor | undefined;
  readonly #scanPrefix: string;
  readonly #connOpts: ConstructorParameters<typeof RedisConnection>[0];
  #hits = 0;
  #misses = 0;
  #sets = 0;
  #deletes = 0;
  #corrupt = 0;
  #errors = 0;
  #compressed = 0;
  #rawBytes = 0;
  #storedBytes = 0;

  /** Creates the cache without connecting; call start() / whenReady(), or use RedisCache.connect(). */
  constructor(options: RedisCacheOptions = {}) {
    super('@profilesync/cache');
    this.#o = resolveRedisOptions(options);
    this.prefix = this.#o.prefix;
    this.#scanPrefix = escapeGlob(this.prefix);
    this.#monitor = options.monitor;
    const reconnect = backoffPolicy('redis.reconnect', options.reconnect);
    const connOpts: ConstructorParameters<typeof RedisConnection>[0] = {
      url: this.#o.url,
      name: options.clientName ?? 'profilesync-cache',
      reconnect,
      connectTimeoutMs: optPositiveInt('redis.connectTimeoutMs', options.connectTimeoutMs, 2000, 600_000),
      commandTimeoutMs:
        options.commandTimeoutMs === undefined ? undefined : optPositiveInt('redis.commandTimeoutMs', options.commandTimeoutMs, 0),
      logger: options.logger ?? silentLogger,
    };
    if (options.clock) connOpts.clock = options.clock;
    if (options.random) connOpts.random = options.random;
    this.#connOpts = connOpts;
    this.#conn = new RedisConnection(connOpts);
    for (const name of ['ready', 'disconnected', 'reconnecting'] as const) {
      this.#conn.on(name, (e) => this.emit(name, e as never));
    }
  }

  /** Connects (waiting at most connectTimeoutMs overall); on failure closes and throws CACHE_UNAVAILABLE. */
  static async connect<V = unknown>(options: RedisCacheOptions = {}): Promise<RedisCache<V>> {
    const cache = new RedisCache<V>(options);
    try {
      await cache.whenReady(options.connectTimeoutMs ?? 2000);
    } catch (err) {
      await cache.close();
      throw err;
    }
    return cache;
  }

  get ready(): boolean {
    return this.#conn.ready;
  }

  /** default ttl in ms (null = none) */
  get defaultTtl(): number | null {
    return this.#o.defaultTtl;
  }

  get maxKeyLength(): number {
    return this.#o.maxKeyLength;
  }

  /** The underlying connection (pub/sub helpers for TieredCache). */
  get connection(): RedisConnection {
    return this.#conn;
  }

  start(): void {
    this.#conn.start();
  }

  whenReady(timeoutMs: number): Promise<void> {
    return this.#conn.whenReady(timeoutMs);
  }

  ping(): Promise<void> {
    return this.#conn.ping();
  }

  async get(key: string): Promise<V | undefined> {
    validateKey(key, this.#o.maxKeyLength);
    this.#checkOpen();
    const m = this.#monitor;
    const t = m === undefined ? -1 : m.begin('get');
    let buf: Buffer | null;
    try {
      buf = await this.#conn.getBuffer(this.prefix + key);
    } catch (err) {
      throw this.#fail(err, 'get');
    }
    // small values decode synchronously (no extra promise on the hot path)
    const v = buf === null ? undefined : buf.byteLength > ASYNC_DECODE_BYTES ? await this.#decodeAsync(key, buf) : this.#decode(key, buf);
    if (v === undefined) this.#misses++;
    else this.#hits++;
    if (t >= 0) m?.end('get', t);
    return v;
  }

  /** get() plus the remaining ttl (ms, null = none), pipelined in one round trip. */
  async getWithTtl(key: string): Promise<{ value: V; ttl: number | null } | undefined> {
    validateKey(key, this.#o.maxKeyLength);
    this.#checkOpen();
    const full = this.prefix + key;
    let buf: Buffer | null;
    let pttl: number;
    try {
      [buf, pttl] = await Promise.all([this.#conn.getBuffer(full), this.#conn.client.pTTL(full)]);
    } catch (err) {
      throw this.#fail(err, 'get');
    }
    const v = buf === null || pttl === -2 ? undefined : buf.byteLength > ASYNC_DECODE_BYTES ? await this.#decodeAsync(key, buf) : this.#decode(key, buf);
    if (v === undefined) {
      this.#misses++;
      return undefined;
    }
    this.#hits++;
    return { value: v, ttl: pttl < 0 ? null : pttl };
  }

  async set(key: string, value: V, options?: SetOptions): Promise<void> {
    validateKey(key, this.#o.maxKeyLength);
    validateValue(value);
    const ttl = resolveTtl(validateSetOptions(options).ttl, this.#o.defaultTtl);
    this.#checkOpen();
    const m = this.#monitor;
    const t = m === undefined ? -1 : m.begin('set');
    const enc = await encodeEnvelope(value, this.#o);
    try {
      if (ttl === undefined) await this.#conn.client.set(this.prefix + key, enc.bytes);
      else await this.#conn.client.set(this.prefix + key, enc.bytes, { PX: Math.max(1, Math.ceil(ttl)) });
    } catch (err) {
      throw this.#fail(err, 'set');
    }
    this.#sets++;
    if (enc.compressed) this.#compressed++;
    this.#rawBytes += enc.rawBytes;
    this.#storedBytes += enc.bytes.byteLength;
    if (m !== undefined) {
      m.recordCompression(enc.rawBytes, enc.bytes.byteLength, enc.compressed);
      m.recordSize('value', enc.rawBytes);
      m.recordSize('key', key.length);
      if (t >= 0) m.end('set', t);
    }
  }

  async delete(key: string): Promise<boolean> {
    validateKey(key, this.#o.maxKeyLength);
    this.#checkOpen();
    const m = this.#monitor;
    const t = m === undefined ? -1 : m.begin('delete');
    let n: number;
    try {
      n = await this.#conn.client.unlink(this.prefix + key);
    } catch (err) {
      throw this.#fail(err, 'delete');
    }
    this.#deletes += n;
    if (t >= 0) m?.end('delete', t);
    return n > 0;
  }

  async exists(key: string): Promise<boolean> {
    validateKey(key, this.#o.maxKeyLength);
    this.#checkOpen();
    try {
      return (await this.#conn.client.exists(this.prefix + key)) > 0;
    } catch (err) {
      throw this.#fail(err, 'exists');
    }
  }

  async getTtl(key: string): Promise<number | null | undefined> {
    validateKey(key, this.#o.maxKeyLength);
    this.#checkOpen();
    let pttl: number;
    try {
      pttl = await this.#conn.client.pTTL(this.prefix + key);
    } catch (err) {
      throw this.#fail(err, 'getTtl');
    }
    if (pttl === -2) return undefined;
    return pttl === -1 ? null : pttl;
  }

  async clear(): Promise<void> {
    this.#checkOpen();
    await this.#invalidate('*', 'clear');
  }

  async keys(pattern = '*'): Promise<string[]> {
    const glob = compileGlob(pattern);
    this.#checkOpen();
    const m = this.#monitor;
    const t = m === undefined ? -1 : m.begin('keys');
    const out = new Set<string>();
    if (glob.literal !== undefined) {
      // no wildcard: one EXISTS instead of a SCAN of the keyspace (a key longer than the limit cannot exist)
      if (glob.literal.length <= this.#o.maxKeyLength) {
        let n: number;
        try {
          n = await this.#conn.client.exists(this.prefix + glob.literal);
        } catch (err) {
          throw this.#fail(err, 'keys');
        }
        if (n > 0) out.add(glob.literal);
      }
    } else {
      await this.#scan(glob.redisMatch, (batch) => {
        for (const full of batch) {
          const k = full.slice(this.prefix.length);
          if (glob.test(k)) out.add(k);
        }
      });
    }
    if (t >= 0) m?.end('keys', t);
    return [...out];
  }

  async invalidatePattern(pattern: string): Promise<number> {
    compileGlob(pattern);
    this.#checkOpen();
    return this.#invalidate(pattern, 'invalidatePattern');
  }

  async stats(): Promise<CacheStats> {
    this.#checkOpen();
    let size = 0;
    await this.#scan('*', (batch) => {
      size += batch.length;
    });
    return {
      backend: 'redis',
      hits: this.#hits,
      misses: this.#misses,
      sets: this.#sets,
      deletes: this.#deletes,
      evictions: 0,
      expirations: 0,
      size,
      defaultTtl: this.#o.defaultTtl,
      prefix: this.prefix,
      corrupt: this.#corrupt,
      errors: this.#errors,
      connected: this.#conn.ready,
      compression: {
        threshold: this.#o.compressionThreshold,
        level: this.#o.compressionLevel,
        compressed: this.#compressed,
        rawBytes: this.#rawBytes,
        storedBytes: this.#storedBytes,
        ratio: this.#rawBytes > 0 ? this.#storedBytes / this.#rawBytes : null,
      },
    };
  }

  async close(): Promise<void> {
    await this.#conn.close();
  }

  /** PUBLISH on this cache's connection (channels are not prefixed). */
  async publish(channel: string, message: string): Promise<void> {
    this.#checkOpen();
    try {
      await this.#conn.client.publish(channel, message);
    } catch (err) {
      throw this.#fail(err, 'publish');
    }
  }

  /**
   * SUBSCRIBE on a dedicated connection (same url and backoff). node-redis subscribes
   * again after each reconnect; watch `connection` events to know when messages may
   * have been missed.
   */
  async subscribe(channel: string, onMessage: (message: string) => void, timeoutMs = 2000): Promise<RedisSubscription> {
    this.#checkOpen();
    const conn = new RedisConnection({ ...this.#connOpts, name: `${this.#connOpts.name}:sub` });
    try {
      await conn.whenReady(timeoutMs);
      await conn.client.subscribe(channel, (message) => onMessage(message));
    } catch (err) {
      await conn.close();
      throw toCacheError(err, 'subscribe', false);
    }
    return { connection: conn, close: () => conn.close() };
  }

  async #invalidate(pattern: string, op: 'clear' | 'invalidatePattern'): Promise<number> {
    const glob = compileGlob(pattern);
    const m = this.#monitor;
    const t = m === undefined ? -1 : m.begin(op);
    let deleted = 0;
    if (glob.literal !== undefined) {
      try {
        deleted = await this.#conn.client.unlink(this.prefix + glob.literal);
      } catch (err) {
        throw this.#fail(err, op);
      }
    } else {
      let batch: string[] = [];
      const flush = async (): Promise<void> => {
        if (batch.length === 0) return;
        const keys = batch;
        batch = [];
        try {
          deleted += await this.#conn.client.unlink(keys);
        } catch (err) {
          throw this.#fail(err, op);
        }
      };
      await this.#scan(glob.redisMatch, async (found) => {
        for (const full of found) {
          if (glob.test(full.slice(this.prefix.length))) batch.push(full);
          if (batch.length >= this.#o.deleteBatch) await flush();
        }
      });
      await flush();
    }
    this.#deletes += deleted;
    if (t >= 0) m?.end(op, t);
    return deleted;
  }

  /** SCAN over prefix + match until the cursor returns to 0. */
  async #scan(match: string, onBatch: (keys: string[]) => void | Promise<void>): Promise<void> {
    const MATCH = this.#scanPrefix + match;
    let cursor = '0';
    do {
      let reply: { cursor: string; keys: string[] };
      try {
        reply = await this.#conn.client.scan(cursor, { MATCH, COUNT: this.#o.scanCount });
      } catch (err) {
        throw this.#fail(err, 'scan');
      }
      cursor = String(reply.cursor);
      if (reply.keys.length > 0) await onBatch(reply.keys);
    } while (cursor !== '0');
  }

  #decode(key: string, buf: Buffer): V | undefined {
    try {
      return decodeEnvelope(buf, this.#o.maxValueBytes) as V;
    } catch (err) {
      return this.#corruptEntry(key, err);
    }
  }

  async #decodeAsync(key: string, buf: Buffer): Promise<V | undefined> {
    try {
      return (await decodeEnvelopeAsync(buf, this.#o.maxValueBytes)) as V;
    } catch (err) {
      return this.#corruptEntry(key, err);
    }
  }

  #corruptEntry(key: string, err: unknown): undefined {
    this.#corrupt++;
    this.emit('corrupt-entry', { key, error: err as Error });
    return undefined;
  }

  #fail(err: unknown, op: string): Error {
    this.#errors++;
    this.#monitor?.recordError();
    return toCacheError(err, op, this.#conn.closed);
  }

  #checkOpen(): void {
    if (this.#conn.closed) throw cacheError(CacheErrorCode.CLOSED, 'redis cache is closed');
    this.#conn.start();
  }
}

export { DEFAULT_PREFIX, type RedisCacheOptions } from './redis-options.js';
