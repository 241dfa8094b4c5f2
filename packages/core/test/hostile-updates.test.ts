/**
 * Updates an attacker with an editor token (/yjs) or an allowed peer could send: they must be
 * refused with a coded error in time linear in their size, with nothing stored, and the store
 * must keep working. (No timing assertion: a quadratic path takes minutes on these inputs and
 * fails by the test's timeout; the linear one takes about a second.)
 */
import * as Y from 'yjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ctx, harness, sample, type Harness } from './helpers.js';

let h: Harness;
beforeEach(async () => {
  h = await harness();
});
afterEach(async () => {
  await h.close();
});

/** An update that nests `depth` Y.Maps, the outermost set as `key` of `parent` (a map of the client's copy of profile `id`). */
async function deepUpdate(id: string, depth: number, parent: (doc: Y.Doc) => Y.Map<unknown>, key: string): Promise<Uint8Array> {
  const client = new Y.Doc();
  Y.applyUpdate(client, await h.store.encodeStateAsUpdate(id));
  const sv = Y.encodeStateVector(client);
  client.transact(() => {
    let cur = parent(client);
    let k = key;
    for (let i = 0; i < depth; i++) {
      const next = new Y.Map<unknown>();
      cur.set(k, next);
      cur = next;
      k = 'a';
    }
  });
  const update = Y.encodeStateAsUpdate(client, sv);
  client.destroy();
  return update;
}

// ~1.8 MB of update; walking up the whole chain for each of its types (the old cost) is ~10^10 steps
const DEPTH = 150_000;

describe('hostile updates', () => {
  it('a /yjs client nesting 150,000 maps under the profile root: PROFILE_INVALID, nothing stored, the store keeps writing', async () => {
    const before = await h.store.create({ id: 'deep', ...sample() }, ctx);
    const head = (await h.store.entries('deep')).length;
    const update = await deepUpdate('deep', DEPTH, (d) => d.getMap('profile'), 'nested');
    await expect(h.store.applyRemoteUpdate('deep', update, { actor: 'mallory', origin: 'yjs:tok9' })).rejects.toMatchObject({ code: 'PROFILE_INVALID' });
    expect((await h.store.entries('deep')).length).toBe(head);
    expect((await h.store.get('deep')).version).toBe(before.version);
    const after = await h.store.update('deep', { name: 'still writable' }, ctx);
    expect(after.name).toBe('still writable');
  });

  it('a peer nesting 150,000 maps inside meta: PROFILE_INVALID, nothing stored', async () => {
    const before = await h.store.create({ id: 'deep-peer', ...sample() }, ctx);
    const update = await deepUpdate('deep-peer', DEPTH, (d) => d.getMap('profile').get('meta') as Y.Map<unknown>, 'x');
    await expect(h.store.applyRemoteUpdate('deep-peer', update, { actor: 'node-x', origin: 'peer:x' })).rejects.toMatchObject({ code: 'PROFILE_INVALID' });
    const view = await h.store.get('deep-peer');
    expect(view.version).toBe(before.version);
    expect(view.meta).toEqual(before.meta);
  });
});
