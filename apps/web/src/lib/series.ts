/**
 * The cache hit-rate history the cache panel draws: samples from polling
 * GET /api/cache/stats, kept in memory for the life of the tab (bounded), and the pure
 * geometry of an SVG line chart.
 */
import type { CacheStats } from './types.js';

export interface Sample {
  at: number;
  rates: Record<string, number>;
}

export const MAX_SAMPLES = 240;

export class HitRateHistory {
  readonly #samples: Sample[] = [];
  add(at: number, caches: readonly CacheStats[]): void {
    const rates: Record<string, number> = {};
    for (const c of caches) if (Number.isFinite(c.hit_rate)) rates[c.name] = c.hit_rate;
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
