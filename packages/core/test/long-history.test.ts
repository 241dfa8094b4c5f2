import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { ctx, harness, sample, type Harness } from './helpers.js';

let h: Harness;
beforeAll(async () => {
  h = await harness();
});
afterAll(async () => {
  await h.close();
});

describe('long histories', () => {
  it('scattered deletions make KB-sized versions, which still append, list and resolve', async () => {
    const long = Array.from({ length: 2000 }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');
    const v1 = await h.store.create({ id: 'scattered', ...sample({ systemMessage: long }) }, ctx);
    const client = new Y.Doc();
    Y.applyUpdate(client, await h.store.encodeStateAsUpdate('scattered'));
    const sv = Y.encodeStateVector(client);
    const text = client.getMap('profile').get('systemMessage') as Y.Text;
    client.transact(() => {
      for (let i = 1800; i > 0; i -= 3) text.delete(i, 1); // 600 separate holes
    });
    const r = await h.store.applyRemoteUpdate('scattered', Y.encodeStateAsUpdate(client, sv), { actor: 'carol', origin: 'yjs:t' });
    expect(r.view!.version.length).toBeGreaterThan(1400);
    // too large to store inline: the entry keeps empty version bytes, history recomputes the ref
    for await (const e of h.store.log.read('scattered', { fromSeq: 2 })) expect(e.version?.byteLength).toBe(0);
    expect((await h.store.history('scattered'))[0]!.version).toBe(r.view!.version);
    expect((await h.store.history('scattered'))[1]!.version).toBe(v1.version);
    const v3 = await h.store.update('scattered', { name: 'after' }, ctx);
    expect((await h.store.history('scattered', { limit: 2 })).map((v) => v.version)).toEqual([v3.version, r.view!.version]);
    await h.reopen();
    expect(await h.store.getAt('scattered', r.view!.version)).toEqual(r.view);
    expect((await h.store.getAt('scattered', v1.version)).systemMessage).toBe(long);
  });

  it('a profile overwritten 600 times keeps working: versions grow with the delete set, history/getAt stay exact', async () => {
    const first = await h.store.create({ id: 'busy', ...sample() }, ctx);
    let last = first;
    for (let i = 0; i < 600; i++) {
      last = await h.store.update('busy', { parameters: { temperature: (i % 200) / 100 }, systemMessage: `${sample().systemMessage} ${i % 7}` }, ctx);
    }
    expect(last.version.length).toBeGreaterThan(first.version.length);
    const hist = await h.store.history('busy', { limit: 3 });
    expect(hist[0]!.version).toBe(last.version);
    expect(await h.store.getAt('busy', first.version)).toEqual(first);
    h.store.clearCache();
    expect(await h.store.getAt('busy', hist[2]!.version)).toMatchObject({ version: hist[2]!.version });
  });
});
