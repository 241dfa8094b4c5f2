/**
 * The CacheInterface contract. Every implementation's test file calls
 * runCacheContractTests(name, setup) and nothing else is needed to prove it is a cache:
 *
 *   runCacheContractTests('MemoryCache', async () => {
 *     const clock = manualClock();
 *     return { cache: new MemoryCache({ clock }), advance: async (ms) => clock.advance(ms) };
 *   });
 *
 * `setup` runs before each test and must return an empty cache with no default ttl.
 * `advance(ms)` makes ms pass for TTL purposes: a fake clock where the backend takes
 * one, a real sleep where it cannot (Redis keeps its own time).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CacheInterface } from '../src/index.js';

export interface ContractHarness {
  cache: CacheInterface<unknown>;
  advance(ms: number): Promise<void>;
  teardown?(): Promise<void>;
}

/** Runs `fn`, expects a rejection with `code`; returns the error. */
export async function expectCode(fn: () => unknown, code: string): Promise<unknown> {
  let caught: unknown;
  try {
    await fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected ${code}`).toBeDefined();
  expect((caught as { code?: string }).code).toBe(code);
  return caught;
}

export function manualClock(start = 1_000_000): { now(): number; advance(ms: number): void } {
  let t = start;
  return {
    now: () => t,
    advance: (ms: number) => {
      t += ms;
    },
  };
}

const sorted = (xs: string[]): string[] => [...xs].sort();

export function runCacheContractTests(name: string, setup: () => Promise<ContractHarness>): void {
  describe(`CacheInterface contract: ${name}`, () => {
    let h: ContractHarness;
    let cache: CacheInterface<unknown>;

    beforeEach(async () => {
      h = await setup();
      cache = h.cache;
    });
    afterEach(async () => {
      await h.teardown?.();
    });

    it('misses on an absent key and round-trips JSON values', async () => {
      expect(await cache.get('absent')).toBeUndefined();
      const values: [string, unknown][] = [
        ['obj', { a: 1, nested: { list: [1, 'two', null, true] }, s: 'é ✓ 😀' }],
        ['arr', [1, 2, 3]],
        ['str', 'hello'],
        ['empty-str', ''],
        ['num', 42.5],
        ['zero', 0],
        ['false', false],
        ['null', null],
      ];
      for (const [k, v] of values) await cache.set(k, v);
      for (const [k, v] of values) expect(await cache.get(k)).toEqual(v);
      expect(sorted(await cache.keys())).toEqual(sorted(values.map(([k]) => k)));
    });

    it('overwrites, deletes and reports existence', async () => {
      await cache.set('k', 1);
      await cache.set('k', 2);
      expect(await cache.get('k')).toBe(2);
      expect(await cache.exists('k')).toBe(true);
      expect(await cache.delete('k')).toBe(true);
      expect(await cache.delete('k')).toBe(false);
      expect(await cache.exists('k')).toBe(false);
      expect(await cache.get('k')).toBeUndefined();
    });

    it('reports remaining ttl: undefined when absent, null without ttl, <= ttl with one', async () => {
      expect(await cache.getTtl('none')).toBeUndefined();
      await cache.set('forever', 'x');
      expect(await cache.getTtl('forever')).toBeNull();
      await cache.set('timed', 'x', { ttl: 60_000 });
      const left = await cache.getTtl('timed');
      expect(typeof left).toBe('number');
      expect(left as number).toBeGreaterThan(50_000);
      expect(left as number).toBeLessThanOrEqual(60_000);
      // overwriting without ttl removes the expiry
      await cache.set('timed', 'y');
      expect(await cache.getTtl('timed')).toBeNull();
    });

    it('expires entries after their ttl', async () => {
      // generous numbers: for Redis, advance() is a real sleep on a shared machine
      await cache.set('short', 'x', { ttl: 500 });
      await cache.set('long', 'y', { ttl: 60_000 });
      expect(await cache.get('short')).toBe('x');
      await h.advance(1100);
      expect(await cache.get('short')).toBeUndefined();
      expect(await cache.exists('short')).toBe(false);
      expect(await cache.getTtl('short')).toBeUndefined();
      expect(await cache.keys('*')).toEqual(['long']);
      expect(await cache.get('long')).toBe('y');
    });

    it('clears every entry', async () => {
      for (let i = 0; i < 20; i++) await cache.set(`c:${i}`, i);
      await cache.clear();
      expect(await cache.keys()).toEqual([]);
      expect(await cache.get('c:1')).toBeUndefined();
      await cache.set('after', 1);
      expect(await cache.get('after')).toBe(1);
    });

    it('matches glob patterns: *, ?, classes, negation, ranges, escapes', async () => {
      const keys = ['user:1', 'user:2', 'user:10', 'user:a', 'usr:1', 'session:1', 'a*b', 'axb', 'a[1]', 'é:1', 'x'];
      for (const k of keys) await cache.set(k, k);
      expect(sorted(await cache.keys('user:*'))).toEqual(['user:1', 'user:10', 'user:2', 'user:a']);
      expect(sorted(await cache.keys('user:?'))).toEqual(['user:1', 'user:2', 'user:a']);
      expect(sorted(await cache.keys('user:[12]'))).toEqual(['user:1', 'user:2']);
      expect(sorted(await cache.keys('user:[0-9]*'))).toEqual(['user:1', 'user:10', 'user:2']);
      expect(sorted(await cache.keys('user:[!0-9]'))).toEqual(['user:a']);
      expect(sorted(await cache.keys('user:[^0-9]'))).toEqual(['user:a']);
      expect(sorted(await cache.keys('us*r:1'))).toEqual(['user:1', 'usr:1']);
      expect(await cache.keys('a\\*b')).toEqual(['a*b']);
      expect(sorted(await cache.keys('a?b'))).toEqual(['a*b', 'axb']);
      expect(await cache.keys('a\\[1\\]')).toEqual(['a[1]']);
      expect(await cache.keys('?:1')).toEqual(['é:1']);
      expect(await cache.keys('x')).toEqual(['x']);
      expect(await cache.keys('nothing*')).toEqual([]);
      expect((await cache.keys('*')).length).toBe(keys.length);
    });

    it('invalidates by pattern and returns the count', async () => {
      for (let i = 0; i < 30; i++) await cache.set(`p:${i}`, i);
      for (let i = 0; i < 5; i++) await cache.set(`q:${i}`, i);
      expect(await cache.invalidatePattern('p:1*')).toBe(11); // 1, 10..19
      expect(await cache.invalidatePattern('p:1*')).toBe(0);
      expect(await cache.invalidatePattern('p:*')).toBe(19);
      expect(sorted(await cache.keys())).toEqual(['q:0', 'q:1', 'q:2', 'q:3', 'q:4']);
      expect(await cache.invalidatePattern('q:3')).toBe(1);
      expect(await cache.get('q:3')).toBeUndefined();
      expect(await cache.get('q:4')).toBe(4);
    });

    it('rejects bad keys with CACHE_INVALID_KEY and changes nothing', async () => {
      await cache.set('good', 1);
      const bad: unknown[] = ['', 'a\nb', 'tab\there', '\u0000', 'x'.repeat(5000), 42, null, undefined, {}];
      for (const k of bad) {
        await expectCode(() => cache.get(k as string), 'CACHE_INVALID_KEY');
        await expectCode(() => cache.set(k as string, 1), 'CACHE_INVALID_KEY');
        await expectCode(() => cache.delete(k as string), 'CACHE_INVALID_KEY');
        await expectCode(() => cache.exists(k as string), 'CACHE_INVALID_KEY');
        await expectCode(() => cache.getTtl(k as string), 'CACHE_INVALID_KEY');
      }
      expect(await cache.keys()).toEqual(['good']);
      expect(await cache.get('good')).toBe(1);
    });

    it('rejects bad ttls with CACHE_INVALID_TTL and keeps the old value', async () => {
      await cache.set('k', 'old', { ttl: 60_000 });
      for (const ttl of [0, -1, NaN, Infinity, -Infinity, '100', null]) {
        await expectCode(() => cache.set('k', 'new', { ttl: ttl as number }), 'CACHE_INVALID_TTL');
      }
      await expectCode(() => cache.set('k', 'new', 5 as never), 'CACHE_INVALID_TTL');
      expect(await cache.get('k')).toBe('old');
      expect(await cache.getTtl('k')).toBeGreaterThan(50_000);
    });

    it('rejects undefined values with CACHE_INVALID_VALUE', async () => {
      await cache.set('k', 'old');
      await expectCode(() => cache.set('k', undefined), 'CACHE_INVALID_VALUE');
      expect(await cache.get('k')).toBe('old');
    });

    it('rejects bad patterns with CACHE_INVALID_PATTERN and deletes nothing', async () => {
      await cache.set('a[1', 1);
      for (const p of ['', '[abc', 'a\\', 'a[1', '[z-a]', 'a\nb', 7, null]) {
        await expectCode(() => cache.keys(p as string), 'CACHE_INVALID_PATTERN');
        await expectCode(() => cache.invalidatePattern(p as string), 'CACHE_INVALID_PATTERN');
      }
      expect(await cache.get('a[1')).toBe(1);
    });

    it('counts hits and misses', async () => {
      const before = await cache.stats();
      await cache.set('h', 1);
      await cache.get('h');
      await cache.get('h');
      await cache.get('nope');
      const after = await cache.stats();
      expect(after.hits - before.hits).toBe(2);
      expect(after.misses - before.misses).toBe(1);
      expect(after.size).toBe(1);
      expect(typeof after.backend).toBe('string');
    });

    it('keeps every value under concurrent sets and gets', async () => {
      await Promise.all(Array.from({ length: 200 }, (_, i) => cache.set(`con:${i}`, { i })));
      const got = await Promise.all(Array.from({ length: 200 }, (_, i) => cache.get(`con:${i}`)));
      got.forEach((v, i) => expect(v).toEqual({ i }));
      expect((await cache.keys('con:*')).length).toBe(200);
    });

    it('fails with CACHE_CLOSED after close (idempotent)', async () => {
      await cache.set('k', 1);
      await cache.close();
      await cache.close();
      await expectCode(() => cache.get('k'), 'CACHE_CLOSED');
      await expectCode(() => cache.set('k', 2), 'CACHE_CLOSED');
      await expectCode(() => cache.keys('*'), 'CACHE_CLOSED');
    });
  });
}
