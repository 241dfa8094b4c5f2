import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from 'redis';
import { RedisCache, TieredCache, parseInvalidation } from '../src/index.js';
import { type RedisServer, startRedisServer } from './redis-server.js';

let server: RedisServer;
let n = 0;
const open: TieredCache[] = [];

beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  await server.stop();
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

/** A write by `a`, returning once `b` has applied its invalidation message (so b's next read is not overlapped by it). */
async function announced(b: TieredCache, write: () => Promise<unknown>): Promise<void> {
  const ev = b.once('invalidated');
  await write();
  await ev;
}

async function pair(url = server.url): Promise<[TieredCache, TieredCache]> {
  const prefix = `coh:${++n}:`;
  const a = await TieredCache.create({ l2: await RedisCache.connect({ url, prefix, reconnect: { baseMs: 10, maxMs: 100 } }), instanceId: 'A' });
  const b = await TieredCache.create({ l2: await RedisCache.connect({ url, prefix, reconnect: { baseMs: 10, maxMs: 100 } }), instanceId: 'B' });
  open.push(a, b);
  return [a, b];
}

describe('TieredCache coherence across instances (pub/sub)', () => {
  it('reads through to L2, fills L1, and drops L1 copies when another instance writes', async () => {
    const [a, b] = await pair();
    await announced(b, () => a.set('k', 1));
    expect(await b.get('k')).toBe(1);
    expect(b.l1.getSync('k')).toBe(1); // filled
    const inval = b.once('invalidated');
    await a.set('k', 2);
    expect(await inval).toEqual({ op: 'del', src: 'A', removed: 1 });
    expect(b.l1.getSync('k')).toBeUndefined();
    expect(await b.get('k')).toBe(2);
    const s = await b.stats();
    expect(s.hits).toBe(2);
    expect((s.l1 as { hits: number }).hits).toBe(0);
  });

  it('propagates delete, pattern invalidation and clear', async () => {
    const [a, b] = await pair();
    for (const k of ['user:1', 'user:2', 'session:1', 'x']) await announced(b, () => a.set(k, k));
    for (const k of ['user:1', 'user:2', 'session:1', 'x']) expect(await b.get(k)).toBe(k);
    expect(b.l1.statsSync().size).toBe(4);

    let ev = b.once('invalidated');
    expect(await a.delete('x')).toBe(true);
    expect((await ev).op).toBe('del');
    expect(b.l1.getSync('x')).toBeUndefined();

    ev = b.once('invalidated');
    expect(await a.invalidatePattern('user:*')).toBe(2);
    expect(await ev).toEqual({ op: 'pattern', src: 'A', removed: 2 });
    expect(b.l1.getSync('user:1')).toBeUndefined();
    expect(b.l1.getSync('session:1')).toBe('session:1');

    ev = b.once('invalidated');
    await a.clear();
    expect((await ev).op).toBe('clear');
    expect(b.l1.statsSync().size).toBe(0);
    expect(await b.get('session:1')).toBeUndefined();
  });

  it('ignores its own messages and counts the others', async () => {
    const [a, b] = await pair();
    const got = b.once('invalidated');
    await a.set('k', 1);
    await a.delete('k');
    await got;
    // B's second message may still be in flight; wait until both arrived
    for (let i = 0; i < 100 && ((await b.stats()).invalidations as { received: number }).received < 2; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const sa = (await a.stats()).invalidations as { sent: number; received: number };
    const sb = (await b.stats()).invalidations as { sent: number; received: number };
    expect(sa.sent).toBe(2);
    expect(sa.received).toBe(0);
    expect(sb.received).toBe(2);
  });

  it('does not fill L1 from a read that overlapped an invalidation of its key', async () => {
    const [a, b] = await pair();
    await announced(b, () => a.set('k', 'old'));
    // hold B's L2 reply until A's newer write has been announced to B
    const l2 = b.l2 as RedisCache & { getWithTtl: RedisCache['getWithTtl'] };
    const orig = l2.getWithTtl.bind(l2);
    l2.getWithTtl = async (key: string) => {
      const r = await orig(key);
      const announced = b.once('invalidated');
      await a.set('k', 'new');
      await announced;
      return r as never;
    };
    expect(await b.get('k')).toBe('old'); // the value read before the write
    l2.getWithTtl = orig;
    expect(b.l1.getSync('k')).toBeUndefined(); // ...but it was not cached
    expect(((await b.stats()).invalidations as { skippedFills: number }).skippedFills).toBe(1);
    expect(await b.get('k')).toBe('new');
  });

  it('caps L1 ttl by the L2 remaining ttl', async () => {
    const [a, b] = await pair();
    await announced(b, () => a.set('k', 1, { ttl: 5000 }));
    await b.get('k');
    const l1ttl = await b.l1.getTtl('k');
    expect(l1ttl).toBeGreaterThan(0);
    expect(l1ttl).toBeLessThanOrEqual(5000);
  });

  it('ignores malformed messages on the channel', async () => {
    const [, b] = await pair();
    const raw = createClient({ url: server.url });
    await raw.connect();
    await raw.publish(b.channel, 'not json');
    await raw.publish(b.channel, JSON.stringify({ v: 2, src: 'x', op: 'clear' }));
    await raw.publish(b.channel, JSON.stringify({ v: 1, src: 'x', op: 'pattern', pattern: '[bad' }));
    for (let i = 0; i < 100 && ((await b.stats()).invalidations as { malformed: number }).malformed < 3; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(((await b.stats()).invalidations as { malformed: number }).malformed).toBe(3);
    raw.destroy();
  });

  it('parses only well-formed invalidation messages', () => {
    expect(parseInvalidation('{"v":1,"src":"a","op":"del","keys":["k"]}')).toEqual({ v: 1, src: 'a', op: 'del', keys: ['k'] });
    expect(parseInvalidation('{"v":1,"src":"a","op":"del","keys":[1]}')).toBeUndefined();
    expect(parseInvalidation('{"v":1,"op":"clear"}')).toBeUndefined();
    expect(parseInvalidation('[]')).toBeUndefined();
    expect(parseInvalidation('null')).toBeUndefined();
  });

  it('empties and bypasses L1 while the channel is down, and resumes after Redis returns', async () => {
    const own = await startRedisServer();
    try {
      const [a, b] = await pair(own.url);
      await announced(b, () => a.set('k', 1));
      await b.get('k');
      expect(b.l1.getSync('k')).toBe(1);
      const resync = b.once('resync');
      await own.kill();
      await resync;
      expect(b.l1.statsSync().size).toBe(0);
      expect((await b.stats().catch(() => undefined)) ?? 'unavailable').toBe('unavailable');
      await own.restart();
      for (let i = 0; i < 500; i++) {
        const st = await b.stats().catch(() => undefined);
        if (st?.l1Enabled === true && a.l2.ready) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect((await b.stats()).l1Enabled).toBe(true);
      // B is subscribed again: it receives A's message, then fills L1 on read
      await announced(b, () => a.set('k', 2));
      expect(await b.get('k')).toBe(2);
      expect(b.l1.getSync('k')).toBe(2);
      expect(((await b.stats()).invalidations as { resyncs: number }).resyncs).toBe(1);
    } finally {
      await Promise.all(open.splice(0).map((c) => c.close()));
      await own.stop();
    }
  });
});
