/**
 * Test support for the change feed: a plain W3C EventSource client (the `eventsource`
 * package, which reconnects with Last-Event-ID like a browser) that records what it got.
 */
import { EventSource } from 'eventsource';
import { ADMIN } from './helpers.js';

export interface ChangeMsg {
  id: string;
  data: { id: string; version: string; labels: Record<string, string>; deleted: boolean };
}

export interface Recorder {
  es: EventSource;
  changes: ChangeMsg[];
  readies: { position: string; heartbeatMs: number }[];
  errors: number;
  /** resolves when `pred` holds (checked after every event) */
  until(pred: (r: Recorder) => boolean, what?: string, timeoutMs?: number): Promise<void>;
  close(): void;
}

export function record(url: string, opts: { token?: string; lastEventId?: string; query?: string } = {}): Recorder {
  const token = opts.token ?? ADMIN;
  let first = true;
  const es = new EventSource(`${url}/api/changes${opts.query ?? ''}`, {
    fetch: (input, init) => {
      const headers: Record<string, string> = { ...(init.headers as Record<string, string>), authorization: `Bearer ${token}` };
      // the first connection may carry a stored position, as a client resuming after a restart does
      if (first && opts.lastEventId !== undefined) headers['last-event-id'] = opts.lastEventId;
      first = false;
      return fetch(input, { ...init, headers });
    },
  });
  const waiters = new Set<() => void>();
  const r: Recorder = {
    es,
    changes: [],
    readies: [],
    errors: 0,
    until(pred, what = 'condition', timeoutMs = 15_000) {
      if (pred(r)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const check = () => {
          if (pred(r)) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve();
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(r.changes.map((c) => [c.id, c.data.id]))}`));
        }, timeoutMs);
        waiters.add(check);
      });
    },
    close() {
      es.close();
    },
  };
  const notify = () => {
    for (const w of [...waiters]) w();
  };
  es.addEventListener('change', (e) => {
    r.changes.push({ id: e.lastEventId, data: JSON.parse(e.data) });
    notify();
  });
  es.addEventListener('ready', (e) => {
    r.readies.push(JSON.parse(e.data));
    notify();
  });
  es.addEventListener('error', (e) => {
    if (process.env.SSE_DEBUG) console.log('sse error', (e as any).code, (e as any).message);
    r.errors++;
    notify();
  });
  return r;
}
