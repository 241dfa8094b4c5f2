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

describe('hostile API writes', () => {
  // a text field holds at most 524,288 characters
  const N = 500_000;
  const unrelated = (n: number, seed: number): string => Array.from({ length: n }, (_, i) => String.fromCharCode(97 + ((i * 7919 + seed) % 26))).join('');

  it('replacing a 500,000-character system message with an unrelated one is stored exactly, without diffing character by character for an hour', async () => {
    await h.store.create({ id: 'big', ...sample(), systemMessage: '0'.repeat(N) }, ctx);
    expect((await h.store.update('big', { systemMessage: '4'.repeat(N) }, ctx)).systemMessage).toBe('4'.repeat(N));
    const next = unrelated(N, 3);
    expect((await h.store.update('big', { systemMessage: next }, ctx)).systemMessage).toBe(next);
  });

  it('thousands of unrelated lines on both sides: stored exactly', async () => {
    const lines = (n: number, seed: number) => Array.from({ length: n }, (_, i) => `${unrelated(40, seed + i)} ${i}\n`).join('');
    const before = lines(8_000, 1);
    const after = lines(8_000, 50_000);
    await h.store.create({ id: 'lines', ...sample(), systemMessage: before }, ctx);
    expect((await h.store.update('lines', { systemMessage: after }, ctx)).systemMessage).toBe(after);
  });

  it('two small edits far apart in a long text stay small edits (a concurrent edit between them survives)', async () => {
    const text = Array.from({ length: 3_000 }, (_, i) => `line ${i}: ${unrelated(30, i)}\n`).join('');
    await h.store.create({ id: 'far', ...sample(), systemMessage: text }, ctx);
    const doc = new Y.Doc();
    Y.applyUpdate(doc, await h.store.encodeStateAsUpdate('far'));
    const sv = Y.encodeStateVector(doc);
    // a live editor inserts in the middle while an API client rewrites lines 10 and 2,990
    (doc.getMap('profile').get('systemMessage') as Y.Text).insert(text.indexOf('line 1500:'), 'LIVE ');
    const edited = text.replace('line 10:', 'line ten:').replace('line 2990:', 'line 2,990:');
    await h.store.update('far', { systemMessage: edited }, ctx);
    const merged = await h.store.applyRemoteUpdate('far', Y.encodeStateAsUpdate(doc, sv), { actor: 'carol', origin: 'yjs:tok3' });
    expect(merged.view!.systemMessage).toBe(edited.replace('line 1500:', 'LIVE line 1500:'));
  });
});

describe('hostile reads', () => {
  it('the diff of two versions holding unrelated 500,000-character texts (any viewer may ask for it) answers with parts that rebuild both', async () => {
    const a = 'x'.repeat(500_000);
    const b = 'y'.repeat(250_000) + 'x'.repeat(10) + 'z'.repeat(249_990);
    await h.store.create({ id: 'dv', ...sample(), systemMessage: a }, ctx);
    await h.store.update('dv', { systemMessage: b }, ctx);
    const history = await h.store.history('dv');
    const d = await h.store.diff('dv', `@${history.at(-1)!.seq}`, 'latest');
    const change = d.changes.find((c) => c.path === 'systemMessage')!;
    expect(change.text!.filter((p) => p.op !== 'insert').map((p) => p.text).join('')).toBe(a);
    expect(change.text!.filter((p) => p.op !== 'delete').map((p) => p.text).join('')).toBe(b);
  });
});
