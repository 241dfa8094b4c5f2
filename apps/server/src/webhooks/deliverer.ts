/**
 * Delivery for one webhook: a queue of at most one pending change per profile (a newer change
 * of a profile whose delivery has not gone out yet takes its place — the receiver gets the
 * latest state, with every kind of change it stands for), at most `CONCURRENCY` requests at a
 * time and never two for one profile, retries with exponential backoff and jitter until
 * `maxAttempts`, and a ring of the last attempts (the delivery log).
 *
 * Durability without a write per change: the hook's cursor is the log position below which
 * every change was delivered or given up (min pending position - 1, else the last position
 * seen). It is saved (debounced) by the caller; after a restart everything after it is
 * delivered again from the log (at-least-once: a receiver drops repeated `id`s).
 */
import { createHmac } from 'node:crypto';
import type { ChangeKind, FeedChange } from '../changes/hub.js';
import { formatPosition } from '../changes/hub.js';
import { retryDelay, type CompiledHook, type WebhookTuning } from './config.js';

export const CONCURRENCY = 4;
const LOG_SIZE = 200;

export type AttemptOutcome = 'delivered' | 'retrying' | 'failed';

/** One delivery attempt, as the delivery log shows it. */
export interface DeliveryAttempt {
  /** the change's position (EPOCH-LSN), also the delivery's `id` */
  id: string;
  profile: string;
  event: ChangeKind;
  attempt: number;
  /** ISO time the attempt started */
  at: string;
  outcome: AttemptOutcome;
  /** HTTP status of the receiver's answer, null when there was none */
  status: number | null;
  /** why it failed: `HTTP 500`, `timeout`, `ECONNREFUSED`, ... */
  error: string | null;
  durationMillis: number;
  /** when the next attempt goes out (retrying) */
  nextAttemptAt: string | null;
}

export interface HookStatus {
  pending: number;
  inflight: number;
  delivered: number;
  failed: number;
  attempts: number;
  /** position up to which everything was delivered or given up */
  cursor: string;
  lastDeliveredAt: string | null;
  lastError: { at: string; id: string; error: string } | null;
}

export interface DelivererDeps {
  epoch: string;
  tuning: WebhookTuning;
  fetch: typeof fetch;
  clock: () => number;
  random?: () => number;
  /** the cursor moved (save it) */
  onCursor(lsn: number): void;
  /** an attempt finished (metrics, logs) */
  onAttempt(a: DeliveryAttempt, hook: CompiledHook): void;
}

interface Item {
  change: FeedChange;
  kinds: ChangeKind[];
  catchUp: boolean;
}

interface Pending extends Item {
  attempts: number;
  nextAt: number;
  inflight: boolean;
  /** a newer change that arrived while this one was in flight */
  next: Item | undefined;
}

const iso = (ms: number): string => new Date(ms).toISOString();

function merge(a: Item, b: Item): Item {
  const kinds = [...a.kinds];
  for (const k of b.kinds) if (!kinds.includes(k)) kinds.push(k);
  return { change: b.change, kinds, catchUp: a.catchUp || b.catchUp };
}

/** The main kind of a delivery: deletion first, then creation, update, label move. */
function mainKind(kinds: ChangeKind[]): ChangeKind {
  for (const k of ['profile.deleted', 'profile.created', 'profile.updated', 'label.moved', 'conflict.opened', 'conflict.resolved'] as const) if (kinds.includes(k)) return k;
  return 'profile.updated';
}

export class HookDeliverer {
  readonly hook: CompiledHook;
  readonly #d: DelivererDeps;
  readonly #pending = new Map<string, Pending>();
  readonly #log: DeliveryAttempt[] = [];
  #lastSeen: number;
  #cursor: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;
  #inflight = 0;
  #closed = false;
  readonly #abort = new AbortController();
  #stats = { delivered: 0, failed: 0, attempts: 0, lastDeliveredAt: null as string | null, lastError: null as HookStatus['lastError'] };

  constructor(hook: CompiledHook, cursor: number, deps: DelivererDeps) {
    this.hook = hook;
    this.#d = deps;
    this.#lastSeen = cursor;
    this.#cursor = cursor;
  }

  get cursor(): number {
    return this.#cursor;
  }

