import { afterEach, describe, expect, it } from 'vitest';
import { PROFILE_SNAPSHOT_POLICY } from '../src/open.js';
import { LatencyRing } from '../src/stats.js';
import type { StoreEvents } from '../src/events.js';
import { ctx, harness, sample, type Harness } from './helpers.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('caches and stats', () => {
  it('hot views are byte-bounded and evict; a miss reloads the same view', async () => {
    h = await harness({ hotCacheBytes: 2000 });
    const views = [];
    for (let i = 0; i < 8; i++) views.push(await h.store.create({ id: `p${i}`, ...sample() }, ctx));
    const s = h.store.cacheStats().find((c) => c.name === 'profiles')!;
    expect(s.bytes).toBeLessThanOrEqual(2000);
    expect(s.evictions).toBeGreaterThan(0);
    expect(s.size).toBeLessThan(8);
    for (const v of views) expect(await h.store.get(v.id)).toEqual(v);
    const after = h.store.cacheStats().find((c) => c.name === 'profiles')!;
    expect(after.misses).toBeGreaterThan(0);
    expect(after.hit_rate).toBeGreaterThanOrEqual(0);
    expect(after['cold_load_p99_ms']).toBeGreaterThan(0);
  });

  it('live docs are count-bounded; evicted docs are destroyed and reloaded on the next write', async () => {
    h = await harness({ maxDocs: 2 });
    const loaded: StoreEvents['document-loaded'][] = [];
    h.store.on('document-loaded', (e) => loaded.push(e));
    for (let i = 0; i < 4; i++) await h.store.create({ id: `d${i}`, ...sample() }, ctx);
    const docs = h.store.cacheStats().find((c) => c.name === 'docs')!;
    expect(docs.size).toBe(2);
    expect(docs.evictions).toBe(2);
    const v = await h.store.update('d0', { name: 'reloaded' }, ctx);
    expect(v.name).toBe('reloaded');
    expect(loaded.map((e) => e.id)).toEqual(['d0']);
    expect(loaded[0]!.durationMillis).toBeGreaterThanOrEqual(0);
  });

  it('live docs count their real bytes (loaded state plus written updates), so the byte bound holds', async () => {
    h = await harness();
    const written = new Map<string, number>();
    h.store.on('profile-written', (e) => written.set(e.id, (written.get(e.id) ?? 0) + e.bytes));
    for (let i = 0; i < 5; i++) await h.store.create({ id: `b${i}`, ...sample() }, ctx);
    await h.store.update('b0', { description: 'x'.repeat(2000) }, ctx);
    const sum = (): number => [...written.values()].reduce((a, b) => a + b, 0);
    const docs = () => h!.store.cacheStats().find((c) => c.name === 'docs')!;
    expect(docs().size).toBe(5);
    expect(written.get('b0')).toBeGreaterThan(2000);
    expect(docs().bytes).toBe(sum());
    expect(docs().bytes).toBeGreaterThan(2000 + 5 * 100);
    // a cold load counts the state it was loaded from
    h.store.clearCache('docs');
    const loaded: StoreEvents['document-loaded'][] = [];
    h.store.on('document-loaded', (e) => loaded.push(e));
    const before = written.get('b1')!;
    await h.store.update('b1', { name: 'reloaded' }, ctx);
    expect(docs().size).toBe(1);
    expect(loaded[0]!.bytes).toBeGreaterThan(100);
    expect(docs().bytes).toBe(loaded[0]!.bytes + (written.get('b1')! - before));

    // the byte bound: docs whose updates outgrow it are evicted (were each counted as 1 byte)
    await h.close();
    const perDoc = written.get('b2')!;
    h = await harness({ maxDocBytes: perDoc * 3 });
    for (let i = 0; i < 6; i++) await h.store.create({ id: `c${i}`, ...sample() }, ctx);
    expect(docs().bytes).toBeLessThanOrEqual(perDoc * 3);
    expect(docs().size).toBeLessThanOrEqual(3);
    expect(docs().evictions).toBeGreaterThanOrEqual(3);
    expect((await h.store.update('c0', { name: 'after eviction' }, ctx)).name).toBe('after eviction');
  });

  it('the default snapshot policy snapshots a young profile after 32 entries or 64 KiB (cold loads merge a short tail), a long history every 256 entries or 256 KiB; a clean close leaves no tail', async () => {
    const at = (entriesSince: number, bytesSince: number, headSeq = entriesSince): boolean => PROFILE_SNAPSHOT_POLICY({ entriesSince, bytesSince, lastSnapshotSeq: headSeq - entriesSince, headSeq });
    expect([at(31, 65_535), at(32, 0), at(1, 65_536)]).toEqual([false, true, true]);
    expect([at(32, 0, 1024), at(32, 0, 1025), at(255, 262_143, 5000), at(256, 0, 5000), at(1, 262_144, 5000)]).toEqual([true, false, false, true, true]);
    h = await harness();
    await h.store.create({ id: 's', ...sample() }, ctx);
    for (let i = 1; i < 70; i++) await h.store.update('s', { description: `edit ${i}` }, ctx);
    await h.store.log.idle();
    const loaded = await h.store.log.loadState('s');
    expect([loaded.seq, loaded.snapshotSeq, loaded.tailEntries]).toEqual([70, 64, 6]);
    await h.reopen();
    const events: StoreEvents['document-loaded'][] = [];
    h.store.on('document-loaded', (e) => events.push(e));
    expect((await h.store.update('s', { name: 'after reopen' }, ctx)).description).toBe('edit 69');
    // the clean close wrote the profile's rest state at its head: the cold load merged no tail
    expect(events.map((e) => [e.snapshotSeq, e.tailEntries])).toEqual([[70, 0]]);
  });

  it('clearCache clears by name or all, and correctness holds after it', async () => {
    h = await harness();
    await h.store.create({ id: 'x', ...sample() }, ctx);
    expect(h.store.clearCache('docs')).toEqual(['docs']);
    expect(h.store.clearCache()).toEqual(['profiles', 'docs']);
    expect(h.store.clearCache('nope')).toEqual([]);
    const v = await h.store.update('x', { name: 'after clear' }, ctx);
    expect(h.store.get('x')).toBe(v);
  });

  it('typed events carry durations', async () => {
    h = await harness();
    const written: StoreEvents['profile-written'][] = [];
    const rejected: StoreEvents['write-rejected'][] = [];
    h.store.on('profile-written', (e) => written.push(e));
    h.store.on('write-rejected', (e) => rejected.push(e));
    await h.store.create({ id: 'e', ...sample() }, ctx);
    expect(written[0]).toMatchObject({ id: 'e', seq: 1, action: 'create', origin: 'local' });
    expect(written[0]!.durationMillis).toBeGreaterThan(0);
  });

  it('LatencyRing percentiles over a bounded window', () => {
    const r = new LatencyRing(4);
    expect(r.percentile(99)).toBe(0);
    for (const x of [5, 1, 3, 2, 100]) r.record(x);
    expect(r.count).toBe(4);
    expect(r.total).toBe(5); // cold_loads counts every load, not just the retained window
    expect(r.percentile(50)).toBe(2);
    expect(r.percentile(99)).toBe(100);
    r.clear();
    expect([r.count, r.total, r.percentile(50)]).toEqual([0, 0, 0]);
  });
});
