import { afterEach, describe, expect, it } from 'vitest';
import type { ChangeEvent, ProfileView } from '../src/types.js';
import { ctx, harness, sample, type Harness } from './helpers.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('coalesced patches to one profile', () => {
  it('concurrent patches share durable batches but keep one entry, one view and one event each, in order', async () => {
    h = await harness();
    await h.store.create({ id: 'p', ...sample() }, ctx);
    let batches = 0;
    h.store.log.on('batch-committed', () => batches++);
    const events: ChangeEvent[] = [];
    h.store.subscribe((e) => events.push(e));
    const N = 50;
    const views = await Promise.all(Array.from({ length: N }, (_, i) => h!.store.update('p', { systemMessage: `rev ${i}`, parameters: { seed: i } }, { actor: 'u', origin: `api:t${i}` })));
    views.forEach((v, i) => {
      expect(v.systemMessage).toBe(`rev ${i}`);
      expect(v.updatedBy).toBe('u');
    });
    expect(batches).toBeLessThan(N);
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: N }, (_, i) => i + 2));
    const hist = await h.store.entries('p');
    expect(hist).toHaveLength(N + 1);
    expect(hist[0]).toMatchObject({ actor: 'u', origin: `api:t${N - 1}`, version: views[N - 1]!.version });
    expect((await h.store.history('p')).map((v) => [v.ref, v.open ?? false])).toEqual([
      ['@2', true],
      ['@1', false],
    ]);
    for (const [i, v] of views.entries()) expect(await h.store.getAt('p', v.version)).toEqual(views[i]);
    expect(h.store.get('p')).toBe(views[N - 1]);
    h.store.clearCache();
    expect(await h.store.get('p')).toEqual(views[N - 1]);
  });

  it('an invalid patch in a batch is rejected alone; no-ops resolve with the state they saw', async () => {
    h = await harness();
    await h.store.create({ id: 'p', ...sample() }, ctx);
    const results = await Promise.allSettled([
      h.store.update('p', { name: 'one' }, ctx),
      h.store.update('p', { parameters: { temperature: 9 } }, ctx),
      h.store.update('p', { name: 'one' }, ctx), // no-op after the first
      h.store.update('p', { description: 'two' }, ctx),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect(((results[1] as PromiseRejectedResult).reason as { code: string }).code).toBe('PROFILE_INVALID');
    const [a, , c, d] = results.map((r) => (r.status === 'fulfilled' ? r.value : undefined)) as ProfileView[];
    expect(c).toEqual(a);
    expect(d).toMatchObject({ name: 'one', description: 'two' });
    expect((await h.store.entries('p')).length).toBe(3);
  });

  it('another actor\'s patch in the same batch closes the run before it (one version per actor run)', async () => {
    h = await harness();
    await h.store.create({ id: 'p', ...sample() }, ctx);
    const who = ['alice', 'alice', 'bob', 'bob', 'alice'];
    const views = await Promise.all(who.map((actor, i) => h!.store.update('p', { description: `d${i}` }, { actor, origin: 'api:t' })));
    expect(views.map((v) => v.updatedBy)).toEqual(who);
    const hist = await h.store.history('p');
    expect(hist.map((v) => [v.ref, v.actor, v.reason, v.open ?? false])).toEqual([
      ['@4', 'alice', 'open', true],
      ['@3', 'bob', 'actor', false],
      ['@2', 'alice', 'actor', false],
      ['@1', 'alice', 'create', false],
    ]);
    expect((await h.store.getAt('p', '@2')).description).toBe('d1');
    expect((await h.store.getAt('p', '@3')).description).toBe('d3');
    expect(h.store.get('p')).toBe(views[4]);
    const audit = await h.store.audit({ profile: 'p', action: 'profile.edit' });
    expect(audit.map((r) => [r.actor, r.fields])).toEqual([
      ['bob', ['description']],
      ['alice', ['description']],
    ]);
  });

  it('a patch that makes the profile too large is rejected; earlier ones are kept, later ones apply after it', async () => {
    h = await harness({ maxProfileBytes: 4000 });
    await h.store.create({ id: 'p', ...sample() }, ctx);
    const results = await Promise.allSettled([
      h.store.update('p', { name: 'before' }, ctx),
      h.store.update('p', { description: 'x'.repeat(5000) }, ctx),
      h.store.update('p', { meta: { owner: 'after' } }, ctx),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(((results[1] as PromiseRejectedResult).reason as { code: string }).code).toBe('PROFILE_TOO_LARGE');
    const v = await h.store.get('p');
    expect(v).toMatchObject({ name: 'before', description: sample().description, meta: { owner: 'after' } });
    expect((await h.store.entries('p')).map((x) => x.summary)).toEqual(['update: meta.owner', 'update: name', expect.stringMatching(/^create: /)]);
    h.store.clearCache();
    expect(await h.store.get('p')).toEqual(v);
  });

  it('call order holds across other operations: a patch after a delete fails', async () => {
    h = await harness();
    await h.store.create({ id: 'p', ...sample() }, ctx);
    const busy = h.store.update('p', { name: 'zero' }, ctx); // runs now: the next patch waits in an open batch
    const first = h.store.update('p', { name: 'first' }, ctx);
    const del = h.store.delete('p', ctx);
    const after = h.store.update('p', { name: 'after' }, ctx);
    await busy;
    expect((await first).name).toBe('first');
    await del;
    await expect(after).rejects.toMatchObject({ code: 'PROFILE_DELETED' });
    expect((await h.store.entries('p')).map((v) => v.summary.split(':')[0])).toEqual(['delete', 'version', 'update', 'update', 'create']);
    expect((await h.store.history('p')).map((v) => v.reason)).toEqual(['delete', 'idle', 'create']);
  });
});
