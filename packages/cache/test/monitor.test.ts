import { describe, expect, it } from 'vitest';
import { CacheMonitor, MemoryCache, tierOf } from '../src/index.js';
import { expectCode, manualClock } from './contract.js';

describe('CacheMonitor', () => {
  it('computes latency percentiles per operation from the samples', () => {
    const clock = manualClock(0);
    const m = new CacheMonitor({ clock });
    for (let i = 1; i <= 100; i++) {
      const t = m.begin('get');
      clock.advance(i); // i ms
      m.end('get', t);
    }
    const t = m.begin('set');
    clock.advance(7);
    m.end('set', t);
    const s = m.snapshot();
    expect(s.ops.get).toMatchObject({ count: 100, samples: 100, p50: 50, p95: 95, p99: 99, max: 100, mean: 50.5 });
    expect(s.ops.set).toMatchObject({ count: 1, p99: 7 });
    expect(s.ops.delete).toBeUndefined();
    expect(s.totalOps).toBe(101);
  });

  it('keeps only the most recent reservoirSize samples', () => {
    const clock = manualClock(0);
    const m = new CacheMonitor({ clock, reservoirSize: 10 });
    for (let i = 1; i <= 30; i++) {
      const t = m.begin('get');
      clock.advance(i);
      m.end('get', t);
    }
    expect(m.snapshot().ops.get).toMatchObject({ count: 30, samples: 10, p50: 25, max: 30 });
  });

  it('times one operation in sampleEvery but counts all', () => {
    let reads = 0;
    const m = new CacheMonitor({ clock: { now: () => ++reads }, sampleEvery: 64 });
    const before = reads;
    for (let i = 0; i < 640; i++) m.end('get', m.begin('get'));
    expect(reads - before).toBe(20); // 10 sampled ops, two clock reads each
    expect(m.snapshot().ops.get).toMatchObject({ count: 640, samples: 10 });
  });

  it('reports ops/s over the rate window', () => {
    const clock = manualClock(0);
    const m = new CacheMonitor({ clock, rateWindowMs: 10_000 });
    for (let i = 0; i < 100; i++) m.begin('get');
    clock.advance(2000);
    expect(m.snapshot().opsPerSec).toBe(50);
    for (let i = 0; i < 300; i++) m.begin('set');
    clock.advance(1000);
    expect(m.snapshot().opsPerSec).toBeCloseTo(400 / 3, 6); // still inside the window: since t=0
    clock.advance(20_000);
    expect(m.snapshot().opsPerSec).toBe(0); // nothing in the last window
  });

  it('tracks compression ratio and size tiers', () => {
    const m = new CacheMonitor();
    expect(m.snapshot().compression.ratio).toBeNull();
    m.recordCompression(1000, 250, true);
    m.recordCompression(100, 103, false);
    m.recordSize('value', 10);
    m.recordSize('value', 2000);
    m.recordSize('text', 60_000);
    const s = m.snapshot();
    expect(s.compression).toEqual({ compressed: 1, uncompressed: 1, rawBytes: 1100, storedBytes: 353, ratio: 353 / 1100 });
    expect(s.tiers.value).toEqual({ small: 1, medium: 1, large: 0, xlarge: 0 });
    expect(s.tiers.text.xlarge).toBe(1);
    expect([499, 500, 4999, 5000, 49_999, 50_000].map((n) => tierOf(n, { small: 500, medium: 5000, large: 50_000 }))).toEqual([
      'small', 'medium', 'medium', 'large', 'large', 'xlarge',
    ]);
  });

  it('is fed by a cache and validates its options', async () => {
    const m = new CacheMonitor();
    const c = new MemoryCache({ monitor: m });
    await c.set('k', 1);
    await c.get('k');
    await c.delete('k');
    await c.invalidatePattern('*');
    const s = m.snapshot();
    expect(Object.keys(s.ops).sort()).toEqual(['delete', 'get', 'invalidatePattern', 'set']);
    await expectCode(() => new CacheMonitor({ sampleEvery: 0 }), 'CACHE_INVALID_CONFIG');
    await expectCode(() => new CacheMonitor({ reservoirSize: -1 }), 'CACHE_INVALID_CONFIG');
  });
});
