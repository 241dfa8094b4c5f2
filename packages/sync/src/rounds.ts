/**
 * Bookkeeping of the digest rounds a session owns: one round at a time, automatic rounds
 * (after connect, overflow, anti-entropy) until one converges or the budget is spent, and
 * waiters (syncNow) that need a converged round started after they asked. The engine sends
 * the messages; this class decides when a round starts and ends.
 */
import { monoMs } from './events.js';

export interface ActiveRound {
  round: number;
  started: number;
  /** buckets that differed (set when BUCKETS arrives) */
  differing: number;
  /** STEP1s we sent during the round */
  pulled: number;
  timer: ReturnType<typeof setTimeout>;
}

export interface RoundHooks {
  /** sends ROOT for this round (after the barrier) */
  open(round: number): Promise<void>;
  ended(a: ActiveRound, converged: boolean, timedOut: boolean): void;
  timeoutMs: number;
}

interface Waiter {
  minRound: number;
  /** false: any round that completes (not timed out) will do, converged or not */
  converged: boolean;
  resolve: () => void;
  reject: (err: Error) => void;
}

export class Rounds {
  readonly #hooks: RoundHooks;
  #round = 0;
  #active: ActiveRound | undefined;
  #autoLeft = 0;
  #waiters: Waiter[] = [];
  #stopped = false;
  started = 0;

  constructor(hooks: RoundHooks) {
    this.#hooks = hooks;
  }

  /** number of the last round started (0 before the first) */
  get current(): number {
    return this.#round;
  }

  get active(): ActiveRound | undefined {
    return this.#active;
  }

  /** The active round if `round` is its number (messages of other rounds are stale). */
  activeIf(round: number): ActiveRound | undefined {
    return this.#active?.round === round ? this.#active : undefined;
  }

  /** Allows `n` more automatic rounds and starts one unless a round runs. */
  kick(n: number): void {
    this.#autoLeft = Math.max(this.#autoLeft, n);
    this.#start();
  }

  /**
   * Resolves on the first converged round that started after this call; with
   * `{ converged: false }`, on the first such round that completed (converged or not): every
   * difference seen when it began was exchanged both ways (a repair).
   */
  request(opts: { converged?: boolean } = {}): { promise: Promise<void>; cancel: () => void } {
    let waiter!: Waiter;
    const promise = new Promise<void>((resolve, reject) => {
      waiter = { minRound: (this.#active ? this.#active.round : this.#round) + 1, converged: opts.converged !== false, resolve, reject };
    });
    this.#waiters.push(waiter);
    this.#start();
    return { promise, cancel: () => (this.#waiters = this.#waiters.filter((w) => w !== waiter)) };
  }

  end(a: ActiveRound, converged: boolean, timedOut = false): void {
    if (this.#active !== a) return;
    clearTimeout(a.timer);
    this.#active = undefined;
    if (this.#stopped) return;
    this.#hooks.ended(a, converged, timedOut);
    const satisfied = (w: Waiter): boolean => w.minRound <= a.round && !timedOut && (converged || !w.converged);
    const done = this.#waiters.filter(satisfied);
    this.#waiters = this.#waiters.filter((w) => !satisfied(w));
    for (const w of done) w.resolve();
    if (converged) this.#autoLeft = 0;
    else if (this.#autoLeft > 0) this.#autoLeft--;
    if (this.#waiters.length > 0 || (!converged && this.#autoLeft > 0)) this.#start();
  }

  stop(err: Error): void {
    this.#stopped = true;
    if (this.#active) clearTimeout(this.#active.timer);
    this.#active = undefined;
    for (const w of this.#waiters.splice(0)) w.reject(err);
  }

  debug(): Record<string, unknown> {
    return { round: this.#round, active: this.#active?.round, waiters: this.#waiters.map((w) => w.minRound), autoLeft: this.#autoLeft };
  }

  #start(): void {
    if (this.#stopped || this.#active) return;
    const round = ++this.#round;
    const a: ActiveRound = { round, started: monoMs(), differing: 0, pulled: 0, timer: setTimeout(() => this.end(a, false, true), this.#hooks.timeoutMs) };
    a.timer.unref?.();
    this.#active = a;
    this.started++;
    void this.#hooks.open(round);
  }
}
