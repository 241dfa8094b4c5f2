import { describe, expect, it } from 'vitest';
import { MemoryCache } from '../src/index.js';
import { expectCode, manualClock } from './contract.js';

describe('MemoryCache bounds, TTL clock and sync path', () => {
  it('evicts the least recently used entry at maxEntries and counts it', async () => {
    const c = new MemoryCache({ maxEntries: 3 });
    for (const k of ['a', 'b', 'c']) c.setSync(k, k);
    c.getSync('a');
    c.setSync('d', 'd');
    expect(c.getSync('b')).toBeUndefined();
    expect(c.getSync('a')).toBe('a');
    const s = await c.stats();
    expect(s).toMatchObject({ size: 3, evictions: 1, maxEntries: 3 });
  });

  it('bounds bytes with sizeOf, counts oversize entries and drops the old value of an oversize set', async () => {
    const c = new MemoryCache<string>({ maxBytes: 100, sizeOf: (v) => (v as string).length });
    c.setSync('a', 'x'.repeat(40));
    c.setSync('b', 'x'.repeat(40));
    c.setSync('c', 'x'.repeat(40)); // 120 > 100: evicts a
    expect(c.getSync('a')).toBeUndefined();
    let s = c.statsSync();
    expect(s).toMatchObject({ bytes: 80, maxBytes: 100, evictions: 1 });
    c.setSync('b', 'y'.repeat(101));
    expect(c.getSync('b')).toBeUndefined();
    s = c.statsSync();
    expect(s.oversize).toBe(1);
    expect(s.bytes).toBe(40);
  });

  it('expires exactly at the ttl on the injected clock, and counts expirations', async () => {
    const clock = manualClock();
    const c = new MemoryCache({ clock, defaultTtl: 1000 });
    c.setSync('d', 1);
    c.setSync('e', 1, { ttl: 10 });
    clock.advance(9);
    expect(await c.getTtl('e')).toBe(1);
    clock.advance(1);
    expect(c.getSync('e')).toBe(1); // lives for ttl ms (like Redis: expired once more than ttl has passed)
    clock.advance(1);
    expect(c.getSync('e')).toBeUndefined();
    expect(await c.getTtl('d')).toBe(989);
    clock.advance(990);
    expect(c.hasSync('d')).toBe(false);
    expect((await c.stats()).expirations).toBeGreaterThanOrEqual(1);
  });

  it('purgeExpired removes expired entries and returns the count', () => {
    const clock = manualClock();
    const c = new MemoryCache({ clock });
    for (let i = 0; i < 5; i++) c.setSync(`k${i}`, i, { ttl: 100 });
    c.setSync('keep', 1);
    clock.advance(100);
    expect(c.purgeExpired()).toBe(0);
    clock.advance(1);
    expect(c.purgeExpired()).toBe(5);
    expect(c.purgeExpired()).toBe(0);
    expect(c.statsSync().size).toBe(1);
  });

  it('sync path: returns the stored reference, validates keys on miss only, counts hits and misses', async () => {
    const c = new MemoryCache<{ n: number }>();
    const v = { n: 1 };
    c.setSync('k', v);
    expect(c.getSync('k')).toBe(v);
    expect(c.getSync('nope')).toBeUndefined();
    await expectCode(() => c.getSync(''), 'CACHE_INVALID_KEY');
    await expectCode(() => c.setSync('k', undefined as never), 'CACHE_INVALID_VALUE');
    await expectCode(() => c.setSync('k', v, { ttl: -1 }), 'CACHE_INVALID_TTL');
    expect(c.deleteSync('k')).toBe(true);
    expect(c.hasSync('k')).toBe(false);
    expect(c.statsSync()).toMatchObject({ hits: 1, misses: 1, sets: 1, deletes: 1 }); // a bad key is an error, not a miss
  });

  it('rejects bad options with CACHE_INVALID_CONFIG', async () => {
    for (const o of [{ maxEntries: 0 }, { maxEntries: 1.5 }, { maxBytes: -1 }, { defaultTtl: 0 }, { sizeOf: 5 }, { clock: {} }, 'x']) {
      await expectCode(() => new MemoryCache(o as never), 'CACHE_INVALID_CONFIG');
    }
  });
});
