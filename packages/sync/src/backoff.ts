/**
 * Reconnect policy: exponential backoff with full jitter, capped, and a harsher schedule when
 * a peer accepted the connection and then closed it quickly (a reconnect storm: a server
 * that accepts and drops every client). Pure functions; the caller injects random and clock.
 */
export interface BackoffPolicy {
  /** first delay scale (ms) */
  baseMs: number;
  /** cap for plain failures (refused, handshake failed) */
  capMs: number;
  /** cap once a peer keeps closing right after accepting */
  stormCapMs: number;
  /** a connection that ends sooner than this after it was established counts as short-lived */
  shortLivedMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 250, capMs: 30_000, stormCapMs: 120_000, shortLivedMs: 5_000 };

export interface BackoffState {
  /** consecutive failed or short-lived attempts */
  failures: number;
  /** consecutive short-lived connections (accepted, then closed quickly) */
  storms: number;
}

export const INITIAL_BACKOFF: BackoffState = { failures: 0, storms: 0 };

/** How the last attempt ended: never established, established but short-lived, or stable. */
export type AttemptOutcome = 'refused' | 'short-lived' | 'stable';

/** Classifies a closed connection from its times (ms of the injected clock). */
export function classifyAttempt(establishedAt: number | undefined, closedAt: number, policy: BackoffPolicy): AttemptOutcome {
  if (establishedAt === undefined) return 'refused';
  return closedAt - establishedAt < policy.shortLivedMs ? 'short-lived' : 'stable';
}

/**
 * The next state and delay. stable: state resets, delay = random * base (a quick, jittered
 * redial). refused: failures + 1, delay = random * min(cap, base * 2^failures) (full jitter).
 * short-lived: failures + 1 and storms + 1; the exponent grows by 2 per storm, the cap is
 * stormCap, and half of the window is a floor (so a storm always waits).
 */
export function nextBackoff(state: BackoffState, outcome: AttemptOutcome, policy: BackoffPolicy, random: () => number): { state: BackoffState; delayMs: number } {
  const r = Math.min(Math.max(random(), 0), 1);
  if (outcome === 'stable') return { state: INITIAL_BACKOFF, delayMs: Math.floor(r * policy.baseMs) };
  if (outcome === 'refused') {
    const failures = state.failures + 1;
    const window = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(failures, 40));
    return { state: { failures, storms: state.storms }, delayMs: Math.floor(r * window) };
  }
  const failures = state.failures + 1;
  const storms = state.storms + 1;
  const window = Math.min(policy.stormCapMs, policy.baseMs * 2 ** Math.min(failures + 2 * storms, 40));
  const floor = window / 2;
  return { state: { failures, storms }, delayMs: Math.floor(floor + r * (window - floor)) };
}
