/**
 * CacheMonitor: per-operation counts and latency percentiles, ops/s, compression ratio
 * and size tiers. Cheap on the hot path: begin() is a counter increment plus, for one
 * call in `sampleEvery`, a clock read; latencies go to a fixed-size ring per operation
 * (the most recent `reservoirSize` samples), sorted only when a snapshot is taken.
 */
import { type Clock, systemClock } from './types.js';
import { optPositiveInt } from './validate.js';

export const CACHE_OPS = ['get', 'set', 'delete', 'exists', 'getTtl', 'clear', 'keys', 'invalidatePattern'] as const;
export type CacheOp = (typeof CACHE_OPS)[number];

export type SizeKind = 'value' | 'text' | 'key';
export type Tier = 'small' | 'medium' | 'large' | 'xlarge';
export type TierLimits = { small: number; medium: number; large: number };
export type TierCounts = Record<Tier, number>;

/** Default tier limits: value bytes, text characters (LLM input), key characters. */
export const DEFAULT_TIERS: Record<SizeKind, TierLimits> = {
  value: { small: 1024, medium: 10_240, large: 102_400 },
  text: { small: 500, medium: 5000, large: 50_000 },
  key: { small: 64, medium: 256, large: 1024 },
};

/** The tier of a size: below `small` is small, below `medium` medium, below `large` large, else xlarge. */
export function tierOf(size: number, limits: TierLimits): Tier {
  if (size < limits.small) return 'small';
  if (size < limits.medium) return 'medium';
  if (size < limits.large) return 'large';
  return 'xlarge';
}

export interface LatencySummary {
  /** operations counted (all of them) */
  count: number;
  /** latency samples currently held */
  samples: number;
  /** milliseconds, over the held samples */
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

export interface MonitorSnapshot {
  totalOps: number;
  /** operations per second over the last rateWindowMs (or since the monitor started) */
  opsPerSec: number;
  errors: number;
  ops: Partial<Record<CacheOp, LatencySummary>>;
  compression: {
    compressed: number;
    uncompressed: number;
    rawBytes: number;
    storedBytes: number;
    /** storedBytes / rawBytes over all values written (1 = no saving); null before the first */
    ratio: number | null;
  };
  tiers: Record<SizeKind, TierCounts>;
}

export interface CacheMonitorOptions {
  clock?: Clock;
  /** latency samples kept per operation (default 1024) */
  reservoirSize?: number;
  /** time one operation in N (default 1 = all; 64 suits sub-microsecond memory ops) */
  sampleEvery?: number;
  /** window of the ops/s figure (default 60 000 ms) */
  rateWindowMs?: number;
  tiers?: Partial<Record<SizeKind, TierLimits>>;
}

interface OpState {
  count: number;
  ring: Float64Array;
  filled: number;
  next: number;
}

const zeroTiers = (): TierCounts => ({ small: 0, medium: 0, large: 0, xlarge: 0 });

function summarize(s: OpState): LatencySummary {
  const sorted = s.ring.slice(0, s.filled).sort();
  const at = (p: number): number =>
    sorted.length === 0 ? 0 : (sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number);
  let sum = 0;
  for (const x of sorted) sum += x;
  return {
    count: s.count,
    samples: sorted.length,
    p50: at(50),
    p95: at(95),
    p99: at(99),
    max: sorted.length === 0 ? 0 : (sorted[sorted.length - 1] as number),
    mean: sorted.length === 0 ? 0 : sum / sorted.length,
  };
}

export class CacheMonitor {
  readonly #clock: Clock;
  readonly #sampleEvery: number;
  readonly #reservoir: number;
  readonly #windowMs: number;
  readonly #tierLimits: Record<SizeKind, TierLimits>;
  #ops = new Map<CacheOp, OpState>();
  #tick = 0;
  #errors = 0;
  #compressed = 0;
  #uncompressed = 0;
  #rawBytes = 0;
  #storedBytes = 0;
  #tiers: Record<SizeKind, TierCounts> = { value: zeroTiers(), text: zeroTiers(), key: zeroTiers() };
  #checkpoints: { t: number; total: number }[];

  constructor(options: CacheMonitorOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#sampleEvery = optPositiveInt('monitor.sampleEvery', options.sampleEvery, 1);
    this.#reservoir = optPositiveInt('monitor.reservoirSize', options.reservoirSize, 1024, 1 << 20);
    this.#windowMs = optPositiveInt('monitor.rateWindowMs', options.rateWindowMs, 60_000);
    this.#tierLimits = { ...DEFAULT_TIERS, ...options.tiers };
    for (const op of CACHE_OPS) this.#ops.set(op, { count: 0, ring: new Float64Array(this.#reservoir), filled: 0, next: 0 });
    this.#checkpoints = [{ t: this.#clock.now(), total: 0 }];
  }

  /** Counts one operation; returns a start time when this one is sampled, else -1. */
  begin(op: CacheOp): number {
    (this.#ops.get(op) as OpState).count++;
    if (this.#sampleEvery === 1 || ++this.#tick % this.#sampleEvery === 0) return this.#clock.now();
    return -1;
  }

  /** Records the latency of a sampled operation (start from begin(); -1 is ignored). */
  end(op: CacheOp, start: number): void {
    if (start < 0) return;
    const s = this.#ops.get(op) as OpState;
    s.ring[s.next] = this.#clock.now() - start;
    s.next = (s.next + 1) % this.#reservoir;
    if (s.filled < this.#reservoir) s.filled++;
  }

  recordError(): void {
    this.#errors++;
  }

  recordCompression(rawBytes: number, storedBytes: number, compressed: boolean): void {
    if (compressed) this.#compressed++;
    else this.#uncompressed++;
    this.#rawBytes += rawBytes;
    this.#storedBytes += storedBytes;
  }

  recordSize(kind: SizeKind, size: number): void {
    this.#tiers[kind][tierOf(size, this.#tierLimits[kind])]++;
  }

  snapshot(): MonitorSnapshot {
    const now = this.#clock.now();
    let total = 0;
    const ops: Partial<Record<CacheOp, LatencySummary>> = {};
    for (const [op, s] of this.#ops) {
      total += s.count;
      if (s.count > 0) ops[op] = summarize(s);
    }
    // rate over the oldest checkpoint inside the window (or the newest older one)
    const cps = this.#checkpoints;
    let base = cps[cps.length - 1] as { t: number; total: number };
    for (const cp of cps) {
      if (cp.t >= now - this.#windowMs && cp.t < now) {
        base = cp;
        break;
      }
    }
    const elapsed = now - base.t;
    const opsPerSec = elapsed > 0 ? ((total - base.total) / elapsed) * 1000 : 0;
    cps.push({ t: now, total });
    while (cps.length > 2 && (cps[1] as { t: number }).t < now - this.#windowMs) cps.shift();
    if (cps.length > 256) cps.splice(1, cps.length - 256);
    return {
      totalOps: total,
      opsPerSec,
      errors: this.#errors,
      ops,
      compression: {
        compressed: this.#compressed,
        uncompressed: this.#uncompressed,
        rawBytes: this.#rawBytes,
        storedBytes: this.#storedBytes,
        ratio: this.#rawBytes > 0 ? this.#storedBytes / this.#rawBytes : null,
      },
      tiers: {
        value: { ...this.#tiers.value },
        text: { ...this.#tiers.text },
        key: { ...this.#tiers.key },
      },
    };
  }
}
