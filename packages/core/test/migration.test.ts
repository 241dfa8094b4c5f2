/**
 * Profiles written by schema-1 code (test/fixtures/profiles-v1: a data dir made with main before
 * profile model v2, and what that code read from it) open, read up-converted, keep their history
 * and labels, and migrate on their first write, the same way on every node.
 */
import { cp, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { materializeProfile } from '../src/materialize.js';
import { contentOf } from '../src/model.js';
import { openStore } from '../src/open.js';
import type { ProfileStoreImpl } from '../src/store-api.js';
import type { ProfileView, VersionInfo } from '../src/types.js';
import { codeOf, removeDir, tempDir } from './helpers.js';

const FIXTURE = fileURLToPath(new URL('../../../test/fixtures/profiles-v1/', import.meta.url));

interface Expected {
  view: ProfileView;
  history: { version: string; seq: number; at: string; actor: string; origin: string; summary: string }[];
}

const dirs: string[] = [];
const stores: ProfileStoreImpl[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const d of dirs.splice(0)) await removeDir(d);
});

async function open(): Promise<{ store: ProfileStoreImpl; dir: string }> {
  const dir = join(await tempDir('core-v1-'), 'store');
  dirs.push(dir);
  await cp(join(FIXTURE, 'store'), dir, { recursive: true });
  const store = await openStore({ dir, nodeId: 'test' });
  stores.push(store);
  return { store, dir };
}

const expected = async (): Promise<Record<string, Expected>> => JSON.parse(await readFile(join(FIXTURE, 'expected.json'), 'utf8')) as Record<string, Expected>;
const alice = { actor: 'alice', origin: 'api:tok-alice' };

