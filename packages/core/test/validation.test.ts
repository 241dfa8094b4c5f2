import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { ROOT } from '../src/model.js';
import { codeOf, ctx, harness, sample, totalEntries, type Harness } from './helpers.js';

let h: Harness;
beforeAll(async () => {
  h = await harness({ maxProfileBytes: 64 * 1024 });
  await h.store.create({ id: 'p', ...sample() }, ctx);
});
afterAll(async () => {
  await h.close();
});

/** Runs a refused call and checks its code and that the log did not grow at all. */
async function refused(code: string, call: () => unknown): Promise<void> {
  const before = totalEntries(h.store.log);
  const view = h.store.get('p');
  expect(await codeOf(call)).toBe(code);
  expect(totalEntries(h.store.log)).toBe(before);
  expect(h.store.get('p')).toEqual(view);
}

const patchRules: [string, Record<string, unknown>, string][] = [
  ['readonly id', { id: 'x' }, 'PROFILE_READONLY_FIELD'],
  ['readonly version', { version: 'v1.AA' }, 'PROFILE_READONLY_FIELD'],
  ['readonly updatedAt', { updatedAt: 'x' }, 'PROFILE_READONLY_FIELD'],
  ['readonly updatedBy', { updatedBy: 'x' }, 'PROFILE_READONLY_FIELD'],
  ['readonly deleted', { deleted: true }, 'PROFILE_READONLY_FIELD'],
  ['labels only via setLabel', { labels: {} }, 'PROFILE_READONLY_FIELD'],
  ['unknown field', { colour: 'red' }, 'PROFILE_INVALID'],
  ['name removed', { name: null }, 'PROFILE_INVALID'],
  ['modelId removed', { modelId: null }, 'PROFILE_INVALID'],
  ['name empty', { name: '' }, 'PROFILE_INVALID'],
  ['name wrong type', { name: 3 }, 'PROFILE_INVALID'],
  ['text wrong type', { systemMessage: ['a'] }, 'PROFILE_INVALID'],
  ['templates wrong type', { templates: [] }, 'PROFILE_INVALID'],
  ['template wrong type', { templates: { a: 1 } }, 'PROFILE_INVALID'],
  ['template bad name', { templates: { 'a b': 'x' } }, 'PROFILE_INVALID'],
  ['temperature > 2', { parameters: { temperature: 2.01 } }, 'PROFILE_INVALID'],
  ['temperature < 0', { parameters: { temperature: -1 } }, 'PROFILE_INVALID'],
  ['top_p > 1', { parameters: { top_p: 1.01 } }, 'PROFILE_INVALID'],
  ['max_tokens 0', { parameters: { max_tokens: 0 } }, 'PROFILE_INVALID'],
  ['max_tokens fraction', { parameters: { max_tokens: 2.5 } }, 'PROFILE_INVALID'],
  ['max_tokens over cap', { parameters: { max_tokens: 20_000_000 } }, 'PROFILE_INVALID'],
  ['stop too many', { parameters: { stop: Array.from({ length: 17 }, (_, i) => `s${i}`) } }, 'PROFILE_TOO_LARGE'],
  ['stop item too long', { parameters: { stop: ['x'.repeat(257)] } }, 'PROFILE_TOO_LARGE'],
  ['seed fraction', { parameters: { seed: 1.5 } }, 'PROFILE_INVALID'],
  ['presence_penalty', { parameters: { presence_penalty: 2.5 } }, 'PROFILE_INVALID'],
  ['frequency_penalty', { parameters: { frequency_penalty: -2.5 } }, 'PROFILE_INVALID'],
  ['unknown parameter (did you mean)', { parameters: { temprature: 0.5 } }, 'PROFILE_INVALID'],
  ['unknown parameter outside extra', { parameters: { nested: { a: 1 } } }, 'PROFILE_INVALID'],
  ['extra param bad key', { parameters: { extra: { '9lives': 1 } } }, 'PROFILE_INVALID'],
  ['extra param known key beside the same key', { parameters: { temperature: 1, extra: { temperature: 3 } } }, 'PROFILE_INVALID'],
  ['extra param long string', { parameters: { extra: { note: 'x'.repeat(512 * 1024 + 1) } } }, 'PROFILE_TOO_LARGE'],
  ['too many extra parameters', { parameters: { extra: Object.fromEntries(Array.from({ length: 70 }, (_, i) => [`k${i}`, i])) } }, 'PROFILE_TOO_LARGE'],
  ['logit_bias as a string', { parameters: { logit_bias: '{"50256": -100}' } }, 'PROFILE_INVALID'],
  ['tool parameters not a JSON Schema', { parameters: { tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'objekt' } } }] } }, 'PROFILE_INVALID'],
  ['response_format schema invalid', { parameters: { response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { properties: 5 } } } } }, 'PROFILE_INVALID'],
  ['duplicate tool names', { parameters: { tools: [{ type: 'function', function: { name: 'f' } }, { type: 'function', function: { name: 'f' } }] } }, 'PROFILE_INVALID'],
  ['message bad role', { messages: [{ role: 'robot', content: 'x' }] }, 'PROFILE_INVALID'],
  ['messages not a list', { messages: { a: 1 } }, 'PROFILE_INVALID'],
  ['message duplicate id', { messages: [{ id: 'a', role: 'user', content: 'x' }, { id: 'a', role: 'user', content: 'y' }] }, 'PROFILE_INVALID'],
  ['NUL in text', { description: 'a\u0000' }, 'PROFILE_INVALID'],
  ['NUL in modelId', { modelId: 'gpt\u0000' }, 'PROFILE_INVALID'],
  ['ANSI escape in name', { name: '\u001b[31mred' }, 'PROFILE_INVALID'],
  ['schema is computed', { schema: 2 }, 'PROFILE_READONLY_FIELD'],
  ['meta bad key', { meta: { 'a b': 1 } }, 'PROFILE_INVALID'],
  ['meta tags wrong', { meta: { tags: 'x' } }, 'PROFILE_INVALID'],
  ['description over field limit', { description: 'd'.repeat(64 * 1024 + 1) }, 'PROFILE_TOO_LARGE'],
  ['profile over maxProfileBytes', { systemMessage: 's'.repeat(70 * 1024) }, 'PROFILE_TOO_LARGE'],
];

