/**
 * @profilesync/client against real nodes: cached reads, ttl and stale-while-revalidate (with an
 * injected clock), label and version reads, typed errors with the node's codes, live updates
 * from the change feed (edits, label moves, deletions), a node restart during a live
 * subscription (no lost and no duplicate change), a stopped node (the client keeps serving:
 * memory, persisted file, fallback), local render with the shared render module.
 */
import { cpSync, mkdtempSync, readdirSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ClientError, createClient, type ChangeData, type ProfileSyncClient } from '@profilesync/client';
import { fileStore } from '@profilesync/client/file';
import { render as modelRender } from '@profilesync/model';
import { admin, profile, startNode, until, ADMIN, type TestNode } from './node.js';

const nodes: TestNode[] = [];
const clients: ProfileSyncClient[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const n of nodes.splice(0)) await n.destroy();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function node(opts?: Parameters<typeof startNode>[0]): Promise<TestNode> {
  const n = await startNode(opts);
  nodes.push(n);
  return n;
}

function client(opts: Parameters<typeof createClient>[0]): ProfileSyncClient {
  const c = createClient(opts);
  clients.push(c);
  return c;
}

async function codeOf(p: Promise<unknown>): Promise<ClientError> {
  try {
    await p;
  } catch (err) {
    return err as ClientError;
  }
  throw new Error('expected a rejection');
}

describe('reads', () => {
  it('caches: a second get is a hit that returns the same object without a request', async () => {
    const n = await node();
    await admin(n.url, 'POST', '/api/profiles', profile('c1'));
    const ps = client({ url: n.url, token: ADMIN });
    const a = await ps.get('c1');
    expect(a).toMatchObject({ id: 'c1', modelId: 'gpt-4o-mini', deleted: false });
    const b = await ps.get('c1');
    expect(b).toBe(a);
    expect(ps.stats()).toMatchObject({ fetches: 1, misses: 1, hits: 1 });
  });

  it('reads by label and by version; a portable version is cached for good', async () => {
    const n = await node();
    const v1 = (await admin(n.url, 'POST', '/api/profiles', profile('c2'))).body.version;
    await admin(n.url, 'PUT', '/api/profiles/c2/labels/production', { version: v1 });
    await admin(n.url, 'PATCH', '/api/profiles/c2', { systemMessage: 'Version two.' });
    let now = 1_000_000;
    const ps = client({ url: n.url, token: ADMIN, ttlMs: 1000, clock: () => now });
    expect((await ps.get('c2')).systemMessage).toBe('Version two.');
    const prod = await ps.get('c2', { label: 'production' });
    expect(prod.version).toBe(v1);
    expect(prod.systemMessage).toBe('You are a support agent for {{product}}.');
    const byVersion = await ps.get('c2', { version: v1 });
    expect(byVersion.systemMessage).toBe(prod.systemMessage);
    const fetches = ps.stats().fetches;
    now += 60_000; // far past the ttl: the immutable version is still fresh
    expect(await ps.get('c2', { version: v1 })).toBe(byVersion);
    expect(ps.stats().fetches).toBe(fetches);
  });

  it('throws the node\'s codes for its answers, CLIENT_INVALID_ARGUMENT for bad input', async () => {
    const n = await node();
    await admin(n.url, 'POST', '/api/profiles', profile('c3'));
    const ps = client({ url: n.url, token: ADMIN });
    const missing = await codeOf(ps.get('nope'));
    expect(missing).toBeInstanceOf(ClientError);
    expect(missing).toMatchObject({ code: 'PROFILE_NOT_FOUND', status: 404 });
    expect(missing.requestId).toMatch(/.+/);
    expect(await codeOf(ps.get('c3', { label: 'nolabel' }))).toMatchObject({ code: 'LABEL_NOT_FOUND', status: 404 });
    const viewer = await admin(n.url, 'POST', '/api/tokens', { name: 'other', role: 'viewer', profiles: ['x-*'] });
    const restricted = client({ url: n.url, token: viewer.body.token });
    expect(await codeOf(restricted.get('c3'))).toMatchObject({ code: 'AUTH_FORBIDDEN', status: 403 });
    for (const [p, field] of [
      [ps.get('bad id'), 'id'],
      [ps.get('c3', { label: 'a', version: 'b' }), 'selector'],
      [ps.get('c3', { label: '../x' }), 'label'],
    ] as const) {
      expect(await codeOf(p)).toMatchObject({ code: 'CLIENT_INVALID_ARGUMENT', details: { field } });
    }
    expect(() => createClient({ url: 'ftp://x', token: ADMIN })).toThrow(expect.objectContaining({ code: 'CLIENT_INVALID_ARGUMENT', details: { field: 'url' } }));
    expect(() => createClient({ url: n.url, ttlMs: -1 })).toThrow(expect.objectContaining({ details: { field: 'ttlMs' } }));
  });

  it('serves a stale value at once and refreshes it in the background', async () => {
    const n = await node();
    await admin(n.url, 'POST', '/api/profiles', profile('c4'));
    let now = 1_000_000;
    const ps = client({ url: n.url, token: ADMIN, ttlMs: 60_000, clock: () => now });
    const first = await ps.get('c4');
    const edited = await admin(n.url, 'PATCH', '/api/profiles/c4', { name: 'Renamed' });
    expect(await ps.get('c4')).toBe(first); // within the ttl: no request
    now += 60_001;
    const updated = new Promise((resolve) => ps.on('updated', resolve));
    expect(await ps.get('c4')).toBe(first); // stale: served at once...
    await updated; // ...and replaced in the background
    const second = await ps.get('c4');
    expect(second.version).toBe(edited.body.version);
    expect(second.name).toBe('Renamed');
    // an unchanged profile revalidates with If-None-Match: 304, no new body
    now += 60_001;
    await ps.get('c4');
    await until(() => ps.stats().notModified === 1, '304 revalidation');
    expect(await ps.get('c4')).toBe(second);
  });
});

