/**
 * Benchmark harness. Each `*.bench.ts` file in this folder default-exports an array
 * of cases. A case returns one or more results; `run.ts` prints them as one JSON
 * object per line (`--json`) or as a table. Anchors (y-leveldb, raw lru-cache,
 * raw level, ...) run in the same process and the same run, so `ratio` compares
 * like with like: ratio = value / baselineValue, exactly.
 */
export type Unit = 'ns' | 'us' | 'ms' | 's' | 'ops/s' | 'MB/s' | 'MB' | 'KB' | 'messages';

export interface BenchResult {
  name: string;
  unit: Unit;
  /** headline figure: a rate, a size, or for a latency case its p99 */
  value: number;
  p50?: number;
  p99?: number;
  baseline?: string;
  baselineValue?: number;
  ratio?: number;
  /** the goal from the issue, in words, e.g. ">= 50000 ops/s" */
  goal?: string;
  /** whether the goal was met in this run (absent when there is no numeric goal) */
  met?: boolean;
  /** any other figures worth printing (counts, sizes, secondary latencies) */
  extra?: Record<string, number | string>;
}

export interface BenchCase {
  name: string;
  /** runs the case and returns its results (usually one) */
  run(): Promise<BenchResult | BenchResult[]>;
}

/** Builds a result; fills ratio from value and baselineValue so it is exact. */
export function result(r: Omit<BenchResult, 'ratio'>): BenchResult {
  const out: BenchResult = { ...r, value: round(r.value) };
  if (r.p50 !== undefined) out.p50 = round(r.p50);
  if (r.p99 !== undefined) out.p99 = round(r.p99);
  if (r.baselineValue !== undefined) {
    out.baselineValue = round(r.baselineValue);
    out.ratio = round(out.value / out.baselineValue, 4);
  }
  return out;
}

export function round(x: number, digits = 3): number {
  if (!Number.isFinite(x)) return x;
  const abs = Math.abs(x);
  const d = abs >= 1000 ? 0 : abs >= 1 ? digits : digits + 3;
  return Number(x.toFixed(d));
}

/** Percentile of already-sorted samples (nearest rank). */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx] as number;
}

export function summarize(samples: number[]): { p50: number; p99: number; mean: number; min: number; max: number } {
  const s = Float64Array.from(samples).sort();
  let sum = 0;
  for (const x of s) sum += x;
  return { p50: percentile(s, 50), p99: percentile(s, 99), mean: sum / s.length, min: s[0] ?? NaN, max: s[s.length - 1] ?? NaN };
}

/** High-resolution now in milliseconds. */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Runs `fn` concurrently `writers` times until `total` operations are done; returns ops/s. */
export async function concurrentRate(
  writers: number,
  total: number,
  fn: (writer: number, i: number) => Promise<unknown>,
): Promise<{ opsPerSec: number; elapsedMs: number }> {
  let next = 0;
  const start = nowMs();
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      for (;;) {
        const i = next++;
        if (i >= total) return;
        await fn(w, i);
      }
    }),
  );
  const elapsedMs = nowMs() - start;
  return { opsPerSec: (total / elapsedMs) * 1000, elapsedMs };
}

export function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}
