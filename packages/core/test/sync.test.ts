import fc from 'fast-check';
import * as Y from 'yjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { canonicalJson } from '../src/canonical.js';
import { contentOf } from '../src/model.js';
import type { ChangeEvent, ProfileView } from '../src/types.js';
import { ctx, harness, sample, type Harness } from './helpers.js';

let a: Harness;
let b: Harness;
beforeEach(async () => {
  a = await harness();
  b = await harness();
});
afterEach(async () => {
  await a.close();
  await b.close();
});

const peerA = { actor: 'node-a', origin: 'peer:a' };
const peerB = { actor: 'node-b', origin: 'peer:b' };

/** Content + version: what must be identical on converged peers (updatedAt/updatedBy too, once no run is open: docs/profile-model.md §3.1). */
const portable = (v: ProfileView): string => canonicalJson({ ...contentOf(v), version: v.version });

function collect(h: Harness): ChangeEvent[] {
  const out: ChangeEvent[] = [];
  h.store.subscribe((e) => out.push(e));
  return out;
}

describe('two stores exchanging updates', () => {
  it('converge to identical content and version, any order, with duplicates', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 2 ** 31 }), async (seed) => {
        const id = `s${run++}`;
        const fromA = collect(a);
        const fromB = collect(b);
        await a.store.create({ id, ...sample() }, ctx);
        for (const e of fromA.splice(0)) await b.store.applyRemoteUpdate(e.id, e.update, peerA);
        fromB.splice(0);
        // concurrent edits on both sides
        await a.store.update(id, { systemMessage: 'A: You are a helpful support agent. Answer briefly.', parameters: { seed: seed % 100 } }, ctx);
        await a.store.update(id, { templates: { fromA: 'a' } }, ctx);
        await b.store.update(id, { systemMessage: 'You are a helpful support agent. Answer briefly. B', meta: { owner: 'b' } }, ctx);
        await b.store.update(id, { templates: { greet: null } }, ctx);
        const ua = fromA.splice(0).map((e) => e.update);
        const ub = fromB.splice(0).map((e) => e.update);
        // deliver in a seeded random order, each update possibly twice
        const rnd = fc.sample(fc.shuffledSubarray([...ua.map((u) => ['b', u] as const), ...ub.map((u) => ['a', u] as const)], { minLength: ua.length + ub.length }), { numRuns: 1, seed })[0]!;
        for (const [to, u] of [...rnd, ...rnd.slice(0, 2)]) {
          const target = to === 'a' ? a : b;
          await target.store.applyRemoteUpdate(id, u, to === 'a' ? peerB : peerA);
        }
        // relayed events (what each side appended from the other) must not echo anything new
        for (const e of fromA.splice(0)) expect((await b.store.applyRemoteUpdate(id, e.update, peerA)).applied).toBe(false);
        for (const e of fromB.splice(0)) expect((await a.store.applyRemoteUpdate(id, e.update, peerB)).applied).toBe(false);
        const va = await a.store.get(id);
        const vb = await b.store.get(id);
        expect(portable(va)).toBe(portable(vb));
        // both character edits survived
        expect(va.systemMessage).toBe('A: You are a helpful support agent. Answer briefly. B');
        expect(va.templates).toEqual({ bye: 'Goodbye {{name}}', fromA: 'a' });
        // reopening / replay gives the same
        a.store.clearCache();
        expect(portable(await a.store.get(id))).toBe(portable(vb));
      }),
      { numRuns: 6 },
    );
  });

  it('duplicates are not appended again; a profile first seen remotely is created', async () => {
    const fromA = collect(a);
    const created: ChangeEvent[] = collect(b);
    await a.store.create({ id: 'x', ...sample() }, ctx);
    const u = fromA[0]!.update;
    expect((await b.store.applyRemoteUpdate('x', u, peerA)).applied).toBe(true);
    expect(created[0]!.created).toBe(true);
    expect((await b.store.applyRemoteUpdate('x', u, peerA)).applied).toBe(false);
    expect(b.store.log.head('x')!.seq).toBe(1);
    // the raw entry is B's (origin peer:a); the version is the one A closed at create, the same on both
    expect((await b.store.entries('x'))[0]).toMatchObject({ actor: 'node-a', origin: 'peer:a' });
    expect(await b.store.history('x')).toEqual(await a.store.history('x'));
    expect((await b.store.history('x'))[0]).toMatchObject({ ref: '@1', reason: 'create', actor: ctx.actor });
    expect(b.store.versionHashes().get('x')).toBe(a.store.versionHashes().get('x'));
  });

  it('a new profile\'s full state is appended as received; one that leaves structs pending goes through the capture path', async () => {
    const fromA = collect(a);
    await a.store.create({ id: 'f', ...sample() }, ctx);
    for (let i = 0; i < 5; i++) await a.store.update('f', { description: `d${i}`, parameters: { temperature: i / 10 } }, ctx);
    const full = await a.store.encodeStateAsUpdate('f');
    const r = await b.store.applyRemoteUpdate('f', full, peerA);
    expect(r.applied).toBe(true);
    expect(portable(r.view!)).toBe(portable(await a.store.get('f')));
    const entries = [];
    for await (const e of b.store.log.read('f')) entries.push(e);
    expect(entries.map((e) => Buffer.from(e.body).equals(Buffer.from(full)))).toEqual([true]);
    // unknown profile, update whose dependencies are missing: nothing is appended, then the rest integrates it
    await a.store.create({ id: 'g', ...sample() }, ctx);
    for (let i = 0; i < 5; i++) await a.store.update('g', { description: `d${i}` }, ctx);
    const ofG = fromA.filter((e) => e.id === 'g').map((e) => e.update);
    const late = ofG[5]!;
    expect((await b.store.applyRemoteUpdate('g', late, peerA)).applied).toBe(false);
    expect(b.store.log.head('g')).toBeUndefined();
    const early = Y.mergeUpdates(ofG.slice(0, 5));
    const r2 = await b.store.applyRemoteUpdate('g', early, peerA);
    expect(r2.applied).toBe(true);
    expect(r2.view!.description).toBe('d4');
    expect(b.store.log.head('g')!.seq).toBe(1);
    const bodies = [];
    for await (const e of b.store.log.read('g')) bodies.push(e.body);
    const replay = new Y.Doc();
    Y.applyUpdate(replay, bodies[0]!);
    expect(Y.encodeStateVector(replay)).toEqual(Y.encodeStateVectorFromUpdate(await a.store.encodeStateAsUpdate('g')));
    expect(portable(r2.view!)).toBe(portable(await a.store.get('g')));
  });

  it('an update with missing dependencies stays pending and is appended when it integrates', async () => {
    const fromA = collect(a);
    await a.store.create({ id: 'y', ...sample() }, ctx);
    await b.store.applyRemoteUpdate('y', fromA[0]!.update, peerA);
    // inserts only: the second one's origin is inside the first, so it cannot integrate alone
    await a.store.update('y', { description: 'Answers support questions!' }, ctx);
    await a.store.update('y', { description: 'Answers support questions!?' }, ctx);
    const [u1, u2] = [fromA[1]!.update, fromA[2]!.update];
    expect((await b.store.applyRemoteUpdate('y', u2, peerA)).applied).toBe(false);
    expect(b.store.log.head('y')!.seq).toBe(1);
    const r = await b.store.applyRemoteUpdate('y', u1, peerA);
    expect(r.applied).toBe(true);
    expect(r.view!.description).toBe('Answers support questions!?');
    expect(portable(r.view!)).toBe(portable(await a.store.get('y')));
  });

  it('concurrent temperature sets from two actors produce a conflict report on both nodes', async () => {
    const fromA = collect(a);
    const fromB = collect(b);
    await a.store.create({ id: 'c', ...sample() }, ctx);
    await b.store.applyRemoteUpdate('c', fromA.splice(0)[0]!.update, peerA);
    fromB.splice(0);
    await a.store.update('c', { parameters: { temperature: 0.1 } }, { actor: 'alice', origin: 'api:t1' });
    await b.store.update('c', { parameters: { temperature: 1.9 } }, { actor: 'bob', origin: 'api:t2' });
    await b.store.applyRemoteUpdate('c', fromA.splice(0)[0]!.update, peerA);
    await a.store.applyRemoteUpdate('c', fromB.splice(0)[0]!.update, peerB);
    const ca = await a.store.scalarOverwrites('c');
    const cb = await b.store.scalarOverwrites('c');
    expect(ca).toHaveLength(1);
    expect(cb).toHaveLength(1);
    const final = (await a.store.get('c')).parameters.temperature;
    expect((await b.store.get('c')).parameters.temperature).toBe(final);
    for (const [c, local] of [
      [ca[0]!, 'alice'],
      [cb[0]!, 'bob'],
    ] as const) {
      expect(c.path).toBe('parameters.temperature');
      expect(c.winner.value).toBe(final);
      expect(c.dropped.value).toBe(final === 0.1 ? 1.9 : 0.1);
      const sides = [c.winner, c.dropped];
      expect(sides.some((s) => s.actor === local)).toBe(true); // the local value is attributed to its writer
      expect(sides.some((s) => s.origin.startsWith('peer:'))).toBe(true);
    }
    const audit = await a.store.audit({ action: 'conflict' });
    expect(audit[0]).toMatchObject({ profile: 'c', fields: ['parameters.temperature'] });
    // a sequential overwrite later is not a conflict
    await b.store.update('c', { parameters: { temperature: 1 } }, ctx);
    await a.store.applyRemoteUpdate('c', fromB.splice(0).at(-1)!.update, peerB);
    expect(await a.store.scalarOverwrites('c')).toHaveLength(1);
  });

  it('a plain Yjs client (like /yjs/:id) edits the same text as an API patch: both edits survive', async () => {
    const fromA = collect(a);
    await a.store.create({ id: 'yjs', ...sample() }, ctx);
    const client = new Y.Doc();
    Y.applyUpdate(client, await a.store.encodeStateAsUpdate('yjs'));
    const sv = Y.encodeStateVector(client);
    const text = client.getMap('profile').get('systemMessage') as Y.Text;
    text.insert(0, '[browser] ');
    (client.getMap('profile').get('templates') as Y.Map<Y.Text>).get('greet')!.insert(0, 'Hi! ');
    await a.store.update('yjs', { systemMessage: `${sample().systemMessage} [api]` }, ctx);
    const r = await a.store.applyRemoteUpdate('yjs', Y.encodeStateAsUpdate(client, sv), { actor: 'carol', origin: 'yjs:tok3' });
    expect(r.applied).toBe(true);
    expect(r.view!.systemMessage).toBe(`[browser] ${sample().systemMessage} [api]`);
    expect(r.view!.templates['greet']).toBe('Hi! Hello {{name}}, how can I help?');
    // the client catches up from the store's durable state and converges
    Y.applyUpdate(client, await a.store.encodeStateAsUpdate('yjs', Y.encodeStateVector(client)));
    expect(text.toString()).toBe(r.view!.systemMessage);
    expect(fromA.at(-1)!.origin).toBe('yjs:tok3');
  });

  it('labels sync: a label set on one node resolves on the other', async () => {
    const fromA = collect(a);
    const v1 = await a.store.create({ id: 'l', ...sample() }, ctx);
    await a.store.update('l', { systemMessage: 'second' }, ctx);
    await a.store.setLabel('l', 'production', v1.version, ctx);
    for (const e of fromA.splice(0)) await b.store.applyRemoteUpdate('l', e.update, peerA);
    const viaB = await b.store.getByLabel('l', 'production');
    expect(viaB.systemMessage).toBe(sample().systemMessage);
    expect(viaB.version).toBe(v1.version);
  });

  it('a version record from a peer must hash to its key: a forged one is refused (PROFILE_INVALID, version-record) and changes nothing, on a new and on a known profile', async () => {
    await a.store.create({ id: 'vr', ...sample() }, ctx);
    const state = await a.store.encodeStateAsUpdate('vr');
    const forge = (base: Uint8Array): { full: Uint8Array; delta: Uint8Array } => {
      const doc = new Y.Doc({ gc: false });
      Y.applyUpdate(doc, base);
      const sv = Y.encodeStateVector(doc);
      const versions = doc.getMap<Record<string, unknown>>('versions');
      const [key, rec] = [...versions.entries()][0]!;
      // the same (valid, decodable) snapshot under another state hash
      const other = (key[0] === 'A' ? 'B' : 'A') + key.slice(1);
      doc.clientID = 4242;
      versions.set(other, { ...rec });
      const out = { full: Y.encodeStateAsUpdate(doc), delta: Y.encodeStateAsUpdate(doc, sv) };
      doc.destroy();
      return out;
    };
    const forged = forge(state);
    const refused = { code: 'PROFILE_INVALID', details: { path: expect.stringMatching(/^versions\./), rule: 'version-record' } };
    // first-time apply (B does not have the profile): refused, nothing created
    await expect(b.store.applyRemoteUpdate('vr', forged.full, peerA)).rejects.toMatchObject(refused);
    expect(b.store.log.head('vr')).toBeUndefined();
    // the genuine state is accepted; then the forged record alone is refused and B's state stays A's
    expect((await b.store.applyRemoteUpdate('vr', state, peerA)).applied).toBe(true);
    const before = b.store.versionHashes().get('vr');
    const seq = b.store.log.head('vr')!.seq;
    await expect(b.store.applyRemoteUpdate('vr', forged.delta, peerA)).rejects.toMatchObject(refused);
    expect(b.store.log.head('vr')!.seq).toBe(seq);
    expect(b.store.versionHashes().get('vr')).toBe(before);
    expect(before).toBe(a.store.versionHashes().get('vr'));
    expect(await b.store.history('vr')).toEqual(await a.store.history('vr'));
  });

  it("a version record with a reason or keys a newer release added is kept and listed as it is (a rolling upgrade does not split); 'open', a malformed reason or key is refused", async () => {
    await a.store.create({ id: 'nr', ...sample() }, ctx);
    const state = await a.store.encodeStateAsUpdate('nr');
    expect((await b.store.applyRemoteUpdate('nr', state, peerA)).applied).toBe(true);
    /** the same record (its snapshot still hashes to its key) with another reason, as a newer peer writes it */
    const withReason = (reason: string, extra: Record<string, unknown> = {}): Uint8Array => {
      const doc = new Y.Doc({ gc: false });
      Y.applyUpdate(doc, state);
      const sv = Y.encodeStateVector(doc);
      const versions = doc.getMap<Record<string, unknown>>('versions');
      const [key, rec] = [...versions.entries()][0]!;
      doc.clientID = 4343;
      versions.set(key, { ...rec, reason, ...extra });
      const delta = Y.encodeStateAsUpdate(doc, sv);
      doc.destroy();
      return delta;
    };
    for (const bad of ['open', 'Not-a-word', 'x'.repeat(33), '']) {
      await expect(b.store.applyRemoteUpdate('nr', withReason(bad), peerA), bad).rejects.toMatchObject({ code: 'PROFILE_INVALID', details: { rule: 'version-record' } });
    }
    const nine = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`k${i}`, i]));
    for (const bad of [{ 'not a key': 1 }, { Upper: 1 }, nine]) {
      await expect(b.store.applyRemoteUpdate('nr', withReason('create', bad), peerA), Object.keys(bad).join()).rejects.toMatchObject({ code: 'PROFILE_INVALID', details: { rule: 'version-record' } });
    }
    expect((await b.store.history('nr')).map((v) => v.reason)).toEqual(['create']);
    expect((await b.store.applyRemoteUpdate('nr', withReason('auto-tune', { parentRef: 'v2.x', weight: { a: 1 } }), peerA)).applied).toBe(true);
    const listed = await b.store.history('nr');
    expect(listed.map((v) => [v.reason, v.summary.split(':')[0]])).toEqual([['auto-tune', 'auto-tune']]);
    const audit = (await b.store.audit({ profile: 'nr' })).filter((r) => r.origin === peerA.origin);
    expect(audit.map((r) => [r.action, (r.details as { reason?: string }).reason])).toContainEqual(['profile.edit', 'auto-tune']);
  });
});
