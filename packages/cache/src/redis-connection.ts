/**
 * One node-redis connection with our policies: reconnect with capped backoff
 * (backoff.ts), commands rejected at once while disconnected (no offline queue, so a
 * dead Redis never makes callers wait), every failure mapped to a coded error, and
 * typed connection events for logs and the fallback.
 */
import { createClient, RESP_TYPES } from 'redis';
import { type BackoffPolicy, backoffDelay } from './backoff.js';
import { TypedEmitter } from '@profilesync/errors';
import { CacheErrorCode, cacheError } from './errors.js';
import { type CacheLogger, type Clock, systemClock } from './types.js';

/** The slice of the node-redis client this package uses (kept narrow on purpose). */
export interface RawRedis {
  readonly isReady: boolean;
  readonly isOpen: boolean;
  connect(): Promise<unknown>;
  close(): Promise<void>;
  destroy(): void;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  get(key: string): Promise<string | null>;
  set(key: string, value: Buffer | string, options?: { PX?: number }): Promise<unknown>;
  unlink(keys: string | string[]): Promise<number>;
  exists(key: string): Promise<number>;
  pTTL(key: string): Promise<number>;
  scan(cursor: string, options: { MATCH: string; COUNT: number }): Promise<{ cursor: string; keys: string[] }>;
  publish(channel: string, message: string): Promise<number>;
  subscribe(channel: string, listener: (message: string, channel: string) => void): Promise<void>;
  unsubscribe(channel: string): Promise<void>;
  ping(): Promise<string>;
  sendCommand(args: string[], options?: object): Promise<unknown>;
}


export interface RedisConnectionEvents {
  /** connected and ready; `durationMillis` = time since start() or since the connection was lost */
  ready: { reconnect: boolean; durationMillis: number };
  /** the connection was lost (or an attempt failed) */
  disconnected: { error: string };
  /** the next attempt is scheduled */
  reconnecting: { attempt: number; delayMs: number };
}

export interface RedisConnectionOptions {
  url: string;
  name: string;
  reconnect: BackoffPolicy;
  connectTimeoutMs: number;
  commandTimeoutMs: number | undefined;
  logger: CacheLogger;
  clock?: Clock;
  random?: () => number;
}

const BUFFER_REPLIES = { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer } };

const UNAVAILABLE_REPLIES = /^(LOADING|BUSY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|READONLY)\b/;

/** Maps anything node-redis throws to a ProfileSyncError (CACHE_UNAVAILABLE / CACHE_COMMAND_FAILED / CACHE_CLOSED). */
export function toCacheError(err: unknown, op: string, closed: boolean): Error {
  if ((err as { name?: string })?.name === 'ProfileSyncError') return err as Error;
  if (closed) return cacheError(CacheErrorCode.CLOSED, `cache is closed (${op})`, { op });
  const name = (err as { constructor?: { name?: string } })?.constructor?.name ?? '';
  const message = (err as Error)?.message ?? String(err);
  if (name === 'ErrorReply' || name === 'SimpleError' || name === 'BlobError' || name === 'MultiErrorReply') {
    if (UNAVAILABLE_REPLIES.test(message)) {
      return cacheError(CacheErrorCode.UNAVAILABLE, `redis is not serving: ${message}`, { op, reason: 'reply' }, err);
    }
    return cacheError(CacheErrorCode.COMMAND_FAILED, `redis rejected ${op}: ${message}`, { op }, err);
  }
  return cacheError(CacheErrorCode.UNAVAILABLE, `redis unavailable (${op}): ${message}`, { op, reason: name || 'error' }, err);
}

export class RedisConnection extends TypedEmitter<RedisConnectionEvents> {
  readonly client: RawRedis;
  readonly #opts: RedisConnectionOptions;
  readonly #clock: Clock;
  #started = false;
  #closed = false;
  #everReady = false;
  #up = false;
  #warned = false;
  #downSince: number;
  #lastError = '';

