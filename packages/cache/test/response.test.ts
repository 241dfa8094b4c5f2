import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CacheInterface,
  CacheMonitor,
  MemoryCache,
  RedisCache,
  ResponseCache,
  ResponseKeyGenerator,
  canonicalJson,
  escapeComponent,
} from '../src/index.js';
import { expectCode, manualClock } from './contract.js';
import { type RedisServer, startRedisServer } from './redis-server.js';

const req = (over: Partial<Parameters<ResponseCache['cacheResponse']>[0]> = {}) => ({
  profileId: 'gpt4:support',
  profileVersion: 'v1-abc',
  operation: 'summarize',
  text: 'Long document to analyze...',
  options: { max_length: 100, model: 'gpt-4', nested: { b: 2, a: 1 } },
  ...over,
});

describe('ResponseKeyGenerator', () => {
  const g = new ResponseKeyGenerator({ textHashThreshold: 40 });

  it('orders options canonically at every depth', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[1,{"y":2,"z":1}]},"b":1}');
    expect(canonicalJson({ a: undefined, b: 1 })).toBe('{"b":1}');
    const k1 = g.key(req({ options: { model: 'gpt-4', max_length: 100, nested: { a: 1, b: 2 } } }));
    const k2 = g.key(req());
    expect(k1).toBe(k2);
    expect(g.key(req({ options: { max_length: 101, model: 'gpt-4', nested: { a: 1, b: 2 } } }))).not.toBe(k2);
  });

  it('keeps short text readable (escaped) and hashes long text with SHA-256', () => {
    const short = g.key(req({ text: 'a:b=c*d' }));
    expect(short).toContain(':t=a%3Ab%3Dc%2Ad');
    const long = g.key(req({ text: 'x'.repeat(41) }));
    expect(long).toMatch(/:th=[0-9a-f]{64}$/);
    expect(g.key(req({ text: 'x'.repeat(41) }))).toBe(long);
    expect(g.key(req({ text: 'x'.repeat(42) }))).not.toBe(long);
    // the threshold counts escaped characters
    expect(g.key(req({ text: ':'.repeat(14) }))).toMatch(/:th=/); // 14 * 3 = 42 escaped chars
    expect(g.key(req({ text: ':'.repeat(13) }))).toContain(':t=%3A');
    // question: readable, hashed, and distinct from no question
    expect(g.key(req({ question: 'why?' }))).toMatch(/:q=why%3F$/);
    expect(g.key(req({ question: 'q'.repeat(50) }))).toMatch(/:qh=[0-9a-f]{64}$/);
    expect(g.key(req({ question: '' }))).not.toBe(g.key(req()));
  });

  it('puts profile id, version and operation in tagged, escaped segments', () => {
    const k = g.key(req({ text: 'hi' }));
    expect(k.startsWith('llm:p=gpt4%3Asupport:v=v1-abc:o=summarize:x=')).toBe(true);
    expect(escapeComponent('a\nb')).toBe('a%0Ab');
    expect(g.key(req({ profileVersion: 7 }))).toContain(':v=7:');
  });

  it('hashes text when the readable key would exceed maxKeyLength', () => {
    const g2 = new ResponseKeyGenerator({ textHashThreshold: 10_000, maxKeyLength: 200 });
    const k = g2.key(req({ text: 'y'.repeat(300) }));
    expect(k.length).toBeLessThanOrEqual(200);
    expect(k).toMatch(/:th=/);
  });

  it('rejects bad requests with CACHE_INVALID_REQUEST', async () => {
    const bad = [
      req({ profileId: '' }),
      req({ profileId: '-x' }),
      req({ profileId: 'a b' }),
      req({ profileVersion: '' }),
      req({ profileVersion: -1 }),
      req({ profileVersion: 1.5 }),
      req({ operation: 'sum marize' }),
      req({ operation: '' }),
      req({ text: 5 as never }),
      req({ question: 5 as never }),
      req({ options: [] as never }),
      req({ options: { n: NaN } }),
      req({ options: { f: () => 1 } }),
      req({ options: { d: new Date() } }),
      req({ options: { b: 1n } as never }),
    ];
    for (const r of bad) await expectCode(() => g.key(r), 'CACHE_INVALID_REQUEST');
  });
});

let server: RedisServer;
beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  await server.stop();
});

const backends: [string, () => Promise<{ cache: CacheInterface<unknown>; advance: (ms: number) => Promise<void>; clock?: ReturnType<typeof manualClock> }>][] = [
  [
    'memory',
    async () => {
      const clock = manualClock();
      return { cache: new MemoryCache({ clock }), advance: async (ms) => clock.advance(ms), clock };
    },
  ],
  [
    'redis',
    async () => ({
      cache: await RedisCache.connect({ url: server.url, prefix: `resp:${Math.random().toString(36).slice(2)}:` }),
      advance: (ms) => new Promise((r) => setTimeout(r, ms)),
    }),
  ],
];

