/**
 * The cache hit-rate history the cache panel draws: samples from polling
 * GET /api/cache/stats, kept in memory for the life of the tab (bounded), and the pure
 * geometry of an SVG line chart.
 */
import type { CacheStatsSnapshot } from '@profilesync/core';

export interface Sample {
  at: number;
  /** hit rate per cache over the interval since the previous sample (0..1) */
  rates: Record<string, number>;
}

export const MAX_SAMPLES = 240;

/**
 * The hit rate of one interval: hits / lookups between two polls. With no lookups in the
 * interval the previous rate carries on (nothing changed); the first sample, or counters that
 * went backwards (a node restart), use the node's cumulative hit_rate.
 */
export function intervalRate(prev: { hits: number; misses: number; rate: number } | undefined, now: CacheStatsSnapshot): number {
  if (!prev) return now.hit_rate;
  const dh = now.hits - prev.hits;
  const dm = now.misses - prev.misses;
  if (dh < 0 || dm < 0) return now.hit_rate;
  if (dh + dm === 0) return prev.rate;
  return dh / (dh + dm);
}

export class HitRateHistory {
  readonly #samples: Sample[] = [];
  readonly #last = new Map<string, { hits: number; misses: number; rate: number }>();
  add(at: number, caches: readonly CacheStatsSnapshot[]): void {
    const rates: Record<string, number> = {};
    for (const c of caches) {
      if (!Number.isFinite(c.hits) || !Number.isFinite(c.misses)) continue;
      const rate = intervalRate(this.#last.get(c.name), c);
      if (!Number.isFinite(rate)) continue;
      rates[c.name] = rate;
      this.#last.set(c.name, { hits: c.hits, misses: c.misses, rate });
    }
    this.#samples.push({ at, rates });
    if (this.#samples.length > MAX_SAMPLES) this.#samples.splice(0, this.#samples.length - MAX_SAMPLES);
  }
  get samples(): readonly Sample[] {
    return this.#samples;
  }
  names(): string[] {
    const s = new Set<string>();
    for (const x of this.#samples) for (const k of Object.keys(x.rates)) s.add(k);
    return [...s].sort();
  }
}

/** One cache's line as SVG path data in a width x height box; hit rate 0..1 maps bottom..top. */
export function linePath(samples: readonly Sample[], name: string, width: number, height: number): string {
  const pts = samples.filter((s) => s.rates[name] !== undefined);
  if (pts.length === 0) return '';
  const t0 = samples[0]!.at;
  const span = Math.max(1, samples[samples.length - 1]!.at - t0);
  return pts
    .map((s, i) => {
      const x = samples.length === 1 ? width : ((s.at - t0) / span) * width;
      const y = height - Math.max(0, Math.min(1, s.rates[name]!)) * height;
      return `${i === 0 ? 'M' : 'L'}${x.toFixed(1)},${y.toFixed(1)}`;
    })
    .join(' ');
}
