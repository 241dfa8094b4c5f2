/**
 * The response cache for apps, with real components: answers keyed by profile version (an edit
 * never serves an old answer), one model call for concurrent identical requests, in memory by
 * default and on a real redis-server when given a URL — shared between two app instances and
 * with the node's own `responses` cache (cache.redis.url): listed in its stats, cleared by its
 * admin route, dropped when the profile is deleted; a Redis outage falls back to memory.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type ProfileSyncClient } from '@profilesync/client';
import { startRedisServer, type RedisServer } from '../../cache/test/redis-server.js';
import { admin, profile, startNode, until, ADMIN, type TestNode } from './node.js';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.stop();
});

const nodes: TestNode[] = [];
const clients: ProfileSyncClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const n of nodes.splice(0)) await n.destroy();
});

function client(opts: Parameters<typeof createClient>[0]): ProfileSyncClient {
  const c = createClient(opts);
  clients.push(c);
  return c;
}

function counter() {
  let calls = 0;
  const fn = (answer: string) => async () => {
    calls++;
    await new Promise((r) => setImmediate(r));
    return { answer, call: calls };
  };
  return { fn, calls: () => calls };
}

describe('response cache', () => {
  it('memory: one call per (profile version, input); an edit makes a new key; concurrent calls share one', async () => {
    const n = await startNode();
    nodes.push(n);
    await admin(n.url, 'POST', '/api/profiles', profile('rc1'));
    const ps = client({ url: n.url, token: ADMIN });
    const m = counter();
    const v1 = await ps.get('rc1');
    const input = { question: 'What is the refund policy?' };
    const [a, b] = await Promise.all([ps.cached(v1, input, m.fn('first')), ps.cached(v1, input, m.fn('first'))]);
    expect(a).toEqual(b);
    expect(m.calls()).toBe(1);
    expect(await ps.cached(v1, { ...input }, m.fn('again'))).toEqual(a);
    expect(m.calls()).toBe(1);
    expect(await ps.cached(v1, { question: 'Other?' }, m.fn('other'))).toMatchObject({ answer: 'other' });
    expect(m.calls()).toBe(2);

    await admin(n.url, 'PATCH', '/api/profiles/rc1', { systemMessage: 'New rules.' });
    const v2 = await ps.get('rc1', { version: (await admin(n.url, 'GET', '/api/profiles/rc1')).body.version });
    expect(v2.version).not.toBe(v1.version);
    expect(await ps.cached(v2, input, m.fn('new version'))).toMatchObject({ answer: 'new version' });
    expect(m.calls()).toBe(3);
    // a render result identifies the version too
    const r = await ps.render('rc1', { product: 'Acme' });
    expect(await ps.cached(r, r.request, m.fn('rendered'))).toMatchObject({ answer: 'rendered' });
    expect(await ps.cached(r, r.request, m.fn('rendered again'))).toMatchObject({ answer: 'rendered' });
    const stats = await ps.responseStats();
    expect(stats).toMatchObject({ hits: 2, misses: 5, sets: 4 });
    // bad input is refused with a code, and nothing is called
    await expect(ps.cached({ id: 'rc1' } as never, input, m.fn('x'))).rejects.toMatchObject({ code: 'CLIENT_INVALID_ARGUMENT' });
    await expect(ps.cached(v1, { bad: () => 1 }, m.fn('x'))).rejects.toMatchObject({ code: 'CACHE_INVALID_REQUEST' });
    expect(m.calls()).toBe(4);
  });

  it('Redis: two app instances share answers with each other and with the node\'s responses cache', async () => {
    // the node with cache.redis.url: its `responses` cache is the apps' Redis cache
    const n = await startNode({ redisUrl: redis.url });
    nodes.push(n);
    await admin(n.url, 'POST', '/api/profiles', profile('rc2'));
    const a = client({ url: n.url, token: ADMIN, responseCache: { url: redis.url } });
    const b = client({ url: n.url, token: ADMIN, responseCache: { url: redis.url } });
    const m = counter();
    const view = await a.get('rc2');
    const input = { messages: [{ role: 'user', content: 'hi' }] };
    expect(await a.cached(view, input, m.fn('from a'))).toMatchObject({ answer: 'from a' });
    expect(await b.cached(await b.get('rc2'), input, m.fn('from b'))).toMatchObject({ answer: 'from a' });
    expect(m.calls()).toBe(1);

    const stats = await admin(n.url, 'GET', '/api/cache/stats');
    const responses = stats.body.caches.find((c: { name: string }) => c.name === 'responses');
    expect(responses).toMatchObject({ size: 1 });
    expect(String(responses.backend)).toContain('redis');
    expect((await admin(n.url, 'POST', '/api/cache/clear/responses')).body).toEqual({ cleared: ['responses'] });
    expect(await b.cached(view, input, m.fn('after clear'))).toMatchObject({ answer: 'after clear' });
    expect(m.calls()).toBe(2);

    // deleting the profile drops its answers from Redis (all versions)
    await admin(n.url, 'DELETE', '/api/profiles/rc2');
    await until(async () => (await admin(n.url, 'GET', '/api/cache/stats')).body.caches.find((c: { name: string }) => c.name === 'responses').size === 0, 'answers dropped');
  });

  it('Redis down: answers keep working from memory (the cache package\'s fallback), no error reaches the caller', async () => {
    const n = await startNode();
    nodes.push(n);
    await admin(n.url, 'POST', '/api/profiles', profile('rc3'));
    const down = await startRedisServer();
    await down.kill();
    const ps = client({ url: n.url, token: ADMIN, responseCache: { url: down.url } });
    const m = counter();
    const view = await ps.get('rc3');
    expect(await ps.cached(view, 'q', m.fn('memory'))).toMatchObject({ answer: 'memory' });
    expect(await ps.cached(view, 'q', m.fn('memory again'))).toMatchObject({ answer: 'memory' });
    expect(m.calls()).toBe(1);
    await down.stop();
  });
});
