import { describe, expect, it } from 'vitest';
import { ConversationCache, MemoryCache, SEVEN_DAYS_MS, conversationKey } from '../src/index.js';
import { expectCode, manualClock } from './contract.js';

const DAY = 24 * 3600_000;

function setup(maxEntries = 1000) {
  const clock = manualClock(Date.UTC(2025, 0, 1));
  const store = new MemoryCache({ maxEntries, clock });
  const cc = new ConversationCache({ store, clock });
  return { clock, store, cc };
}

describe('ConversationCache', () => {
  it('stores entries keyed by conversation and model, counting requests', async () => {
    const { clock, cc } = setup();
    const put = await cc.put('conv-1', 'gemini-2.5-flash', 'sig-token-1');
    expect(put).toEqual({ value: 'sig-token-1', createdAt: clock.now(), requestCount: 0, conversationId: 'conv-1', modelId: 'gemini-2.5-flash' });
    await cc.put('conv-1', 'other-model', 'sig-token-2');
    expect((await cc.get('conv-1', 'gemini-2.5-flash'))?.value).toBe('sig-token-1');
    expect((await cc.get('conv-1', 'other-model'))?.value).toBe('sig-token-2');
    clock.advance(1000);
    const third = await cc.get('conv-1', 'gemini-2.5-flash');
    expect(third?.requestCount).toBe(2);
    expect(third?.createdAt).toBe(put.createdAt);
    expect(await cc.get('conv-2', 'gemini-2.5-flash')).toBeUndefined();
    const s = await cc.stats();
    expect(s).toMatchObject({ hits: 3, misses: 1, sets: 2, size: 2, defaultTtl: SEVEN_DAYS_MS });
  });

  it('expires entries after 7 days by default (injected clock)', async () => {
    const { clock, cc } = setup();
    await cc.put('c', 'm', 'tok');
    clock.advance(7 * DAY);
    expect((await cc.get('c', 'm'))?.value).toBe('tok');
    clock.advance(1);
    expect(await cc.get('c', 'm')).toBeUndefined();
  });

  it('counts each validation layer separately and treats a failure as a miss that removes the entry', async () => {
    const { clock, store, cc } = setup();
    const now = clock.now();
    const good = { value: 'tok', createdAt: now, requestCount: 0, conversationId: 'c1', modelId: 'm1' };
    const k = conversationKey('c1', 'm1');

    // layer 1: format
    for (const bad of [
      'just a string',
      null,
      { ...good, value: '' },
      { ...good, value: 42 },
      { ...good, createdAt: 'yesterday' },
      { ...good, requestCount: -1 },
      { ...good, requestCount: 1.5 },
      { value: 'tok', createdAt: now, requestCount: 0 },
    ]) {
      store.setSync(k, bad);
      expect(await cc.get('c1', 'm1')).toBeUndefined();
      expect(store.getSync(k)).toBeUndefined(); // removed
    }
    // layer 2: ttl (written by a process with a different clock, store ttl still long)
    store.setSync(k, { ...good, createdAt: now - 8 * DAY });
    expect(await cc.get('c1', 'm1')).toBeUndefined();
    store.setSync(k, { ...good, createdAt: now + 3600_000 }); // from the future beyond the skew
    expect(await cc.get('c1', 'm1')).toBeUndefined();
    // layer 3: conversation id
    store.setSync(k, { ...good, conversationId: 'c2' });
    expect(await cc.get('c1', 'm1')).toBeUndefined();
    // layer 4: model id
    store.setSync(k, { ...good, modelId: 'm2' });
    expect(await cc.get('c1', 'm1')).toBeUndefined();
    store.setSync(k, { ...good, modelId: 'm2' });
    expect(await cc.get('c1', 'm1')).toBeUndefined();
    // a valid one passes all four
    store.setSync(k, good);
    expect((await cc.get('c1', 'm1'))?.value).toBe('tok');

    const s = await cc.stats();
    expect(s.invalid).toEqual({ format: 8, ttl: 2, conversation: 1, model: 2 });
    expect(s.corruptions).toBe(11);
    expect(s.misses).toBe(13);
    expect(s.hits).toBe(1);
    // the pure layer check, in order
    expect(cc.validationFailure({ ...good, modelId: 'x', conversationId: 'y' }, 'c1', 'm1')).toBe('conversation');
    expect(cc.validationFailure({ ...good, createdAt: 0, modelId: 'x' }, 'c1', 'm1')).toBe('ttl');
    expect(cc.validationFailure(good, 'c1', 'm1')).toBeUndefined();
  });

  it('evicts the least recently used entry at maxEntries', async () => {
    const { cc, store } = setup(2);
    await cc.put('a', 'm', 'A');
    await cc.put('b', 'm', 'B');
    await cc.get('a', 'm'); // a is now the most recent
    await cc.put('c', 'm', 'C');
    expect(await cc.get('b', 'm')).toBeUndefined();
    expect((await cc.get('a', 'm'))?.value).toBe('A');
    expect((await cc.get('c', 'm'))?.value).toBe('C');
    expect((await cc.stats()).evictions).toBe(1);
    expect((await store.stats()).size).toBe(2);
  });

  it('cleanupExpired removes expired entries and returns the count', async () => {
    const { clock, store, cc } = setup();
    await cc.put('old1', 'm', 't');
    await cc.put('old2', 'm', 't');
    clock.advance(3 * DAY);
    await cc.put('new', 'm', 't');
    // an entry whose createdAt says expired, though the store would keep it
    store.setSync(conversationKey('skewed', 'm'), { value: 't', createdAt: clock.now() - 10 * DAY, requestCount: 0, conversationId: 'skewed', modelId: 'm' }, { ttl: 30 * DAY });
    clock.advance(4 * DAY + 1);
    expect(await cc.cleanupExpired()).toBe(3);
    expect(await cc.cleanupExpired()).toBe(0);
    expect((await cc.get('new', 'm'))?.value).toBe('t');
    expect((await cc.stats()).cleaned).toBe(3);
  });

  it('works with its own default store (LRU of maxEntries)', async () => {
    const clock = manualClock(Date.UTC(2025, 0, 1));
    const cc = new ConversationCache({ maxEntries: 1, clock, ttl: 1000 });
    await cc.put('a', 'm', 't');
    await cc.put('b', 'm', 't');
    expect(await cc.get('a', 'm')).toBeUndefined();
    clock.advance(1001);
    expect(await cc.cleanupExpired()).toBe(1);
    await cc.close();
  });

  it('validates ids and values (CACHE_INVALID_REQUEST / CACHE_INVALID_VALUE) and config', async () => {
    const { cc } = setup();
    for (const [c, m] of [['', 'm'], ['c', ''], ['c\n', 'm'], ['c', 'x'.repeat(300)], [5, 'm']] as [string, string][]) {
      await expectCode(() => cc.put(c, m, 't'), 'CACHE_INVALID_REQUEST');
      await expectCode(() => cc.get(c, m), 'CACHE_INVALID_REQUEST');
    }
    await expectCode(() => cc.put('c', 'm', '' as string), 'CACHE_INVALID_VALUE');
    await expectCode(() => cc.put('c', 'm', 7 as never), 'CACHE_INVALID_VALUE');
    expect((await cc.stats()).sets).toBe(0);
    expect(() => new ConversationCache({ ttl: 0 })).toThrow();
    await expectCode(() => new ConversationCache({ ttl: -1 }), 'CACHE_INVALID_CONFIG');
    await expectCode(() => new ConversationCache({ maxEntries: 0 }), 'CACHE_INVALID_CONFIG');
    // ids with ':' cannot collide: 'a:b' + 'c' and 'a' + 'b:c' are different keys
    await cc.put('a:b', 'c', 'one');
    await cc.put('a', 'b:c', 'two');
    expect((await cc.get('a:b', 'c'))?.value).toBe('one');
    expect((await cc.get('a', 'b:c'))?.value).toBe('two');
  });

  it('accepts a custom value format check', async () => {
    const clock = manualClock();
    const cc = new ConversationCache<{ sig: string }>({
      clock,
      validateValue: (v): v is { sig: string } => typeof v === 'object' && v !== null && typeof (v as { sig?: unknown }).sig === 'string',
    });
    await cc.put('c', 'm', { sig: 'abc' });
    expect((await cc.get('c', 'm'))?.value).toEqual({ sig: 'abc' });
    await expectCode(() => cc.put('c', 'm', { sig: 1 } as never), 'CACHE_INVALID_VALUE');
  });
});
