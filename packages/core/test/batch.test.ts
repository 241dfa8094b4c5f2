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
    const views = await Promise.all(Array.from({ length: N }, (_, i) => h!.store.update('p', { systemMessage: `rev ${i}`, parameters: { seed: i } }, { actor: `u${i}`, origin: 'api:t' })));
    views.forEach((v, i) => {
      expect(v.systemMessage).toBe(`rev ${i}`);
      expect(v.updatedBy).toBe(`u${i}`);
    });
    expect(batches).toBeLessThan(N);
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: N }, (_, i) => i + 2));
    const hist = await h.store.history('p');
    expect(hist).toHaveLength(N + 1);
    expect(hist[0]).toMatchObject({ actor: `u${N - 1}`, version: views[N - 1]!.version });
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
    expect((await h.store.history('p')).length).toBe(3);
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
    expect((await h.store.history('p')).map((x) => x.summary)).toEqual(['update: meta.owner', 'update: name', expect.stringMatching(/^create: /)]);
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
    expect((await h.store.history('p')).map((v) => v.summary.split(':')[0])).toEqual(['delete', 'update', 'update', 'create']);
  });
});
