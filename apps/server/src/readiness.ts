/**
 * Readiness (`GET /readyz`, DESIGN §6): the node is ready when no registered check reports a
 * reason not to be. Parts of the node register a check each (the store, shutdown, and — from
 * other packages — a bus catching up, a repair in progress...); a check is a cheap synchronous
 * function that returns `undefined` when its part is ready, else a reason.
 *
 *   const off = readiness.register('bus', () => (caughtUp ? undefined : { code: 'BUS_CATCHING_UP', message: 'behind the fleet by 1200 ms' }));
 *   ...
 *   off(); // the part is gone: its check no longer counts
 *
 * A check that throws is itself a reason (`READINESS_CHECK_FAILED`), never a 500.
 *
 * A reason with `degraded: true` does not take the node out of rotation: the node still serves
 * (e.g. one damaged profile answers PROFILE_DAMAGED while every other profile is served), so
 * `/readyz` stays 200 and lists it (`{ ready: true, degraded: true, reasons: [...] }`). Only
 * reasons without it (the store not open, shutting down, a fleet catching up) make it 503.
 */

/** Why a part of the node is not ready. `code` is stable (for probes and dashboards), `message` is for people. */
export interface ReadinessReason {
  code: string;
  message: string;
  /** the node still serves (some of its data is not): listed, but /readyz stays 200 */
  degraded?: boolean;
}

/** A reason as /readyz lists it: which check gave it. */
export interface ReadinessReport extends ReadinessReason {
  check: string;
}

export type ReadinessCheck = () => ReadinessReason | string | undefined | null;

export interface ReadinessStatus {
  ready: boolean;
  /** true when the node is ready but some reason is a degradation (listed in reasons) */
  degraded: boolean;
  reasons: ReadinessReport[];
}

const CHECK_NAME_RE = /^[a-z][a-z0-9._:-]{0,63}$/;

export class Readiness {
  readonly #checks = new Map<string, ReadinessCheck>();

  /**
   * Adds a check under a unique name (lower-case, e.g. `store`, `bus`, `log-repair`); returns
   * the function that removes it. A second check under a taken name is a programming error.
   */
  register(name: string, check: ReadinessCheck): () => void {
    if (!CHECK_NAME_RE.test(name)) throw new TypeError(`readiness check name ${JSON.stringify(name)} must match ${CHECK_NAME_RE}`);
    if (this.#checks.has(name)) throw new TypeError(`a readiness check named ${name} is already registered`);
    this.#checks.set(name, check);
    return () => {
      if (this.#checks.get(name) === check) this.#checks.delete(name);
    };
  }

  /** Names of the registered checks, in registration order. */
  names(): string[] {
    return [...this.#checks.keys()];
  }

  /** Runs every check (in registration order). Ready unless a reason is not a degradation. */
  status(): ReadinessStatus {
    const reasons: ReadinessReport[] = [];
    let blocking = false;
    for (const [check, fn] of this.#checks) {
      let r: ReadinessReason | string | undefined | null;
      try {
        r = fn();
      } catch (err) {
        r = { code: 'READINESS_CHECK_FAILED', message: `the ${check} check failed: ${(err as Error)?.message ?? String(err)}` };
      }
      if (r === undefined || r === null) continue;
      if (typeof r === 'string') {
        blocking = true;
        reasons.push({ check, code: 'NOT_READY', message: r });
      } else if (r.degraded === true) {
        reasons.push({ check, code: r.code, message: r.message, degraded: true });
      } else {
        blocking = true;
        reasons.push({ check, code: r.code, message: r.message });
      }
    }
    return { ready: !blocking, degraded: !blocking && reasons.length > 0, reasons };
  }
}

/**
 * What `/readyz` answers for a status: 200 `{ ready: true }` (plus `degraded: true` and the
 * reasons while something is degraded), or 503 `{ ready: false, reasons }`.
 */
export function readyzAnswer(status: ReadinessStatus): { code: 200 | 503; body: { ready: boolean; degraded?: true; reasons?: ReadinessReport[] } } {
  if (!status.ready) return { code: 503, body: { ready: false, reasons: status.reasons } };
  return { code: 200, body: status.degraded ? { ready: true, degraded: true, reasons: status.reasons } : { ready: true } };
}