  /** Queues a change (filtered by the caller) for delivery. */
  enqueue(change: FeedChange, kinds: ChangeKind[], catchUp: boolean): void {
    if (this.#closed) return;
    const item: Item = { change, kinds, catchUp };
    const p = this.#pending.get(change.data.id);
    if (p === undefined) {
      this.#pending.set(change.data.id, { ...item, attempts: 0, nextAt: 0, inflight: false, next: undefined });
    } else if (p.inflight) {
      p.next = p.next === undefined ? item : merge(p.next, item);
    } else {
      // not sent yet (or waiting for a retry): the newer state replaces it, with the same backoff
      const m = merge(p, item);
      p.change = m.change;
      p.kinds = m.kinds;
      p.catchUp = m.catchUp;
    }
  }

  /** Every change up to `lsn` has been offered (enqueued or filtered out). */
  advance(lsn: number): void {
    if (lsn > this.#lastSeen) this.#lastSeen = lsn;
    this.#updateCursor();
    this.#pump();
  }

  status(): HookStatus {
    return {
      pending: this.#pending.size,
      inflight: this.#inflight,
      delivered: this.#stats.delivered,
      failed: this.#stats.failed,
      attempts: this.#stats.attempts,
      cursor: formatPosition(this.#d.epoch, this.#cursor),
      lastDeliveredAt: this.#stats.lastDeliveredAt,
      lastError: this.#stats.lastError,
    };
  }

  /** The delivery log, newest first. */
  deliveries(limit = LOG_SIZE): DeliveryAttempt[] {
    return this.#log.slice(-limit).reverse();
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#abort.abort();
  }

  #updateCursor(): void {
    let min = Infinity;
    for (const p of this.#pending.values()) if (p.change.lsn < min) min = p.change.lsn;
    const c = min === Infinity ? this.#lastSeen : Math.min(this.#lastSeen, min - 1);
    if (c > this.#cursor) {
      this.#cursor = c;
      this.#d.onCursor(c);
    }
  }

  #pump(): void {
    if (this.#closed) return;
    const now = this.#d.clock();
    let earliest = Infinity;
    for (const p of this.#pending.values()) {
      if (p.inflight) continue;
      if (p.nextAt <= now) {
        if (this.#inflight >= CONCURRENCY) break;
        void this.#send(p);
      } else if (p.nextAt < earliest) earliest = p.nextAt;
    }
    if (earliest !== Infinity && earliest < this.#timerAt) {
      if (this.#timer !== undefined) clearTimeout(this.#timer);
      this.#timerAt = earliest;
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#timerAt = Infinity;
        this.#pump();
      }, Math.max(0, earliest - now));
      this.#timer.unref?.();
    }
  }

  async #send(p: Pending): Promise<void> {
    p.inflight = true;
    p.attempts++;
    this.#inflight++;
    this.#stats.attempts++;
    const { record } = this.hook;
    const started = this.#d.clock();
    const id = formatPosition(this.#d.epoch, p.change.lsn);
    const event = mainKind(p.kinds);
    const body = JSON.stringify({
      id,
      event,
      events: p.kinds,
      hook: record.id,
      at: iso(p.change.at),
      sentAt: iso(started),
      attempt: p.attempts,
      catchUp: p.catchUp,
      data: { conflicts: p.change.data.conflicts, deleted: p.change.data.deleted, id: p.change.data.id, labels: p.change.data.labels, version: p.change.data.version },
    });
    const signature = `sha256=${createHmac('sha256', record.secret).update(body).digest('hex')}`;
    let status: number | null = null;
    let error: string | null = null;
    try {
      const timeout = AbortSignal.timeout(this.#d.tuning.timeoutMs);
      const res = await this.#d.fetch(record.url, {
        method: 'POST',
        redirect: 'manual',
        signal: AbortSignal.any([timeout, this.#abort.signal]),
        headers: {
          'content-type': 'application/json',
          'user-agent': 'profilesync-webhook/1',
          'x-profilesync-event': event,
          'x-profilesync-delivery': id,
          'x-profilesync-hook': record.id,
          'x-profilesync-attempt': String(p.attempts),
          'x-profilesync-signature': signature,
        },
        body,
      });
      status = res.status;
      await res.body?.cancel().catch(() => undefined);
      if (res.status < 200 || res.status >= 300) error = `HTTP ${res.status}`;
    } catch (err) {
      const e = err as { name?: string; cause?: { code?: string }; code?: string; message?: string };
      error = e.name === 'TimeoutError' ? 'timeout' : (e.cause?.code ?? e.code ?? e.message ?? 'network error');
    }
    this.#inflight--;
    p.inflight = false;
    if (this.#closed) return;
    const now = this.#d.clock();
    let outcome: AttemptOutcome;
    let nextAt: number | null = null;
    if (error === null) {
      outcome = 'delivered';
      this.#stats.delivered++;
      this.#stats.lastDeliveredAt = iso(now);
    } else if (p.attempts >= this.#d.tuning.maxAttempts) {
      outcome = 'failed';
      this.#stats.failed++;
    } else {
      outcome = 'retrying';
      nextAt = now + retryDelay(p.attempts, this.#d.tuning, this.#d.random);
    }
    if (error !== null) this.#stats.lastError = { at: iso(now), id, error };
    const attempt: DeliveryAttempt = {
      id,
      profile: p.change.data.id,
      event,
      attempt: p.attempts,
      at: iso(started),
      outcome,
      status,
      error,
      durationMillis: now - started,
      nextAttemptAt: nextAt === null ? null : iso(nextAt),
    };
    this.#log.push(attempt);
    if (this.#log.length > LOG_SIZE) this.#log.splice(0, this.#log.length - LOG_SIZE);
    this.#d.onAttempt(attempt, this.hook);

    if (outcome === 'retrying') {
      p.nextAt = nextAt!;
      if (p.next !== undefined) {
        const m = merge(p, p.next);
        p.change = m.change;
        p.kinds = m.kinds;
        p.catchUp = m.catchUp;
        p.next = undefined;
      }
    } else if (p.next !== undefined) {
      // done with this state; the newer one goes next, as a fresh delivery
      const n = p.next;
      this.#pending.set(p.change.data.id, { ...n, attempts: 0, nextAt: 0, inflight: false, next: undefined });
    } else {
      this.#pending.delete(p.change.data.id);
    }
    this.#updateCursor();
    this.#pump();
  }
}
