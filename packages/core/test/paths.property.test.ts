/**
 * One validator for every path (issue 11.7): the same change refused or accepted the same way,
 * with the same code, whether it arrives as an HTTP-style patch (store.update) or as a Yjs update
 * from a /yjs client (store.applyRemoteUpdate, origin yjs:...), and, when accepted, it reads back
 * identically. Strings that are not valid Unicode, NUL, control characters, unknown or mistyped
 * parameters, bad messages and label writes included.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { positionBetween } from '@profilesync/model';
import { contentOf } from '../src/model.js';
import { ctx, harness, sample, type Harness } from './helpers.js';

let http: Harness;
let yjs: Harness;
beforeAll(async () => {
  http = await harness();
  yjs = await harness();
});
afterAll(async () => {
  await http.close();
  await yjs.close();
});

const tricky = fc.constantFrom<unknown>('ok', '', 'a\ud800b', 'b\udc00', 'x\u0000y', '\u001b[31mred', 'tab\there', 'line\nbreak', 'é😀', 'x'.repeat(300), 5, 2.5, -1, true, { a: 1 }, [1, 2], ['s']);
type Change =
  | { k: 'scalar'; field: 'name' | 'modelId'; value: unknown }
  | { k: 'text'; field: 'systemMessage' | 'description'; value: unknown }
  | { k: 'param'; key: string; value: unknown }
  | { k: 'extra'; key: string; value: unknown }
  | { k: 'message'; role: unknown; content: unknown }
  | { k: 'label'; name: string; value: unknown };

const change: fc.Arbitrary<Change> = fc.oneof(
  fc.record({ k: fc.constant('scalar' as const), field: fc.constantFrom('name' as const, 'modelId' as const), value: tricky }),
  fc.record({ k: fc.constant('text' as const), field: fc.constantFrom('systemMessage' as const, 'description' as const), value: tricky }),
  fc.record({ k: fc.constant('param' as const), key: fc.constantFrom('temperature', 'stop', 'seed', 'logit_bias', 'user', 'temprature', 'top_k'), value: tricky }),
  fc.record({ k: fc.constant('extra' as const), key: fc.constantFrom('top_k', 'vendor.x', 'bad key', 'model'), value: tricky }),
  fc.record({ k: fc.constant('message' as const), role: fc.constantFrom<unknown>('user', 'assistant', 'robot', 5), content: tricky }),
  fc.record({ k: fc.constant('label' as const), name: fc.constantFrom('prod', 'Bad'), value: fc.constantFrom<unknown>('not-a-version', 'v1.AAAA', 5) }),
);

function patchOf(c: Change): Record<string, unknown> {
  switch (c.k) {
    case 'scalar':
    case 'text':
      return { [c.field]: c.value };
    case 'param':
      return { parameters: { [c.key]: c.value } };
    case 'extra':
      return { parameters: { extra: { [c.key]: c.value } } };
    case 'message':
      return { messages: [{ role: c.role, content: c.content }] };
    case 'label':
      return { labels: { [c.name]: c.value } };
  }
}

/** The same change made by a Yjs client on its copy of the doc. */
function applyToDoc(doc: Y.Doc, c: Change): void {
  const root = doc.getMap<unknown>('profile');
  doc.transact(() => {
    switch (c.k) {
      case 'scalar':
        root.set(c.field, c.value);
        break;
      case 'text': {
        if (typeof c.value !== 'string') {
          root.set(c.field, c.value);
          break;
        }
        const t = root.get(c.field) as Y.Text;
        t.delete(0, t.length);
        t.insert(0, c.value);
        break;
      }
      case 'param':
        (root.get('parameters') as Y.Map<unknown>).set(c.key, c.value);
        break;
      case 'extra':
        (root.get('extra') as Y.Map<unknown>).set(c.key, c.value);
        break;
      case 'message': {
        const m = new Y.Map<unknown>();
        m.set('role', c.role);
        m.set('content', typeof c.content === 'string' ? new Y.Text(c.content) : c.content);
        m.set('pos', positionBetween(null, null));
        (root.get('messages') as Y.Map<unknown>).set('m1', m);
        break;
      }
      case 'label':
        (root.get('labels') as Y.Map<unknown>).set(c.name, c.value);
        break;
    }
  });
}

async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
}