  constructor(opts: RedisConnectionOptions) {
    super('@profilesync/cache');
    this.#opts = opts;
    this.#clock = opts.clock ?? systemClock;
    this.#downSince = this.#clock.now();
    const clientOptions: Record<string, unknown> = {
      url: opts.url,
      name: opts.name,
      disableOfflineQueue: true,
      socket: {
        connectTimeout: opts.connectTimeoutMs,
        reconnectStrategy: (retries: number) => this.#strategy(retries),
      },
    };
    if (opts.commandTimeoutMs !== undefined) clientOptions.commandOptions = { timeout: opts.commandTimeoutMs };
    const client = createClient(clientOptions);
    client.on('error', (err: Error) => this.#onError(err));
    client.on('ready', () => this.#onReady());
    this.client = client as unknown as RawRedis;
  }

  /**
   * GET answering a Buffer (binary envelopes). Goes straight to sendCommand: one
   * promise instead of the three of client.get() (command wrapper, executor, queue).
   */
  getBuffer(key: string): Promise<Buffer | null> {
    return this.client.sendCommand(['GET', key], BUFFER_REPLIES) as Promise<Buffer | null>;
  }

  get ready(): boolean {
    return !this.#closed && this.client.isReady;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Starts connecting (and reconnecting, forever, with backoff) in the background. */
  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    this.#downSince = this.#clock.now();
    this.client.connect().catch(() => {
      // failures are reported through 'error'; close() ends the attempts
    });
  }

  /** Resolves once ready; rejects CACHE_UNAVAILABLE after timeoutMs (attempts continue). */
  whenReady(timeoutMs: number): Promise<void> {
    if (this.ready) return Promise.resolve();
    if (this.#closed) return Promise.reject(cacheError(CacheErrorCode.CLOSED, 'redis connection is closed'));
    this.start();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(
          cacheError(CacheErrorCode.UNAVAILABLE, `redis not reachable at ${redact(this.#opts.url)} within ${timeoutMs} ms: ${this.#lastError}`, {
            reason: 'connect-timeout',
            timeoutMs,
          }),
        );
      }, timeoutMs);
      timer.unref?.();
      const off = this.on('ready', () => {
        clearTimeout(timer);
        off();
        resolve();
      });
    });
  }

  /** PING; throws CACHE_UNAVAILABLE when Redis does not answer. */
  async ping(): Promise<void> {
    try {
      await this.client.ping();
    } catch (err) {
      throw toCacheError(err, 'ping', this.#closed);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.#started) return;
    if (this.client.isReady) {
      try {
        await this.client.close();
        return;
      } catch {
        // fall through to destroy
      }
    }
    try {
      this.client.destroy();
    } catch {
      // already closed
    }
  }

  #strategy(retries: number): number | false {
    if (this.#closed) return false;
    const delayMs = backoffDelay(retries, this.#opts.reconnect, this.#opts.random);
    this.emit('reconnecting', { attempt: retries + 1, delayMs });
    return delayMs;
  }

  #onError(err: Error): void {
    if (this.#closed) return;
    this.#lastError = err.message || err.constructor.name;
    if (this.#up) {
      this.#up = false;
      this.#downSince = this.#clock.now();
    }
    const fields = { cache: this.#opts.name, url: redact(this.#opts.url), err: this.#lastError };
    if (!this.#warned) {
      this.#warned = true;
      this.#opts.logger.warn(fields, this.#everReady ? 'redis connection lost; reconnecting with backoff' : 'redis unreachable; retrying with backoff');
    } else {
      this.#opts.logger.debug(fields, 'redis connection attempt failed');
    }
    this.emit('disconnected', { error: this.#lastError });
  }

  #onReady(): void {
    const reconnect = this.#everReady;
    this.#everReady = true;
    this.#up = true;
    const durationMillis = this.#clock.now() - this.#downSince;
    if (this.#warned) {
      this.#opts.logger.info({ cache: this.#opts.name, durationMillis }, reconnect ? 'redis connection restored' : 'redis connected');
    }
    this.#warned = false;
    this.#lastError = '';
    this.emit('ready', { reconnect, durationMillis });
  }
}

/** The url without its password, for messages and logs. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}