describe('live', () => {
  it('edits, label moves and deletions reach the cache without waiting for the ttl', async () => {
    const n = await node();
    const v1 = (await admin(n.url, 'POST', '/api/profiles', profile('l1'))).body.version;
    await admin(n.url, 'PUT', '/api/profiles/l1/labels/production', { version: v1 });
    const ps = client({ url: n.url, token: ADMIN, live: true, ttlMs: 3_600_000 });
    await ps.ready();
    expect(ps.live).toBe(true);
    const changes: ChangeData[] = [];
    ps.on('change', (c) => changes.push(c));
    await ps.get('l1');
    await ps.get('l1', { label: 'production' });

    const v2 = (await admin(n.url, 'PATCH', '/api/profiles/l1', { systemMessage: 'Live edit.' })).body.version;
    await until(async () => (await ps.get('l1')).version === v2, 'edit in the cache');
    expect((await ps.get('l1')).systemMessage).toBe('Live edit.');
    expect((await ps.get('l1', { label: 'production' })).version).toBe(v1);

    await admin(n.url, 'PUT', '/api/profiles/l1/labels/production', { version: v2 });
    await until(async () => (await ps.get('l1', { label: 'production' })).version === v2, 'label move in the cache');
    expect((await ps.get('l1', { label: 'production' })).systemMessage).toBe('Live edit.');

    const pinned = await ps.get('l1', { version: v1 });
    expect((await ps.render('l1', {}, { label: 'production' })).version).toBe(v2);
    await admin(n.url, 'DELETE', '/api/profiles/l1');
    await until(() => changes.some((c) => c.deleted), 'delete event');
    expect(await codeOf(ps.get('l1'))).toMatchObject({ code: 'PROFILE_DELETED', status: 410 });
    // a label is a serving pointer: the cached labelled value is dropped and the node answers 410
    expect(await codeOf(ps.get('l1', { label: 'production' }))).toMatchObject({ code: 'PROFILE_DELETED', status: 410 });
    expect(await codeOf(ps.get('l1', { version: 'production' }))).toMatchObject({ code: 'PROFILE_DELETED', status: 410 });
    expect(await codeOf(ps.render('l1', {}, { label: 'production' }))).toMatchObject({ code: 'PROFILE_DELETED', status: 410 });
    // history stays: a pinned version is still served
    expect(await ps.get('l1', { version: v1 })).toBe(pinned);
    expect(changes.map((c) => c.id)).toEqual(['l1', 'l1', 'l1']);
  });

  it('a node restart during a live subscription: the client catches up with no lost and no duplicate change', async () => {
    const n = await node();
    for (const id of ['r1', 'r2', 'r3']) await admin(n.url, 'POST', '/api/profiles', profile(id));
    const ps = client({ url: n.url, token: ADMIN, live: true, ttlMs: 3_600_000, reconnect: { baseMs: 50, maxMs: 200 } });
    await ps.ready();
    for (const id of ['r1', 'r2', 'r3']) await ps.get(id);
    const changes: ChangeData[] = [];
    ps.on('change', (c) => changes.push(c));
    const errors: ClientError[] = [];
    ps.on('error', (e) => errors.push(e));

    await admin(n.url, 'PATCH', '/api/profiles/r1', { name: 'before' });
    await until(() => changes.length === 1, 'first change');
    await until(async () => (await ps.get('r1')).name === 'before', 'first change in the cache');
    await n.stop();
    await until(() => !ps.live, 'feed down');
    // the cache keeps serving while the node is down
    expect((await ps.get('r1')).name).toBe('before');
    await n.offline(async (store) => {
      await store.update('r2', { name: 'while down' }, { actor: 'ops', origin: 'cli' });
      await store.update('r3', { name: 'while down' }, { actor: 'ops', origin: 'cli' });
      await store.update('r2', { name: 'while down, twice' }, { actor: 'ops', origin: 'cli' });
    });
    await n.start();
    await until(() => ps.live && changes.length === 3, 'catch-up after the restart');
    await admin(n.url, 'PATCH', '/api/profiles/r1', { name: 'after' });
    await until(() => changes.length === 4, 'live change after the restart');

    expect(changes.map((c) => c.id)).toEqual(['r1', 'r3', 'r2', 'r1']);
    const final = await Promise.all(['r1', 'r2', 'r3'].map(async (id) => (await admin(n.url, 'GET', `/api/profiles/${id}`)).body));
    await until(async () => (await Promise.all(['r1', 'r2', 'r3'].map((id) => ps.get(id)))).every((v, i) => v.version === final[i].version), 'cache equals the node');
    expect((await ps.get('r2')).name).toBe('while down, twice');
    expect(errors.every((e) => e.code === 'CLIENT_UNAVAILABLE')).toBe(true);
    expect(ps.stats().live.changes).toBe(4);
  });
});

