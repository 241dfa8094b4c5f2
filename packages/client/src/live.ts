/**
 * The live subscription: GET /api/changes (Server-Sent Events) over `fetch`, parsed with
 * eventsource-parser, so it runs wherever fetch streams do (Node 20+, browsers, edge runtimes)
 * and can send the Authorization header (a browser EventSource cannot).
 *
 * It keeps the last event id (or the `ready` position) and reconnects with it as
 * Last-Event-ID, so the node sends exactly what was missed, also across a node restart.
 * Reconnects back off exponentially with jitter; a stream silent for longer than two
 * heartbeats (plus slack) is treated as dead and reopened.
 */
import { createParser } from 'eventsource-parser';
import { ClientError, ClientErrorCode } from './errors.js';
import { describe, type FetchLike, type Http } from './http.js';
import type { ChangeData } from './types.js';

export interface BackoffOptions {
  /** first reconnect delay (ms) */
  baseMs: number;
  /** longest reconnect delay (ms) */
  maxMs: number;
}

export interface LiveHandlers {
  change(data: ChangeData, eventId: string): void;
  /** the catch-up is over: from now on every change arrives */
  ready(position: string): void;
  /** the stream is gone (error undefined when the node ended it) */
  down(error: ClientError | undefined): void;
}

export interface LiveOptions {
  http: Http;
  fetch: FetchLike;
  backoff: BackoffOptions;
  /** initial position (Last-Event-ID) */
  position?: string;
  random?: () => number;
  /** extra silence allowed beyond two heartbeats before the stream counts as dead (ms) */
  slackMs?: number;
}

/** Reconnect delay for the n-th attempt (0-based): exponential, capped, with jitter in [50%, 100%]. */
export function backoffDelay(attempt: number, b: BackoffOptions, random: () => number = Math.random): number {
  const exp = Math.min(b.maxMs, b.baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(exp * (0.5 + 0.5 * random()));
}

function isChangeData(v: unknown): v is ChangeData {
  const d = v as ChangeData;
  return typeof d === 'object' && d !== null && typeof d.id === 'string' && typeof d.version === 'string' && typeof d.deleted === 'boolean' && typeof d.labels === 'object' && d.labels !== null;
}

export class LiveFeed {
  readonly #opts: LiveOptions;
  readonly #handlers: LiveHandlers;
  readonly #random: () => number;
  #position: string | undefined;
  #connected = false;
  #closed = false;
  #abort: AbortController | undefined;
  #wake: (() => void) | undefined;
  #running: Promise<void> | undefined;

  constructor(opts: LiveOptions, handlers: LiveHandlers) {
    this.#opts = opts;
    this.#handlers = handlers;
    this.#random = opts.random ?? Math.random;
    this.#position = opts.position;
  }

  /** true between a `ready` and the end of that stream */
  get connected(): boolean {
    return this.#connected;
  }

  /** the position a reconnect resumes from */
  get position(): string | undefined {
    return this.#position;
  }

  start(): void {
    this.#running ??= this.#run();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#abort?.abort();
    this.#wake?.();
    await this.#running;
  }

  async #run(): Promise<void> {
    let attempt = 0;
    while (!this.#closed) {
      const hadReady = await this.#once();
      if (this.#closed) break;
      if (hadReady) attempt = 0;
      const delay = backoffDelay(attempt++, this.#opts.backoff, this.#random);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, delay);
        this.#wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }

  /** One connection, until it ends. Returns whether it reached `ready`. */
  async #once(): Promise<boolean> {
    const abort = new AbortController();
    this.#abort = abort;
    let ready = false;
    let error: ClientError | undefined;
    let watchdog: ReturnType<typeof setTimeout> | undefined;
    let silenceMs = 2 * 15_000 + (this.#opts.slackMs ?? 5_000);
    const arm = () => {
      if (watchdog !== undefined) clearTimeout(watchdog);
      watchdog = setTimeout(() => abort.abort(new Error('no data within two heartbeats')), silenceMs);
    };
    try {
      const headers = this.#opts.http.headers({ accept: 'text/event-stream' });
      if (this.#position !== undefined) headers['last-event-id'] = this.#position;
      arm();
      let res: Response;
      try {
        res = await this.#opts.fetch(`${this.#opts.http.base}/api/changes`, { headers, signal: abort.signal });
      } catch (err) {
        throw new ClientError(ClientErrorCode.UNAVAILABLE, `change feed: ${describe(err)}`, { cause: err, details: { reason: 'network' } });
      }
      if (!res.ok || res.body === null) {
        let code: string = ClientErrorCode.UNAVAILABLE;
        let message = `change feed: the node answered ${res.status}`;
        try {
          const body = (await res.json()) as { error?: { code?: string; message?: string } };
          if (typeof body?.error?.code === 'string' && res.status !== 503) {
            code = body.error.code;
            message = `change feed: ${body.error.message ?? code}`;
          }
        } catch {
          /* not JSON */
        }
        throw new ClientError(code, message, { status: res.status });
      }
      const parser = createParser({
        onEvent: (ev) => {
          if (ev.event === 'change') {
            let data: unknown;
            try {
              data = JSON.parse(ev.data);
            } catch {
              data = undefined;
            }
            if (!isChangeData(data) || ev.id === undefined) return;
            this.#position = ev.id;
            this.#handlers.change(data, ev.id);
          } else if (ev.event === 'ready') {
            try {
              const d = JSON.parse(ev.data) as { position?: unknown; heartbeatMs?: unknown };
              if (typeof d.position === 'string') this.#position = d.position;
              if (typeof d.heartbeatMs === 'number' && d.heartbeatMs > 0) silenceMs = 2 * d.heartbeatMs + (this.#opts.slackMs ?? 5_000);
            } catch {
              /* keep going: the stream itself is fine */
            }
            ready = true;
            this.#connected = true;
            arm();
            this.#handlers.ready(this.#position ?? '');
          }
        },
      });
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        arm();
        parser.feed(decoder.decode(value, { stream: true }));
      }
    } catch (err) {
      if (!this.#closed) {
        error = err instanceof ClientError ? err : new ClientError(ClientErrorCode.UNAVAILABLE, `change feed: ${(err as Error)?.message ?? String(err)}`, { cause: err, details: { reason: 'network' } });
      }
    } finally {
      if (watchdog !== undefined) clearTimeout(watchdog);
      abort.abort();
      const was = this.#connected;
      this.#connected = false;
      if (!this.#closed && (was || error)) this.#handlers.down(error);
    }
    return ready;
  }
}
