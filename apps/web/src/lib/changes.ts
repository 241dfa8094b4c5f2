/**
 * Live list updates. The node's change feed (`GET /api/changes`, Server-Sent Events, one
 * `change` event per new version) is read with fetch so the bearer token goes in a header
 * (EventSource cannot send one); a dropped stream reconnects with backoff and Last-Event-ID.
 * A node without the feed (404) is polled instead. Callers get "something changed" (with the
 * event when there is one) and the mode, to say "live" or "polling" on screen.
 */
import type { Api } from './api.js';

export type FeedMode = 'connecting' | 'live' | 'polling' | 'offline';

export interface ChangeNotice {
  id: string;
  version?: string;
  deleted?: boolean;
  labels?: Record<string, string>;
}

export interface SseEvent {
  event: string;
  data: string;
  id: string | undefined;
}

/**
 * Incremental SSE parser (the WHATWG event-stream rules that matter here): `event:`, `data:`
 * (joined with \n), `id:`, comments, CR/LF/CRLF line ends; an event is dispatched on a blank line.
 */
export class SseParser {
  #buf = '';
  #event = '';
  #data: string[] = [];
  #id: string | undefined;
  lastEventId: string | undefined;

  push(chunk: string): SseEvent[] {
    this.#buf += chunk;
    const out: SseEvent[] = [];
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.#buf);
      if (!m) break;
      // a lone \r at the very end may be the first half of \r\n: wait for more
      if (m[0] === '\r' && m.index === this.#buf.length - 1) break;
      const line = this.#buf.slice(0, m.index);
      this.#buf = this.#buf.slice(m.index + m[0].length);
      if (line === '') {
        if (this.#data.length > 0) {
          if (this.#id !== undefined) this.lastEventId = this.#id;
          out.push({ event: this.#event || 'message', data: this.#data.join('\n'), id: this.#id ?? this.lastEventId });
        }
        this.#event = '';
        this.#data = [];
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') this.#event = value;
      else if (field === 'data') this.#data.push(value);
      else if (field === 'id' && !value.includes('\u0000')) this.#id = value;
    }
    return out;
  }
}

/** Reconnect delays: 1 s, 2 s, 4 s, ... at most 15 s. */
export function retryDelay(attempt: number): number {
  return Math.min(15_000, 1000 * 2 ** Math.min(attempt, 4));
}

/** A 503's Retry-After (seconds) as a delay in ms: 1 to 15 s, 1 s when not a number of seconds. */
export function startingDelay(retryAfter: string | null): number {
  const s = Number(retryAfter);
  return Number.isFinite(s) && s > 0 ? Math.min(15_000, Math.max(1000, s * 1000)) : 1000;
}

export interface WatchOptions {
  onChange(notice?: ChangeNotice): void;
  onMode(mode: FeedMode): void;
  /** polling interval for nodes without the feed (default 5 s) */
  pollMillis?: number;
}

/** Starts watching; returns stop(). */
export function watchChanges(api: Api, opts: WatchOptions): () => void {
  const ctl = new AbortController();
  const pollMillis = opts.pollMillis ?? 5000;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let poller: ReturnType<typeof setInterval> | undefined;
  const parser = new SseParser();
  let attempt = 0;

  const poll = () => {
    opts.onMode('polling');
    poller = setInterval(() => opts.onChange(), pollMillis);
  };

  const connect = async (): Promise<void> => {
    if (stopped) return;
    opts.onMode(attempt === 0 ? 'connecting' : 'offline');
    let res: Response;
    try {
      const headers: Record<string, string> = { authorization: `Bearer ${api.token}`, accept: 'text/event-stream' };
      if (parser.lastEventId !== undefined) headers['last-event-id'] = parser.lastEventId;
      res = await fetch('/api/changes', { headers, cache: 'no-store', signal: ctl.signal });
    } catch {
      return retry();
    }
    if (res.status === 404 || res.status === 405) return poll(); // a node without the feed
    if (res.status === 401) {
      api.onUnauthorized?.();
      return;
    }
    const retryAfter = res.status === 503 ? res.headers.get('retry-after') : null;
    if (retryAfter !== null) {
      // the node answers but is starting: it says when to come back, so a restarted node's
      // list is live again in a second, not after the longest backoff
      void res.body?.cancel().catch(() => undefined);
      return retry(startingDelay(retryAfter));
    }
    if (!res.ok || !res.body || !(res.headers.get('content-type') ?? '').includes('text/event-stream')) return retry();
    opts.onMode('live');
    if (attempt > 0) opts.onChange(); // whatever happened while we were away
    attempt = 0;
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const e of parser.push(value)) {
          if (e.event !== 'change') continue;
          try {
            opts.onChange(JSON.parse(e.data) as ChangeNotice);
          } catch {
            opts.onChange();
          }
        }
      }
    } catch {
      // aborted or dropped: retry below unless stopped
    }
    return retry();
  };

  /** after `ms` (a 503's Retry-After), else the backoff's next delay */
  const retry = (ms?: number) => {
    if (stopped) return;
    opts.onMode('offline');
    if (ms !== undefined) attempt = Math.max(attempt, 1); // it was away: reload the list when it is back
    timer = setTimeout(() => void connect(), ms ?? retryDelay(attempt++));
  };

  void connect();
  return () => {
    stopped = true;
    ctl.abort();
    if (timer !== undefined) clearTimeout(timer);
    if (poller !== undefined) clearInterval(poller);
  };
}