describe('live: ready()', () => {
  it('rejects with the node\'s code when the node refuses the stream (a bad token), instead of waiting forever', async () => {
    const n = await node();
    const ps = client({ url: n.url, token: 'ps_not_a_token_of_this_node', live: true, reconnect: { baseMs: 20, maxMs: 50 } });
    const live: boolean[] = [];
    ps.on('live', (e) => live.push(e.connected));
    const errors: ClientError[] = [];
    ps.on('error', (e) => errors.push(e));
    expect(await codeOf(ps.ready())).toMatchObject({ code: 'AUTH_UNAUTHORIZED', status: 401 });
    // a ready() called later, while the feed keeps being refused, says so too
    expect(await codeOf(ps.ready())).toMatchObject({ code: 'AUTH_UNAUTHORIZED' });
    await until(() => errors.length >= 3, 'reconnect attempts');
    expect(errors.every((e) => e.code === 'AUTH_UNAUTHORIZED')).toBe(true);
    // it never connected: no `live` event, only errors
    expect(live).toEqual([]);
    expect(ps.live).toBe(false);
  });

  it('waits while the node is unreachable (one `live` event per transition) and rejects with CLIENT_CLOSED on close()', async () => {
    const n = await node();
    await admin(n.url, 'POST', '/api/profiles', profile('w1'));
    const ps = client({ url: n.url, token: ADMIN, live: true, reconnect: { baseMs: 20, maxMs: 50 } });
    const live: boolean[] = [];
    ps.on('live', (e) => live.push(e.connected));
    const errors: ClientError[] = [];
    ps.on('error', (e) => errors.push(e));
    await ps.ready();
    await n.stop();
    await until(() => errors.length >= 3, 'failed reconnects');
    expect(errors.every((e) => e.code === 'CLIENT_UNAVAILABLE')).toBe(true);
    // the reason in a word, as for a read (not undici's bare "fetch failed")
    expect(errors.at(-1)!.message).toBe('change feed: ECONNREFUSED');
    // connected once, lost once: failed reconnects of a feed that is already down are errors, not `live` events
    expect(live).toEqual([true, false]);
    let settled: string | undefined;
    const waiting = ps.ready().then(
      () => (settled = 'resolved'),
      (err: ClientError) => (settled = err.code),
    );
    await until(() => errors.length >= 6, 'more failed reconnects');
    expect(settled).toBeUndefined();
    await ps.close();
    await waiting;
    expect(settled).toBe('CLIENT_CLOSED');
    expect(await codeOf(ps.ready())).toMatchObject({ code: 'CLIENT_CLOSED' });
    expect(live).toEqual([true, false]);
  });
});

