/**
 * GET /api/changes: the change feed as Server-Sent Events (DESIGN §6).
 *
 *   id: <epoch>-<lsn>
 *   event: change
 *   data: {"conflicts":0,"deleted":false,"id":"p1","labels":{"prod":"v2..."},"version":"v2..."}
 *
 * A connection first gets what it missed (every visible profile whose latest change is after
 * its Last-Event-ID, oldest first), then one `ready` event (no id; data `{ position,
 * heartbeatMs }`), then live changes as the hub releases them. Comment lines (`: hb`) every
 * heartbeatMs keep proxies and clients from timing the stream out. A client that cannot keep
 * up (more than maxBufferedBytes unsent) is disconnected; it resumes with its Last-Event-ID
 * and loses nothing. Each connection sees only the profiles its token's grants allow (and its
 * `ids` filter).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ChangeHub, FeedChange } from './hub.js';
import { formatPosition } from './hub.js';

export interface FeedOptions {
  heartbeatMs: number;
  /** reconnect delay suggested to EventSource clients (the `retry:` field) */
  retryMs: number;
  maxConnections: number;
  /** a connection with more than this many bytes not yet sent is closed (it resumes) */
  maxBufferedBytes: number;
}

export interface FeedConnectionInfo {
  tokenId: string;
  actor: string;
  requestId: string;
  /** allowed profile ids (grants and ?ids=) */
  allows: (id: string) => boolean;
  /** the lsn to resume after */
  from: number;
}

export interface FeedStats {
  connections: number;
  opened: number;
  closed: number;
  events: number;
  dropped: number;
}

export interface FeedLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

interface Conn {
  info: FeedConnectionInfo;
  res: ServerResponse;
  openedAt: number;
  events: number;
  closed: boolean;
  /** buffered bytes allowed before the client counts as too slow (the catch-up may exceed the usual limit) */
  limit: number;
}

const encodeData = (c: FeedChange): string =>
  // keys sorted: canonical, like the views
  JSON.stringify({ conflicts: c.data.conflicts, deleted: c.data.deleted, id: c.data.id, labels: c.data.labels, version: c.data.version });

export class ChangeFeed {
  readonly #hub: ChangeHub;
  readonly #opts: FeedOptions;
  readonly #logger: FeedLogger;
  readonly #clock: () => number;
  readonly #conns = new Set<Conn>();
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #unsubscribe: (() => void) | undefined;
  #stats: FeedStats = { connections: 0, opened: 0, closed: 0, events: 0, dropped: 0 };
  #closing = false;

  constructor(hub: ChangeHub, opts: FeedOptions, logger: FeedLogger, clock: () => number = Date.now) {
    this.#hub = hub;
    this.#opts = opts;
    this.#logger = logger;
    this.#clock = clock;
  }

  get hub(): ChangeHub {
    return this.#hub;
  }

  get full(): boolean {
    return this.#conns.size >= this.#opts.maxConnections;
  }

  stats(): FeedStats {
    return { ...this.#stats, connections: this.#conns.size };
  }

  /**
   * Takes over a request's socket: writes the headers, the catch-up, the `ready` event, then
   * live changes until the client goes away, the token is revoked or the node closes.
   * Returns a function that ends this stream.
   */
  open(req: IncomingMessage, res: ServerResponse, info: FeedConnectionInfo): () => void {
    const conn: Conn = { info, res, openedAt: this.#clock(), events: 0, closed: false, limit: this.#opts.maxBufferedBytes };
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      // the socket goes with the stream: a reconnect (after a shutdown or revocation) opens a new
      // connection instead of reusing this one on a node that is closing
      connection: 'close',
      'x-accel-buffering': 'no',
      'x-request-id': info.requestId,
    });
    res.socket?.setNoDelay(true);
    const catchUp = this.#hub.since(info.from, info.allows);
    let head = `retry: ${this.#opts.retryMs}\n\n`;
    for (const c of catchUp) head += this.#event(c);
    const position = formatPosition(this.#hub.epoch, Math.max(info.from, this.#hub.position));
    head += `event: ready\ndata: ${JSON.stringify({ heartbeatMs: this.#opts.heartbeatMs, position })}\n\n`;
    // catch-up and subscription in the same turn: every later change arrives exactly once
    this.#conns.add(conn);
    this.#ensureRunning();
    this.#stats.opened++;
    conn.events += catchUp.length;
    conn.limit += Buffer.byteLength(head);
    this.#stats.events += catchUp.length;
    this.#write(conn, head);
    const end = (): void => this.#end(conn, 'client');
    req.on('close', end);
    res.on('close', end);
    res.on('error', end);
    this.#logger.info({ reqId: info.requestId, actor: info.actor, from: info.from, catchUp: catchUp.length }, 'change feed opened');
    return () => this.#end(conn, 'server');
  }

  /** Ends every stream of one token (revocation). Returns how many were closed. */
  closeToken(tokenId: string): number {
    let n = 0;
    for (const c of [...this.#conns]) {
      if (c.info.tokenId === tokenId) {
        this.#end(c, 'revoked');
        n++;
      }
    }
    return n;
  }

  /** Ends every stream (shutdown); clients reconnect and resume elsewhere or later. */
  close(): void {
    this.#closing = true;
    for (const c of [...this.#conns]) this.#end(c, 'shutdown');
    this.#stop();
  }

  #event(c: FeedChange): string {
    return `id: ${formatPosition(this.#hub.epoch, c.lsn)}\nevent: change\ndata: ${encodeData(c)}\n\n`;
  }

  #onBatch(batch: readonly FeedChange[]): void {
    // one serialization per change, shared by every connection
    const texts = batch.map((c) => this.#event(c));
    for (const conn of this.#conns) {
      let out = '';
      let n = 0;
      for (let i = 0; i < batch.length; i++) {
        if (conn.info.allows(batch[i]!.data.id)) {
          out += texts[i];
          n++;
        }
      }
      if (n === 0) continue;
      conn.events += n;
      this.#stats.events += n;
      this.#write(conn, out);
    }
  }

  #write(conn: Conn, text: string): void {
    if (conn.closed) return;
    conn.res.write(text);
    if (conn.res.writableLength > conn.limit) {
      this.#stats.dropped++;
      this.#logger.warn({ reqId: conn.info.requestId, actor: conn.info.actor, buffered: conn.res.writableLength }, 'change feed client too slow: disconnected (it resumes with Last-Event-ID)');
      this.#end(conn, 'slow');
      conn.res.destroy();
    }
  }

  #end(conn: Conn, reason: 'client' | 'server' | 'revoked' | 'shutdown' | 'slow'): void {
    if (conn.closed) return;
    conn.closed = true;
    this.#conns.delete(conn);
    this.#stats.closed++;
    if (!conn.res.writableEnded) conn.res.end();
    this.#logger.info({ reqId: conn.info.requestId, actor: conn.info.actor, reason, events: conn.events, durationMillis: this.#clock() - conn.openedAt }, 'change feed closed');
    if (this.#conns.size === 0) this.#stop();
  }

  #ensureRunning(): void {
    if (this.#closing) return;
    this.#unsubscribe ??= this.#hub.subscribe((b) => this.#onBatch(b));
    if (this.#heartbeat === undefined) {
      this.#heartbeat = setInterval(() => {
        for (const c of this.#conns) this.#write(c, ': hb\n\n');
      }, this.#opts.heartbeatMs);
      this.#heartbeat.unref?.();
    }
  }

  #stop(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    if (this.#heartbeat !== undefined) clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
  }
}