describe('HTTP and /yjs validate alike', () => {
  it('every change is accepted or refused with the same code on both paths, and reads back the same (property)', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(change, async (c) => {
        const id = `path-${run++}`;
        await http.store.create({ id, ...sample() }, ctx);
        await yjs.store.create({ id, ...sample() }, ctx);
        const viaHttp = await outcome(http.store.update(id, patchOf(c), ctx));
        const client = new Y.Doc();
        Y.applyUpdate(client, await yjs.store.encodeStateAsUpdate(id));
        const sv = Y.encodeStateVector(client);
        applyToDoc(client, c);
        const viaYjs = await outcome(yjs.store.applyRemoteUpdate(id, Y.encodeStateAsUpdate(client, sv), { actor: 'alice', origin: 'yjs:t' }));
        client.destroy();
        expect({ change: c, viaYjs }).toEqual({ change: c, viaYjs: viaHttp });
        const a = contentOf(await http.store.get(id));
        const b = contentOf(await yjs.store.get(id));
        // message ids differ (HTTP assigns one); everything else is the same content
        const norm = (x: typeof a) => ({ ...x, messages: x.messages.map((m) => ({ role: m.role, content: m.content })) });
        expect(norm(b)).toEqual(norm(a));
      }),
      { numRuns: 150, seed: 117 },
    );
  });

  it('a lone surrogate becomes U+FFFD on every path (the Yjs wire does it; the API does the same), in the view and at every version', async () => {
    await http.store.create({ id: 'surrogates', ...sample() }, ctx);
    const v = await http.store.update('surrogates', { systemMessage: 'a\ud800b', parameters: { extra: { k: 'x\ud83d' } } }, ctx);
    expect(v.systemMessage).toBe('a\ufffdb');
    expect(v.parameters.extra).toEqual({ k: 'x\ufffd' });
    // in a key too: then the key breaks its pattern like any other odd character
    expect(await outcome(http.store.update('surrogates', { meta: { ['n\udc00te']: 1 } }, ctx))).toBe('PROFILE_INVALID');
    expect((await http.store.getAt('surrogates', v.version)).systemMessage).toBe('a\ufffdb');
    http.store.clearCache();
    expect((await http.store.get('surrogates')).systemMessage).toBe('a\ufffdb');
  });

  it('a /yjs client may not write labels (even a valid ref), the schema key or another root; nothing is stored', async () => {
    const v = await yjs.store.create({ id: 'roots', ...sample() }, ctx);
    const before = yjs.store.log.head('roots')!.seq;
    const attempts: ((d: Y.Doc) => void)[] = [
      (d) => (d.getMap('profile').get('labels') as Y.Map<unknown>).set('prod', v.version),
      (d) => d.getMap('profile').set('schema', 3),
      (d) => d.getMap('versions').set('x', { at: 1 }),
      (d) => d.getMap('elsewhere').set('x', 1),
    ];
    for (const attempt of attempts) {
      const client = new Y.Doc();
      Y.applyUpdate(client, await yjs.store.encodeStateAsUpdate('roots'));
      const sv = Y.encodeStateVector(client);
      client.transact(() => attempt(client));
      expect(await outcome(yjs.store.applyRemoteUpdate('roots', Y.encodeStateAsUpdate(client, sv), { actor: 'mallory', origin: 'yjs:t' }))).toBe('PROFILE_READONLY_FIELD');
      client.destroy();
    }
    expect(yjs.store.log.head('roots')!.seq).toBe(before);
    expect((await yjs.store.get('roots')).labels).toEqual({});
    const audit = await yjs.store.audit({ profile: 'roots', action: 'sync.rejected' });
    expect(audit.map((r) => r.details?.['code'])).toEqual(['PROFILE_READONLY_FIELD', 'PROFILE_READONLY_FIELD', 'PROFILE_READONLY_FIELD', 'PROFILE_READONLY_FIELD']);
  });

  it('a peer may not add a version record whose snapshot does not hash to its key', async () => {
    await yjs.store.create({ id: 'records', ...sample() }, ctx);
    const client = new Y.Doc();
    Y.applyUpdate(client, await yjs.store.encodeStateAsUpdate('records'));
    const sv = Y.encodeStateVector(client);
    client.getMap('versions').set('AAAAAAAAAAAAAAAAAAAAAA', { at: 1, actors: ['x'], by: 'x', node: 'n', reason: 'idle', fields: [], snapshot: 'AAAA' });
    expect(await outcome(yjs.store.applyRemoteUpdate('records', Y.encodeStateAsUpdate(client, sv), { actor: 'peer', origin: 'peer:p' }))).toBe('PROFILE_INVALID');
    expect((await yjs.store.history('records')).length).toBe(1);
  });
});