describe('a stopped node', () => {
  it('keeps serving what it has; reports the failure as an event; throws only with nothing to serve', async () => {
    const n = await node();
    await admin(n.url, 'POST', '/api/profiles', profile('s1'));
    let now = 1_000_000;
    const ps = client({
      url: n.url,
      token: ADMIN,
      ttlMs: 1000,
      clock: () => now,
      timeoutMs: 2000,
      fallback: { s2: { modelId: 'gpt-4o-mini', systemMessage: 'Fallback prompt for {{product}}.' } },
    });
    const cached = await ps.get('s1');
    await n.stop();
    const errors: ClientError[] = [];
    ps.on('error', (e) => errors.push(e));
    now += 10_000; // stale: a refresh is attempted and fails
    expect(await ps.get('s1')).toBe(cached);
    await until(() => errors.length === 1, 'refresh failure event');
    expect(errors[0]).toMatchObject({ code: 'CLIENT_UNAVAILABLE' });
    expect(await ps.get('s1')).toBe(cached);

    const fb = await ps.get('s2');
    expect(fb).toMatchObject({ id: 's2', modelId: 'gpt-4o-mini', version: 'fallback', messages: [] });
    expect((await ps.render('s2', { product: 'Acme' })).messages).toEqual([{ role: 'system', content: 'Fallback prompt for Acme.' }]);
    expect(ps.stats().served.fallback).toBe(1);

    const none = await codeOf(ps.get('never-seen'));
    expect(none).toMatchObject({ code: 'CLIENT_UNAVAILABLE' });
  });

  it('a persisted file serves the last known values to a new process while the node is down', async () => {
    const n = await node();
    const dir = mkdtempSync(join(tmpdir(), 'ps-persist-'));
    dirs.push(dir);
    const file = join(dir, 'cache', 'profiles.json');
    const v = (await admin(n.url, 'POST', '/api/profiles', profile('p1'))).body.version;
    const current = (await admin(n.url, 'PUT', '/api/profiles/p1/labels/production', { version: v })).body.version;
    const first = client({ url: n.url, token: ADMIN, persist: fileStore(file) });
    await first.get('p1');
    await first.get('p1', { label: 'production' });
    await first.close();
    await n.stop();

    const second = client({ url: n.url, token: ADMIN, persist: fileStore(file), timeoutMs: 2000 });
    const errors: ClientError[] = [];
    second.on('error', (e) => errors.push(e));
    expect((await second.get('p1')).version).toBe(current);
    expect((await second.get('p1', { label: 'production' })).version).toBe(v);
    expect(second.stats().served.persisted).toBe(2);
    expect(errors.map((e) => e.code)).toEqual(['CLIENT_UNAVAILABLE', 'CLIENT_UNAVAILABLE']);
    // back up: the next read after retryMs goes to the node again
    await n.start();
    const edited = await admin(n.url, 'PATCH', '/api/profiles/p1', { name: 'back' });
    await until(async () => (await second.get('p1')).version === edited.body.version, 'refresh after the node is back');
  });
});

