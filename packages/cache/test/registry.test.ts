import { describe, expect, expectTypeOf, it } from 'vitest';
import type { CacheStatsSnapshot as CoreSnapshot } from '@profilesync/core';
import {
  type CacheStats,
  type CacheStatsSnapshot,
  CacheMonitor,
  CacheRegistry,
  ConversationCache,
  MemoryCache,
  ResponseCache,
  toSnapshot,
} from '../src/index.js';
import { expectCode, manualClock } from './contract.js';

describe('CacheRegistry', () => {
  it('matches the core CacheStatsSnapshot type both ways', () => {
    expectTypeOf<CacheStatsSnapshot>().toEqualTypeOf<CoreSnapshot>();
  });

  it('lists every cache in the /api/cache/stats shape (ttl in seconds, hit_rate 0..1)', async () => {
    const clock = manualClock();
    const registry = new CacheRegistry();
    const monitor = new CacheMonitor({ clock });
    const profiles = new MemoryCache({ defaultTtl: 60_000, maxBytes: 100_000, clock, monitor });
    const models = new MemoryCache({ maxEntries: 2, clock });
    registry.register('profiles', profiles, { monitor });
    registry.register('models', models);
    registry.register('responses', new ResponseCache({ cache: new MemoryCache({ clock }) }));
    registry.register('signatures', new ConversationCache({ clock }));
    await profiles.set('a', { x: 1 });
    await profiles.get('a');
    await profiles.get('a');
    await profiles.get('a');
    await profiles.get('b');
    for (const k of ['1', '2', '3']) await models.set(k, k);
    clock.advance(1000);

    const list = await registry.stats();
    expect(list.map((s) => s.name)).toEqual(['models', 'profiles', 'responses', 'signatures']);
    const p = list.find((s) => s.name === 'profiles')!;
    expect(p).toMatchObject({ name: 'profiles', hits: 3, misses: 1, size: 1, hit_rate: 0.75, ttl: 60, ttl_ms: 60_000, evictions: 0, backend: 'memory', maxBytes: 100_000 });
    expect(p.bytes).toBeGreaterThan(0);
    expect((p.latency_ms as Record<string, { count: number }>).get!.count).toBe(4);
    expect(p.ops_per_sec).toBe(5); // 5 operations over 1 s of the injected clock
    const m = list.find((s) => s.name === 'models')!;
    expect(m).toMatchObject({ hits: 0, misses: 0, size: 2, hit_rate: 0, ttl: null, evictions: 1 });
    expect(list.find((s) => s.name === 'signatures')!.ttl).toBe(7 * 24 * 3600);
  });

  it('clears one cache by name or all, and reports unknown names as CACHE_NOT_FOUND', async () => {
    const registry = new CacheRegistry();
    const a = new MemoryCache();
    const b = new MemoryCache();
    registry.register('a', a);
    registry.register('b', b);
    await a.set('k', 1);
    await b.set('k', 1);
    expect(await registry.clear('a')).toEqual(['a']);
    expect(await a.get('k')).toBeUndefined();
    expect(await b.get('k')).toBe(1);
    expect(await registry.clear()).toEqual(['a', 'b']);
    expect(await b.get('k')).toBeUndefined();
    await expectCode(() => registry.clear('nope'), 'CACHE_NOT_FOUND');
  });

  it('validates registrations', async () => {
    const registry = new CacheRegistry();
    const unregister = registry.register('x', new MemoryCache());
    await expectCode(() => registry.register('x', new MemoryCache()), 'CACHE_ALREADY_REGISTERED');
    await expectCode(() => registry.register('bad name', new MemoryCache()), 'CACHE_INVALID_CONFIG');
    await expectCode(() => registry.register('', new MemoryCache()), 'CACHE_INVALID_CONFIG');
    await expectCode(() => registry.register('y', {} as never), 'CACHE_INVALID_CONFIG');
    unregister();
    expect(registry.names()).toEqual([]);
    registry.register('x', new MemoryCache());
    expect(registry.unregister('x')).toBe(true);
  });

  it('lists a cache whose stats fail with its error code instead of failing the whole list', async () => {
    const registry = new CacheRegistry();
    registry.register('ok', new MemoryCache());
    const closed = new MemoryCache();
    await closed.close();
    registry.register('closed', {
      stats: () => closed.stats().then(() => closed.keys()).then(() => ({}) as CacheStats),
      clear: () => closed.clear(),
    });
    const list = await registry.stats();
    expect(list.find((s) => s.name === 'closed')).toMatchObject({ error: 'CACHE_CLOSED', hits: 0 });
    expect(list.find((s) => s.name === 'ok')?.error).toBeUndefined();
    const metrics = await registry.metrics();
    expect(metrics.find((s) => s.name === 'profilesync_cache_up' && s.labels.cache === 'closed')?.value).toBe(0);
    expect(metrics.find((s) => s.name === 'profilesync_cache_up' && s.labels.cache === 'ok')?.value).toBe(1);
  });

  it('exposes plain metric samples for Prometheus', async () => {
    const registry = new CacheRegistry();
    const monitor = new CacheMonitor();
    const c = new MemoryCache({ monitor, maxBytes: 10_000 });
    registry.register('hot', c, { monitor });
    await c.set('k', 'v');
    await c.get('k');
    await c.get('missing');
    const samples = await registry.metrics();
    const find = (name: string, labels: Record<string, string> = {}) =>
      samples.find((s) => s.name === name && Object.entries({ cache: 'hot', ...labels }).every(([k, v]) => s.labels[k] === v));
    expect(find('profilesync_cache_hits_total')).toMatchObject({ type: 'counter', value: 1 });
    expect(find('profilesync_cache_misses_total')?.value).toBe(1);
    expect(find('profilesync_cache_entries')).toMatchObject({ type: 'gauge', value: 1 });
    expect(find('profilesync_cache_hit_ratio')?.value).toBe(0.5);
    expect(find('profilesync_cache_bytes')?.value).toBeGreaterThan(0);
    expect(find('profilesync_cache_operations_total', { op: 'get' })?.value).toBe(2);
    expect(find('profilesync_cache_operation_latency_ms', { op: 'get', quantile: '0.99' })?.type).toBe('gauge');
    for (const s of samples) {
      expect(s.name).toMatch(/^[a-z_]+$/);
      expect(Number.isFinite(s.value)).toBe(true);
      expect(s.help.length).toBeGreaterThan(0);
    }
  });

  it('toSnapshot keeps backend-specific fields under details', () => {
    const snap = toSnapshot('r', {
      backend: 'redis',
      hits: 1,
      misses: 0,
      sets: 1,
      deletes: 0,
      evictions: 0,
      expirations: 0,
      size: 1,
      defaultTtl: null,
      corrupt: 2,
    });
    expect(snap).toMatchObject({ name: 'r', hit_rate: 1, ttl: null, details: { corrupt: 2 } });
  });
});
