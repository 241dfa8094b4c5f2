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
  it('scattered deletions make KB-sized snapshots, yet refs stay 34 characters; they append, list and resolve', async () => {
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
    expect(r.view!.version).toHaveLength(34);
    // the snapshot is too large to store inline: the entry keeps empty version bytes, entries() recomputes the ref
    for await (const e of h.store.log.read('scattered', { fromSeq: 2 })) expect(e.version?.byteLength).toBe(0);
    expect((await h.store.entries('scattered'))[0]!.version).toBe(r.view!.version);
    expect((await h.store.entries('scattered'))[1]!.version).toBe(v1.version);
    expect((await h.store.history('scattered'))[0]).toMatchObject({ version: r.view!.version, actor: 'carol', open: true });
    const v3 = await h.store.update('scattered', { name: 'after' }, ctx);
    // alice's patch closed carol's live run (another actor): carol's version is @2, alice's run is open
    expect((await h.store.history('scattered', { limit: 2 })).map((v) => [v.version, v.reason])).toEqual([
      [v3.version, 'open'],
      [r.view!.version, 'actor'],
    ]);
    await h.reopen();
    const at = await h.store.getAt('scattered', r.view!.version);
    expect({ ...at, updatedAt: '', labels: {} }).toEqual({ ...r.view!, updatedAt: '', labels: {} });
    expect((await h.store.getAt('scattered', '@2')).version).toBe(r.view!.version);
    expect((await h.store.getAt('scattered', v1.version)).systemMessage).toBe(long);
  });

  it('a profile overwritten 600 times keeps working: refs stay 34 characters, history/getAt stay exact', async () => {
    const first = await h.store.create({ id: 'busy', ...sample() }, ctx);
    let last = first;
    for (let i = 0; i < 600; i++) {
      last = await h.store.update('busy', { parameters: { temperature: (i % 200) / 100 }, systemMessage: `${sample().systemMessage} ${i % 7}` }, ctx);
    }
    expect(last.version).toHaveLength(first.version.length);
    expect(last.version).toHaveLength(34);
    const hist = await h.store.entries('busy', { limit: 3 });
    expect(hist[0]!.version).toBe(last.version);
    const at = await h.store.getAt('busy', first.version);
    expect({ ...at, updatedAt: '' }).toEqual({ ...first, updatedAt: '' });
    h.store.clearCache();
    expect(await h.store.getAt('busy', hist[2]!.version)).toMatchObject({ version: hist[2]!.version });
    // one actor, one run: two versions whatever the number of patches
    expect((await h.store.history('busy')).map((v) => v.ref)).toEqual(['@2', '@1']);
  });
});