/** `id` created (moved into table files by a restart), then edited twice: its systemMessage is v3. */
async function threeVersions(n: TestNode, id: string): Promise<void> {
  await admin(n.url, 'POST', '/api/profiles', profile(id, { systemMessage: 'v1' }));
  await n.stop();
  await n.start(); // the create moves into table files
  for (const v of ['v2', 'v3']) expect((await admin(n.url, 'PATCH', `/api/profiles/${id}`, { systemMessage: v })).status).toBe(200);
}

/**
 * The node restarted on a crash image of itself whose write-ahead log lost its tail (as
 * test/damage.test.ts makes it): the acknowledged edits of `id` are gone, so the node answers
 * 503 PROFILE_DAMAGED for it, never the older state.
 */
async function crashImageWithoutWalTail(n: TestNode, id: string): Promise<void> {
  await n.server!.node.log.idle();
  const data = join(n.dir, 'data');
  const image = join(n.dir, 'image');
  cpSync(data, image, { recursive: true });
  await n.stop();
  rmSync(data, { recursive: true, force: true });
  cpSync(image, data, { recursive: true });
  rmSync(image, { recursive: true, force: true });
  const wal = readdirSync(join(data, 'log')).filter((f) => f.endsWith('.log'));
  expect(wal.length).toBe(1);
  truncateSync(join(data, 'log', wal[0]!), 0);
  await n.start();
  const r = await admin(n.url, 'GET', `/api/profiles/${id}`);
  expect([r.status, r.body.error?.code]).toEqual([503, 'PROFILE_DAMAGED']);
}

describe('a damaged profile (503 PROFILE_DAMAGED)', () => {
  it("is reported as PROFILE_DAMAGED, not as an unreachable node; 'serve-last' (default) serves the last value, 'fail' throws", async () => {
    const n = await node();
    await threeVersions(n, 'd1');
    let now = 1_000_000;
    const serve = client({ url: n.url, token: ADMIN, ttlMs: 1000, retryMs: 1, clock: () => now, timeoutMs: 5000 });
    const fail = client({ url: n.url, token: ADMIN, ttlMs: 1000, retryMs: 1, clock: () => now, timeoutMs: 5000, onDamaged: 'fail' });
    const last = await serve.get('d1');
    expect(last.systemMessage).toBe('v3');
    expect((await fail.get('d1')).systemMessage).toBe('v3');
    await crashImageWithoutWalTail(n, 'd1');

    const seen: ClientError[] = [];
    serve.on('error', (e) => seen.push(e));
    now += 10_000; // stale: the refresh meets the damage
    expect(await serve.get('d1')).toBe(last);
    await until(() => seen.length === 1, 'the damage reported');
    expect(seen[0]).toMatchObject({ code: 'PROFILE_DAMAGED', status: 503 });
    expect(await serve.get('d1')).toBe(last); // the last value this client saw, never the node's older state
    expect(serve.stats().served.damaged).toBe(1);

    const failed: ClientError[] = [];
    fail.on('error', (e) => failed.push(e));
    await fail.get('d1'); // a stale read is answered at once while its refresh goes to the node
    await until(() => failed.length === 1, 'the damage reported');
    expect(await codeOf(fail.get('d1'))).toMatchObject({ code: 'PROFILE_DAMAGED', status: 503 });
    expect(fail.stats().served.damaged).toBe(0);
    // nothing seen yet: both throw it (nothing to serve), and a bad option is refused
    const fresh = client({ url: n.url, token: ADMIN, timeoutMs: 5000 });
    expect(await codeOf(fresh.get('d1'))).toMatchObject({ code: 'PROFILE_DAMAGED', status: 503 });
    expect(() => createClient({ url: n.url, token: ADMIN, onDamaged: 'ignore' as never })).toThrow(expect.objectContaining({ code: 'CLIENT_INVALID_ARGUMENT' }));
  });

  it("a new process with a persisted file serves the last known value ('serve-last'); with 'fail' it throws", async () => {
    const n = await node();
    await threeVersions(n, 'd1');
    const dir = mkdtempSync(join(tmpdir(), 'ps-persist-'));
    dirs.push(dir);
    const file = join(dir, 'profiles.json');
    const first = client({ url: n.url, token: ADMIN, persist: fileStore(file) });
    expect((await first.get('d1')).systemMessage).toBe('v3');
    await first.close();
    await crashImageWithoutWalTail(n, 'd1');

    const second = client({ url: n.url, token: ADMIN, persist: fileStore(file), timeoutMs: 5000 });
    const errors: ClientError[] = [];
    second.on('error', (e) => errors.push(e));
    expect((await second.get('d1')).systemMessage).toBe('v3');
    expect(errors.map((e) => e.code)).toEqual(['PROFILE_DAMAGED']);
    expect(second.stats().served).toEqual({ persisted: 1, fallback: 0, damaged: 1 });
    const strict = client({ url: n.url, token: ADMIN, persist: fileStore(file), timeoutMs: 5000, onDamaged: 'fail' });
    expect(await codeOf(strict.get('d1'))).toMatchObject({ code: 'PROFILE_DAMAGED', status: 503 });
  });
});