describe('schema-1 profiles (fixture written by the previous code)', () => {
  it('open and read up-converted: unknown parameters under extra, no messages, same content otherwise', async () => {
    const { store } = await open();
    const exp = await expected();
    const v = await store.get('support-bot');
    const old = exp['support-bot']!.view;
    expect(v.schema).toBe(1);
    expect(v.messages).toEqual([]);
    expect(v.conflicts).toBe(0);
    expect(v.version).toMatch(/^v2\.[A-Za-z0-9_-]{8}\.[A-Za-z0-9_-]{22}$/);
    expect(v.parameters).toEqual({ max_tokens: 512, seed: 7, stop: ['END'], temperature: 0.5, top_p: 0.9, extra: { repetition_penalty: 1.1, 'vendor.flag': true } });
    const { parameters: _p, ...rest } = contentOf(v);
    const { parameters: _q, ...oldRest } = contentOf(old);
    expect(rest).toEqual({ ...oldRest, messages: [] });
    expect(v.labels).toEqual(old.labels); // v1 refs, still resolvable
    // a v1-valid value for a key v2 knows moves under extra; the /yjs label bypass is not shown
    const odd = await store.get('odd-params');
    expect(odd.parameters).toEqual({ temperature: 1, extra: { n: 'three', logprobs: 'yes' } });
    expect(odd.labels).toEqual({});
    expect(await codeOf(() => store.get('retired'))).toBe('PROFILE_DELETED');
    expect((await store.list({ includeDeleted: true })).map((s) => s.id)).toEqual(['odd-params', 'retired', 'support-bot']);
  });

  it('keep their history: every old entry is a version; old v1 refs, @N and labels resolve to the same content', async () => {
    const { store } = await open();
    const exp = (await expected())['support-bot']!;
    const hist = await store.history('support-bot');
    expect(hist.map((h) => h.ref)).toEqual(['@7', '@6', '@5', '@4', '@3', '@2', '@1']);
    expect(hist.map((h) => [h.actor, h.at])).toEqual(exp.history.map((h) => [h.actor, h.at]));
    expect(hist[0]!.version).toBe((await store.get('support-bot')).version);
    expect(hist.some((h) => h.open)).toBe(false);
    for (const [i, old] of exp.history.entries()) {
      const byV1 = await store.getAt('support-bot', old.version);
      const byN = await store.getAt('support-bot', hist[i]!.ref);
      const byV2 = await store.getAt('support-bot', hist[i]!.version);
      expect(contentOf(byN)).toEqual(contentOf(byV1));
      expect(contentOf(byV2)).toEqual(contentOf(byV1));
    }
    expect((await store.getAt('support-bot', '@2')).systemMessage).toBe('You are a friendly support agent.');
    const prod = await store.getByLabel('support-bot', 'production');
    expect([prod.systemMessage, prod.parameters.temperature]).toEqual(['You are a friendly support agent.', 0.5]);
    expect((await store.getByLabel('support-bot', 'first')).parameters).toMatchObject({ temperature: 0.7, extra: { top_k: 40 } });
  });

  it('migrate on their first write: history and labels kept, labels become v2 refs, extra keeps the moved parameters', async () => {
    const { store, dir } = await open();
    const before = await store.get('support-bot');
    const prodBefore = contentOf(await store.getByLabel('support-bot', 'production'));
    const v = await store.update('support-bot', { messages: [{ role: 'user', content: 'Hi {{customer}}' }], parameters: { extra: { top_k: 50 } } }, alice);
    expect(v.schema).toBe(2);
    expect(v.messages).toEqual([{ id: expect.stringMatching(/^[a-z2-7]{10}$/), role: 'user', content: 'Hi {{customer}}' }]);
    expect(v.parameters).toEqual({ ...before.parameters, extra: { repetition_penalty: 1.1, 'vendor.flag': true, top_k: 50 } });
    for (const ref of Object.values(v.labels)) expect(ref).toMatch(/^v2\./);
    expect(contentOf(await store.getByLabel('support-bot', 'production'))).toEqual({ ...prodBefore, labels: v.labels });
    const entries = await store.entries('support-bot');
    expect(entries.slice(0, 2).map((e) => e.summary.split(':')[0])).toEqual(['update', 'migrate']);
    const hist: VersionInfo[] = await store.history('support-bot');
    expect(hist.slice(0, 2).map((h) => [h.ref, h.reason, h.open ?? false])).toEqual([
      ['@9', 'open', true],
      ['@8', 'migrate', false],
    ]);
    expect(hist.length).toBe(9);
    expect((await store.getAt('support-bot', '@2')).systemMessage).toBe('You are a friendly support agent.');
    // the old v1 refs still resolve after the migration
    const exp = (await expected())['support-bot']!;
    expect((await store.getAt('support-bot', exp.history[5]!.version)).systemMessage).toBe('You are a friendly support agent.');
    await store.flushVersions();
    const after = await store.get('support-bot');
    // views are derived: a rebuild gives the same bytes; reopening gives the same view
    const bytes = Buffer.from((await store.log.getView('support-bot'))!).toString('hex');
    await store.log.rebuild(materializeProfile);
    expect(Buffer.from((await store.log.getView('support-bot'))!).toString('hex')).toBe(bytes);
    await store.close();
    const again = await openStore({ dir, nodeId: 'test' });
    stores.push(again);
    expect(await again.get('support-bot')).toEqual(after);
    expect((await again.history('support-bot')).map((h) => h.ref)).toEqual(['@9', '@8', '@7', '@6', '@5', '@4', '@3', '@2', '@1']);
    // the profile whose label held no ref: the write drops it; its odd parameters stay under extra
    const odd = await again.update('odd-params', { name: 'Odd params 2' }, alice);
    expect(odd.parameters).toEqual({ temperature: 1, extra: { n: 'three', logprobs: 'yes' } });
    expect(odd.labels).toEqual({});
    // a tombstone migrates on revert (the only write it takes)
    const back = await again.revert('retired', '@1', alice);
    expect([back.deleted, back.schema, back.systemMessage]).toEqual([false, 2, 'old']);
  });

  it('two nodes migrating the same profile concurrently converge to identical views and one history', async () => {
    const a = (await open()).store;
    const b = (await open()).store;
    await a.update('support-bot', { description: 'edited on a' }, alice);
    await b.update('support-bot', { systemMessage: 'edited on b' }, { actor: 'bob', origin: 'api:tok-bob' });
    await a.flushVersions();
    await b.flushVersions();
    await a.applyRemoteUpdate('support-bot', await b.encodeStateAsUpdate('support-bot'), { actor: 'b', origin: 'peer:b' });
    await b.applyRemoteUpdate('support-bot', await a.encodeStateAsUpdate('support-bot'), { actor: 'a', origin: 'peer:a' });
    const va = await a.get('support-bot');
    const vb = await b.get('support-bot');
    expect({ ...va, updatedAt: '', updatedBy: '' }).toEqual({ ...vb, updatedAt: '', updatedBy: '' });
    expect([va.description, va.systemMessage]).toEqual(['edited on a', 'edited on b']);
    // closed versions are the same records on both nodes (the open run, the merged state, is each node's own)
    const closed = async (s: ProfileStoreImpl) => (await s.history('support-bot')).filter((h) => !h.open);
    const ha = await closed(a);
    expect(ha).toEqual(await closed(b));
    // the legacy versions (same states, same keys) are listed once; each node's migrate and run versions
    expect(ha.filter((h) => h.node !== 'test').length).toBe(7);
    expect(ha.filter((h) => h.node === 'test' && h.reason === 'idle').map((h) => h.actor).sort()).toEqual(['alice', 'bob']);
  });
});
