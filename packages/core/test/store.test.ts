import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ChangeEvent } from '../src/types.js';
import { bob, codeOf, ctx, harness, sample, totalEntries, type Harness } from './helpers.js';

let h: Harness;
beforeEach(async () => {
  h = await harness();
});
afterEach(async () => {
  await h.close();
});

describe('ProfileStore basics', () => {
  it('create -> get returns the frozen view synchronously on a hit', async () => {
    const v = await h.store.create({ id: 'bot-1', ...sample() }, ctx);
    expect(v).toMatchObject({ id: 'bot-1', modelId: 'gpt-4o', name: 'Support bot', deleted: false, updatedBy: 'alice', labels: {} });
    expect(v.version).toMatch(/^v2\.[A-Za-z0-9_-]{8}\.[A-Za-z0-9_-]{22}$/);
    expect(v).toMatchObject({ schema: 2, conflicts: 0, messages: [] });
    const got = h.store.get('bot-1');
    expect(got).not.toBeInstanceOf(Promise);
    expect(got).toBe(v);
    expect(Object.isFrozen(v)).toBe(true);
    expect(Object.isFrozen(v.parameters)).toBe(true);
    expect(Object.isFrozen(v.meta['tags'])).toBe(true);
  });

  it('generates a valid id when absent; existing id -> PROFILE_EXISTS', async () => {
    const v = await h.store.create(sample({ name: 'Héllo Wörld!' }), ctx);
    expect(v.id).toBe('hello-world');
    expect(await codeOf(h.store.create({ ...sample(), id: v.id }, ctx))).toBe('PROFILE_EXISTS');
    // the slug, then -2, -3 only when taken (a tombstone still takes its id)
    expect((await h.store.create(sample({ name: 'hello  WORLD' }), ctx)).id).toBe('hello-world-2');
    await h.store.delete('hello-world-2', ctx);
    const ids = await Promise.all([1, 2].map(() => h.store.create(sample({ name: 'Hello world' }), ctx)));
    expect(ids.map((x) => x.id).sort()).toEqual(['hello-world-3', 'hello-world-4']);
  });

  it('cold get (after clearing the hot cache) returns an equal view via a promise', async () => {
    const v = await h.store.create({ id: 'bot-1', ...sample() }, ctx);
    expect(h.store.clearCache('profiles')).toEqual(['profiles']);
    const p = h.store.get('bot-1');
    expect(p).toBeInstanceOf(Promise);
    expect(await p).toEqual(v);
    expect(h.store.get('bot-1')).toEqual(v); // hit again
    const stats = h.store.cacheStats().find((s) => s.name === 'profiles')!;
    expect(stats.misses).toBeGreaterThanOrEqual(1);
    expect(stats.hits).toBeGreaterThanOrEqual(1);
    expect(stats['cold_loads']).toBeGreaterThanOrEqual(1);
  });

  it('update applies a merge patch and replaces the hot view (write-through)', async () => {
    await h.store.create({ id: 'bot-1', ...sample() }, ctx);
    const v = await h.store.update('bot-1', { parameters: { temperature: 0.2, stop: null }, templates: { bye: null, new: 'N' }, name: 'Renamed' }, bob);
    expect(v.parameters).toEqual({ max_tokens: 512, temperature: 0.2, top_p: 0.9 });
    expect(v.templates).toEqual({ greet: 'Hello {{name}}, how can I help?', new: 'N' });
    expect(v.name).toBe('Renamed');
    expect(v.updatedBy).toBe('bob');
    expect(h.store.get('bot-1')).toBe(v);
  });

  it('a no-op patch appends nothing and returns the current view', async () => {
    const v = await h.store.create({ id: 'bot-1', ...sample() }, ctx);
    const before = totalEntries(h.store.log);
    const same = await h.store.update('bot-1', { name: 'Support bot', parameters: { temperature: 0.7 } }, ctx);
    expect(same).toBe(v);
    expect(totalEntries(h.store.log)).toBe(before);
  });

  it('delete tombstones: get -> PROFILE_DELETED, writes -> PROFILE_DELETED, history stays, list hides it', async () => {
    await h.store.create({ id: 'bot-1', ...sample() }, ctx);
    await h.store.delete('bot-1', ctx);
    expect(await codeOf(() => h.store.get('bot-1'))).toBe('PROFILE_DELETED');
    expect(await codeOf(h.store.update('bot-1', { name: 'x' }, ctx))).toBe('PROFILE_DELETED');
    expect(await codeOf(h.store.delete('bot-1', ctx))).toBe('PROFILE_DELETED');
    expect((await h.store.history('bot-1')).map((v) => v.summary.split(':')[0])).toEqual(['delete', 'create']);
    expect(await h.store.list()).toEqual([]);
    expect((await h.store.list({ includeDeleted: true })).map((s) => s.id)).toEqual(['bot-1']);
    await h.reopen();
    expect(await codeOf(() => h.store.get('bot-1'))).toBe('PROFILE_DELETED');
  });

  it("a deleted profile's labels (and latest) answer PROFILE_DELETED; @N stays readable; a revert serves them again", async () => {
    const v = await h.store.create({ id: 'bot-2', ...sample() }, ctx);
    await h.store.setLabel('bot-2', 'production', v.version, ctx);
    await h.store.delete('bot-2', ctx);
    expect(await codeOf(h.store.getByLabel('bot-2', 'production'))).toBe('PROFILE_DELETED');
    expect(await codeOf(h.store.getByLabel('bot-2', 'latest'))).toBe('PROFILE_DELETED');
    expect(await codeOf(h.store.getAt('bot-2', 'production'))).toBe('PROFILE_DELETED');
    expect(await codeOf(h.store.getAt('bot-2', 'latest'))).toBe('PROFILE_DELETED');
    expect(await codeOf(h.store.render('bot-2', {}, { label: 'production' }))).toBe('PROFILE_DELETED');
    expect((await h.store.getAt('bot-2', '@1')).deleted).toBe(false);
    expect((await h.store.getAt('bot-2', v.version)).version).toBe(v.version);
    await h.store.revert('bot-2', '@1', ctx);
    expect((await h.store.getByLabel('bot-2', 'production')).version).toBe(v.version);
  });

  it('unknown and invalid ids', async () => {
    expect(await codeOf(() => h.store.get('nope'))).toBe('PROFILE_NOT_FOUND');
    expect(await codeOf(() => h.store.get('bad id'))).toBe('PROFILE_INVALID_ID');
    expect(await codeOf(h.store.update('nope', { name: 'x' }, ctx))).toBe('PROFILE_NOT_FOUND');
    expect(await codeOf(h.store.history('nope'))).toBe('PROFILE_NOT_FOUND');
  });

  it('list filters by modelId, label and tag', async () => {
    const a = await h.store.create({ id: 'a', ...sample({ modelId: 'm1', meta: { tags: ['x'] } }) }, ctx);
    await h.store.create({ id: 'b', ...sample({ modelId: 'm2', meta: { tags: ['y'] } }) }, ctx);
    await h.store.setLabel('a', 'production', a.version, ctx);
    expect((await h.store.list()).map((s) => s.id)).toEqual(['a', 'b']);
    expect((await h.store.list({ modelId: 'm2' })).map((s) => s.id)).toEqual(['b']);
    expect((await h.store.list({ label: 'production' })).map((s) => s.id)).toEqual(['a']);
    expect((await h.store.list({ tag: 'y' })).map((s) => s.id)).toEqual(['b']);
    expect(h.store.versionHashes().get('a')).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('subscribers get the exact durable update, once per change', async () => {
    const events: ChangeEvent[] = [];
    const off = h.store.subscribe((e) => events.push(e));
    await h.store.create({ id: 'bot-1', ...sample() }, ctx);
    await h.store.update('bot-1', { description: 'changed' }, bob);
    off();
    await h.store.update('bot-1', { description: 'again' }, bob);
    expect(events.map((e) => [e.id, e.created, e.actor, e.origin, e.seq])).toEqual([
      ['bot-1', true, 'alice', 'local', 1],
      ['bot-1', false, 'bob', 'api:tok1', 2],
    ]);
    expect(events[1]!.update).toBeInstanceOf(Uint8Array);
    expect(events[1]!.view.description).toBe('changed');
  });

  it('reopen gives identical views; the index is rebuilt from persisted views', async () => {
    const v1 = await h.store.create({ id: 'a', ...sample() }, ctx);
    const v2 = await h.store.update('a', { systemMessage: 'Be terse.' }, bob);
    await h.store.create({ id: 'b', ...sample() }, ctx);
    expect(await h.store.flushVersions()).toBe(1); // bob's run on 'a'
    const list = await h.store.list();
    const a = await h.store.get('a');
    await h.reopen();
    expect(await h.store.get('a')).toEqual(a);
    expect(a.version).toBe(v2.version); // closing a version does not change the content ref
    expect(v1.version).not.toBe(v2.version);
    expect(await h.store.list()).toEqual(list);
  });

  it('parallel writes to many profiles and to one profile are all applied in order', async () => {
    await Promise.all(Array.from({ length: 20 }, (_, i) => h.store.create({ id: `p${i}`, ...sample() }, ctx)));
    await Promise.all(Array.from({ length: 30 }, (_, i) => h.store.update('p0', { systemMessage: `v${i}` }, ctx)));
    expect((await h.store.get('p0')).systemMessage).toBe('v29');
    expect((await h.store.entries('p0')).length).toBe(31);
    // one actor's run of 30 patches is one (open) version after the create
    expect((await h.store.history('p0')).map((v) => [v.ref, v.reason, v.open ?? false])).toEqual([
      ['@2', 'open', true],
      ['@1', 'create', false],
    ]);
  });

  it('stateVector / encodeStateAsUpdate serve sync steps; unknown ids give an empty vector', async () => {
    await h.store.create({ id: 'a', ...sample() }, ctx);
    expect(Array.from(await h.store.stateVector('unknown'))).toEqual([0]);
    const sv = await h.store.stateVector('a');
    expect(sv.byteLength).toBeGreaterThan(1);
    const full = await h.store.encodeStateAsUpdate('a');
    h.store.clearCache();
    expect(Buffer.compare(await h.store.encodeStateAsUpdate('a'), full) === 0 || (await h.store.encodeStateAsUpdate('a')).byteLength > 0).toBe(true);
    expect(await codeOf(h.store.encodeStateAsUpdate('a', new Uint8Array([200])))).toBe('PROFILE_BAD_UPDATE');
    expect(await codeOf(h.store.encodeStateAsUpdate('unknown'))).toBe('PROFILE_NOT_FOUND');
  });

  it('after close every call fails with STORE_CLOSED', async () => {
    await h.store.create({ id: 'a', ...sample() }, ctx);
    await h.store.close();
    expect(await codeOf(h.store.update('a', { name: 'x' }, ctx))).toBe('STORE_CLOSED');
    h.store = await h.reopen();
  });
});