describe('every validation rule: coded error, log unchanged, view unchanged', () => {
  for (const [name, patch, code] of patchRules) {
    it(`update: ${name} -> ${code}`, () => refused(code, () => h.store.update('p', patch, ctx)));
  }

  it('create: invalid bodies', async () => {
    await refused('PROFILE_INVALID_ID', () => h.store.create({ ...sample(), id: 'bad id!' }, ctx));
    await refused('PROFILE_INVALID_ID', () => h.store.create({ ...sample(), id: 'x'.repeat(129) }, ctx));
    await refused('PROFILE_EXISTS', () => h.store.create({ ...sample(), id: 'p' }, ctx));
    await refused('PROFILE_INVALID', () => h.store.create({ ...sample(), id: 'n1', name: undefined as unknown as string }, ctx));
    await refused('PROFILE_READONLY_FIELD', () => h.store.create({ ...sample(), id: 'n2', version: 'v1.x' } as never, ctx));
    await refused('PROFILE_READONLY_FIELD', () => h.store.create({ ...sample(), id: 'n3', labels: {} } as never, ctx));
    await refused('PROFILE_INVALID', () => h.store.create({ ...sample(), id: 'n4', parameters: { temperature: 7 } }, ctx));
    await refused('PROFILE_INVALID', () => h.store.create(null as never, ctx));
    await refused('PROFILE_INVALID', () => h.store.create({ ...sample(), id: 'n5' }, { actor: '', origin: 'x' }));
    expect(h.store.log.head('n4')).toBeUndefined();
  });

  it('applyRemoteUpdate: malformed bytes -> PROFILE_BAD_UPDATE', async () => {
    await refused('PROFILE_BAD_UPDATE', () => h.store.applyRemoteUpdate('p', new Uint8Array([1, 2, 3, 250, 250]), ctx));
    await refused('PROFILE_BAD_UPDATE', () => h.store.applyRemoteUpdate('p', new Uint8Array(0), ctx));
    await refused('PROFILE_INVALID_ID', () => h.store.applyRemoteUpdate('bad id', new Uint8Array([0, 0]), ctx));
    // an unknown profile (applied to a fresh doc without a separate decode pass): refused the same way
    const good = await h.store.encodeStateAsUpdate('p');
    for (const bad of [new Uint8Array([1, 2, 3, 250, 250]), good.subarray(0, good.length >> 1)]) {
      await refused('PROFILE_BAD_UPDATE', () => h.store.applyRemoteUpdate('fresh', bad, ctx));
      expect(h.store.log.head('fresh')).toBeUndefined();
    }
  });

  it('applyRemoteUpdate: an update making the profile invalid is rejected, audited, and the doc reloaded', async () => {
    const peer = new Y.Doc({ gc: false });
    Y.applyUpdate(peer, await h.store.encodeStateAsUpdate('p'));
    const sv = Y.encodeStateVector(peer);
    peer.transact(() => (peer.getMap(ROOT).get('parameters') as Y.Map<unknown>).set('temperature', 9));
    const bad = Y.encodeStateAsUpdate(peer, sv);
    const seq = h.store.log.head('p')!.seq;
    expect(await codeOf(h.store.applyRemoteUpdate('p', bad, { actor: 'peer-b', origin: 'peer:b' }))).toBe('PROFILE_INVALID');
    expect(h.store.log.head('p')!.seq).toBe(seq);
    expect((await h.store.get('p')).parameters.temperature).toBe(0.7);
    const audit = await h.store.audit({ action: 'sync.rejected' });
    expect(audit[0]).toMatchObject({ action: 'sync.rejected', outcome: 'rejected', profile: 'p', actor: 'peer-b' });
    // a later valid local write works and does not contain the refused change
    const v = await h.store.update('p', { description: 'after' }, ctx);
    expect(v.parameters.temperature).toBe(0.7);
    // wrong Yjs kinds are refused too (a plain string where a Y.Text belongs)
    const peer2 = new Y.Doc({ gc: false });
    Y.applyUpdate(peer2, await h.store.encodeStateAsUpdate('p'));
    const sv2 = Y.encodeStateVector(peer2);
    peer2.transact(() => peer2.getMap(ROOT).set('systemMessage', 'plain string'));
    expect(await codeOf(h.store.applyRemoteUpdate('p', Y.encodeStateAsUpdate(peer2, sv2), ctx))).toBe('PROFILE_INVALID');
    expect((await h.store.get('p')).systemMessage).toBe(sample().systemMessage);
  });

  it('audit input is validated', async () => {
    await refused('AUDIT_INVALID', () => h.store.recordAudit({ actor: '', origin: 'x', action: 'auth.denied', outcome: 'denied' }));
    await refused('AUDIT_INVALID', () => h.store.recordAudit({ actor: 'a', origin: 'x', action: 'auth.denied', outcome: 'maybe' as never }));
    await refused('AUDIT_INVALID', () => h.store.audit({ since: 'yesterday' }));
    await refused('AUDIT_INVALID', () => h.store.audit({ limit: 0 }));
  });
});