for (const [label, make] of backends) {
  describe(`ResponseCache over ${label}`, () => {
    it('hits after an identical request (option order irrelevant) and misses after a profile version change', async () => {
      const { cache } = await make();
      const monitor = new CacheMonitor();
      const rc = new ResponseCache<{ summary: string }>({ cache, monitor });
      expect(await rc.getCachedResponse(req())).toBeUndefined();
      await rc.cacheResponse(req(), { summary: 'Brief summary' });
      const reordered = req({ options: { nested: { a: 1, b: 2 }, model: 'gpt-4', max_length: 100 } });
      expect(await rc.getCachedResponse(reordered)).toEqual({ summary: 'Brief summary' });
      // the profile was edited: new version, no old answers
      expect(await rc.getCachedResponse(req({ profileVersion: 'v2-def' }))).toBeUndefined();
      // any other input changes the key too
      expect(await rc.getCachedResponse(req({ operation: 'sentiment' }))).toBeUndefined();
      expect(await rc.getCachedResponse(req({ text: 'other' }))).toBeUndefined();
      expect(await rc.getCachedResponse(req({ question: 'q' }))).toBeUndefined();
      expect(await rc.getCachedResponse(req({ profileId: 'other' }))).toBeUndefined();
      const s = await rc.stats();
      expect(s.hits).toBe(1);
      expect(s.misses).toBe(6);
      expect(s.sets).toBe(1);
      expect(s.size).toBe(1);
      expect((s.byOperation as Record<string, { hits: number; misses: number }>).summarize).toMatchObject({ hits: 1, misses: 5 });
      expect((s.textTiers as Record<string, { hits: number }>).small!.hits).toBe(1);
      expect(monitor.snapshot().tiers.text.small).toBe(1);
      await cache.close();
    });

    it('counts text-size tiers', async () => {
      const { cache } = await make();
      const rc = new ResponseCache({ cache });
      for (const n of [10, 600, 6000, 60_000]) await rc.cacheResponse(req({ text: 'z'.repeat(n) }), { n });
      for (const n of [10, 600, 6000, 60_000]) expect(await rc.getCachedResponse(req({ text: 'z'.repeat(n) }))).toEqual({ n });
      const tiers = (await rc.stats()).textTiers as Record<string, { hits: number; sets: number }>;
      for (const t of ['small', 'medium', 'large', 'xlarge']) expect(tiers[t]).toMatchObject({ hits: 1, sets: 1 });
      await cache.close();
    });

    it('invalidates by operation and by profile, returning counts, and leaves the rest', async () => {
      const { cache } = await make();
      await cache.set('unrelated', 1);
      const rc = new ResponseCache({ cache });
      for (const profileId of ['p1', 'p1:x', 'p2']) {
        for (const operation of ['summarize', 'sum', 'qa']) {
          for (const profileVersion of ['v1', 'v2']) await rc.cacheResponse(req({ profileId, operation, profileVersion, text: operation }), 1);
        }
      }
      // a text equal to an operation name must not be mistaken for the operation
      await rc.cacheResponse(req({ profileId: 'p2', operation: 'qa', text: ':o=sum:', question: 'summarize' }), 1);
      expect(await rc.invalidateByOperation('sum')).toBe(6);
      expect(await rc.invalidateByOperation('sum')).toBe(0);
      expect(await rc.invalidateByProfile('p1')).toBe(4); // not p1:x
      expect(await rc.invalidateByProfile('p1:x')).toBe(4);
      expect((await rc.stats()).size).toBe(5); // p2: summarize v1/v2, qa v1/v2, + the tricky one
      expect(await rc.getCachedResponse(req({ profileId: 'p2', operation: 'qa', text: 'qa', profileVersion: 'v2' }))).toBe(1);
      await rc.clear();
      expect((await rc.stats()).size).toBe(0);
      expect(await cache.get('unrelated')).toBe(1);
      await expectCode(() => rc.invalidateByOperation('a*'), 'CACHE_INVALID_REQUEST');
      await expectCode(() => rc.invalidateByProfile('*'), 'CACHE_INVALID_REQUEST');
      await cache.close();
    });

    it('applies per-operation ttls', async () => {
      const { cache, advance } = await make();
      const rc = new ResponseCache({ cache, operationTtls: { fast: 50, qa: 60_000 }, defaultTtl: 120_000 });
      expect(rc.ttlFor('summarize')).toBe(7_200_000);
      expect(rc.ttlFor('unknown')).toBe(120_000);
      await rc.cacheResponse(req({ operation: 'fast' }), 'f');
      await rc.cacheResponse(req({ operation: 'qa' }), 'q');
      expect(await cache.getTtl(rc.keyFor(req({ operation: 'qa' })))).toBeGreaterThan(50_000);
      await advance(150);
      expect(await rc.getCachedResponse(req({ operation: 'fast' }))).toBeUndefined();
      expect(await rc.getCachedResponse(req({ operation: 'qa' }))).toBe('q');
      await cache.close();
    });
  });
}

describe('ResponseCache configuration', () => {
  it('rejects bad ttls and namespaces with CACHE_INVALID_CONFIG', async () => {
    const cache = new MemoryCache();
    await expectCode(() => new ResponseCache({ cache, operationTtls: { qa: 0 } }), 'CACHE_INVALID_CONFIG');
    await expectCode(() => new ResponseCache({ cache, operationTtls: { qa: null as never } }), 'CACHE_INVALID_CONFIG');
    await expectCode(() => new ResponseCache({ cache, defaultTtl: -5 }), 'CACHE_INVALID_CONFIG');
    await expectCode(() => new ResponseCache({ cache, namespace: 'a:b' }), 'CACHE_INVALID_CONFIG');
    await expectCode(() => new ResponseCache({ cache, textHashThreshold: -1 }), 'CACHE_INVALID_CONFIG');
    await expectCode(() => new ResponseCache({ cache: {} as never }), 'CACHE_INVALID_CONFIG');
  });
});