describe('render', () => {
  it('renders locally with the shared render module; missing variables carry the node\'s code', async () => {
    const n = await node();
    await admin(n.url, 'POST', '/api/profiles', profile('rn'));
    const ps = client({ url: n.url, token: ADMIN });
    const r = await ps.render('rn', { product: 'Acme', name: 'Ada' }, { template: 'greet' });
    expect(r.messages).toEqual([
      { role: 'system', content: 'You are a support agent for Acme.' },
      { role: 'user', content: 'Hello Ada, how can I help?' },
    ]);
    expect(r.request).toMatchObject({ model: 'gpt-4o-mini', temperature: 0.2, max_tokens: 256, messages: r.messages });
    expect(r.warnings).toEqual([]);
    const missing = await codeOf(ps.render('rn', {}, { template: 'greet' }));
    expect(missing).toBeInstanceOf(ClientError);
    expect(missing).toMatchObject({ code: 'PROFILE_RENDER_MISSING_VARIABLES', details: { missing: ['product', 'name'] } });
    const unused = await ps.render('rn', { product: 'Acme', extra: 1 });
    expect(unused.warnings).toEqual([{ code: 'RENDER_UNUSED_VARIABLE', variable: 'extra' }]);
  });

  it('renders profile model v2 views (messages, parameters.extra) exactly as the model package does', async () => {
    // served as a fallback (the node is not reachable), so the view is exactly this v2 shape
    const v2 = {
      modelId: 'gpt-4o-mini',
      version: 'v2.AAAAAAAA.BBBBBBBBBBBBBBBBBBBBBB',
      systemMessage: 'You answer for {{product}}.',
      messages: [
        { id: 'm1', role: 'developer' as const, content: 'Cite \\{{sources}} literally.' },
        { id: 'm2', role: 'user' as const, content: '{{ question }}' },
      ],
      templates: {},
      parameters: { temperature: 0.1, tools: [{ type: 'function' as const, function: { name: 'lookup', parameters: { type: 'object' } } }], extra: { reasoning: { effort: 'low' } } },
    };
    const ps = client({ url: 'http://127.0.0.1:9', token: ADMIN, timeoutMs: 1000, fallback: { v2: v2 } });
    const vars = { product: 'Acme', question: 'Where is my order?' };
    const r = await ps.render('v2', vars);
    const expected = modelRender({ id: 'v2', ...v2 }, vars);
    expect(r).toEqual(expected);
    expect(r.messages).toEqual([
      { role: 'system', content: 'You answer for Acme.' },
      { role: 'developer', content: 'Cite {{sources}} literally.' },
      { role: 'user', content: 'Where is my order?' },
    ]);
    expect(r.request).toMatchObject({ model: 'gpt-4o-mini', temperature: 0.1, reasoning: { effort: 'low' }, tools: v2.parameters.tools });
  });
});
