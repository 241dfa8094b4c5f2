import type { CacheStatsSnapshot } from './types.js';

/** Cache counters and a fixed-size ring of cold-load latencies (percentiles without allocation per sample). */
export class LatencyRing {
  readonly #samples: Float64Array;
  #count = 0;
  #next = 0;
  #total = 0;

  constructor(capacity = 1024) {
    this.#samples = new Float64Array(capacity);
  }

  record(ms: number): void {
    this.#samples[this.#next] = ms;
    this.#next = (this.#next + 1) % this.#samples.length;
    if (this.#count < this.#samples.length) this.#count++;
    this.#total++;
  }

  /** Samples retained for the percentiles (at most the capacity). */
  get count(): number {
    return this.#count;
  }

  /** Samples ever recorded (since the last clear). */
  get total(): number {
    return this.#total;
  }

  /** Nearest-rank percentile over the retained samples; 0 when empty. */
  percentile(p: number): number {
    if (this.#count === 0) return 0;
    const sorted = this.#samples.slice(0, this.#count).sort();
    const idx = Math.min(this.#count - 1, Math.max(0, Math.ceil((p / 100) * this.#count) - 1));
    return sorted[idx] as number;
  }

  clear(): void {
    this.#count = 0;
    this.#next = 0;
    this.#total = 0;
  }
}

export class CacheCounters {
  hits = 0;
  misses = 0;
  evictions = 0;
  readonly coldLoads = new LatencyRing();

  hitRate(): number {
    const total = this.hits + this.misses;
    return total === 0 ? 0 : this.hits / total;
  }

  /** The stats record of one cache counted here: `lru` is its lru-cache, `limits` its bounds. */
  snapshot(name: string, lru: { size: number; calculatedSize: number }, limits: { maxBytes: number; maxEntries?: number }): CacheStatsSnapshot {
    return {
      name,
      hits: this.hits,
      misses: this.misses,
      size: lru.size,
      hit_rate: this.hitRate(),
      ttl: null,
      evictions: this.evictions,
      bytes: lru.calculatedSize,
      ...limits,
      cold_loads: this.coldLoads.total,
      cold_load_p50_ms: this.coldLoads.percentile(50),
      cold_load_p99_ms: this.coldLoads.percentile(99),
    };
  }
}
