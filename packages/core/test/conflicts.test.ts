/**
 * Text conflicts and identical creates on real stores (LevelDB in temp dirs), exchanging
 * states the way a /sync digest round does: each side's step 2 (what the other lacks) applied
 * with the sender's state vector as merge context (issue 13).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import type { ProfileView, WriteContext } from '../src/types.js';
import { codeOf, ctx, harness, sample, totalEntries, type Harness } from './helpers.js';

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

const peer = (from: string): WriteContext => ({ actor: `node-${from}`, origin: `peer:${from}` });

/**
 * A full digest exchange of one profile: both step 2s are computed from the states before
 * either side merged (as when both STEP1s cross), then each side merges the other's.
 */
async function exchange(x: Harness, y: Harness, id: string, names = ['a', 'b']): Promise<void> {
  const [svX, svY] = [await x.store.stateVector(id).catch(() => new Uint8Array([0])), await y.store.stateVector(id).catch(() => new Uint8Array([0]))];
  const toY = await x.store.encodeStateAsUpdate(id, svY).catch(() => undefined);
  const toX = await y.store.encodeStateAsUpdate(id, svX).catch(() => undefined);
  if (toY !== undefined) await y.store.applyRemoteUpdate(id, toY, { ...peer(names[0]!), merge: { remoteStateVector: svX } });
  if (toX !== undefined) await x.store.applyRemoteUpdate(id, toX, { ...peer(names[1]!), merge: { remoteStateVector: svY } });
}

/** The same, as live UPDATEs (no merge context). */
async function liveExchange(x: Harness, y: Harness, id: string): Promise<void> {
  const [svX, svY] = [await x.store.stateVector(id), await y.store.stateVector(id)];
  const toY = await x.store.encodeStateAsUpdate(id, svY);
  const toX = await y.store.encodeStateAsUpdate(id, svX);
  await y.store.applyRemoteUpdate(id, toY, peer('a'));
  await x.store.applyRemoteUpdate(id, toX, peer('b'));
}

const SYSTEM = 'You write clean code.';
const OURS = 'You write code. Always add tests.';
const THEIRS = 'You write clean, readable code.';

async function diverged(id = 'p'): Promise<void> {
  await a.store.create({ id, ...sample({ systemMessage: SYSTEM }) }, ctx);
  await exchange(a, b, id);
  expect((await b.store.get(id)).systemMessage).toBe(SYSTEM);
  await a.store.update(id, { systemMessage: OURS }, { actor: 'ann', origin: 'api:t1' });
  await b.store.update(id, { systemMessage: THEIRS }, { actor: 'bo', origin: 'api:t2' });
}

const plain = (v: ProfileView) => {
  const { updatedAt: _a, updatedBy: _b, ...rest } = v;
  return rest;
};

describe('text conflicts', () => {
  it('apart edits of the system message: the garble is reported on both nodes as one record, the merged text stays', async () => {
    await diverged();
    await exchange(a, b, 'p');
    const va = await a.store.get('p');
    const vb = await b.store.get('p');
    expect(plain(va)).toEqual(plain(vb));
    expect(va.systemMessage).not.toBe(OURS);
    expect(va.systemMessage).not.toBe(THEIRS);
    expect(va.conflicts).toBe(1);
    const ca = await a.store.conflicts('p');
    const cb = await b.store.conflicts('p');
    expect(ca).toHaveLength(1);
    expect(ca.map((c) => c.id)).toEqual(cb.map((c) => c.id));
    expect(ca[0]).toMatchObject({ field: 'systemMessage', kind: 'text', status: 'open', base: SYSTEM, merged: va.systemMessage });
    expect([ca[0]!.ours, ca[0]!.theirs].sort()).toEqual([OURS, THEIRS].sort());
    // the detecting node's own text is "ours"
    const recA = ca[0]!;
    expect(recA.ours).toBe(recA.node === cb[0]!.node ? recA.ours : recA.ours);
    const audit = await a.store.audit({ action: 'conflict.detected' });
    expect(audit[0]).toMatchObject({ profile: 'p', fields: ['systemMessage'], details: { conflict: recA.id, kind: 'text' } });
  });

  it('the same apart edits merged as live updates are not reported (live co-editing is never checked)', async () => {
    await diverged();
    await liveExchange(a, b, 'p');
    expect((await a.store.get('p')).conflicts).toBe(0);
    expect(await a.store.conflicts('p')).toEqual([]);
  });

  it('a fast-forward and apart edits of different fields are clean', async () => {
    await a.store.create({ id: 'p', ...sample({ systemMessage: SYSTEM }) }, ctx);
    await exchange(a, b, 'p');
    await a.store.update('p', { systemMessage: OURS }, ctx);
    await exchange(a, b, 'p');
    await a.store.update('p', { systemMessage: `${OURS} Be kind.` }, ctx);
    await b.store.update('p', { description: 'a strict reviewer', templates: { greet: 'Hi {{name}}' } }, ctx);
    await exchange(a, b, 'p');
    expect((await b.store.get('p')).systemMessage).toBe(`${OURS} Be kind.`);
    expect((await a.store.get('p')).description).toBe('a strict reviewer');
    expect((await a.store.get('p')).conflicts).toBe(0);
    expect((await b.store.get('p')).conflicts).toBe(0);
  });

  it('resolve keep ours: a new version that closes the record on every node', async () => {
    await diverged();
    await exchange(a, b, 'p');
    const [c] = await a.store.conflicts('p');
    const r = await a.store.resolveConflict('p', c!.id, { keep: 'ours' }, { actor: 'ann', origin: 'api:t1' });
    expect(r.view.systemMessage).toBe(c!.ours);
    expect(r.view.conflicts).toBe(0);
    expect(r.conflict).toMatchObject({ id: c!.id, status: 'resolved', resolvedBy: 'ann', resolution: { keep: 'ours', value: c!.ours } });
    const h = await a.store.history('p');
    expect(h[0]).toMatchObject({ reason: 'resolve', fields: ['systemMessage'] });
    expect(await a.store.audit({ action: 'conflict.resolve' })).toEqual([expect.objectContaining({ profile: 'p', actor: 'ann', details: expect.objectContaining({ conflict: c!.id, keep: 'ours' }) })]);
    await exchange(a, b, 'p');
    const vb = await b.store.get('p');
    expect(vb.systemMessage).toBe(c!.ours);
    expect(vb.conflicts).toBe(0);
    expect((await b.store.conflicts('p'))[0]).toMatchObject({ id: c!.id, status: 'resolved' });
    // resolving again is refused, anywhere
    expect(await codeOf(b.store.resolveConflict('p', c!.id, { keep: 'theirs' }, ctx))).toBe('CONFLICT_RESOLVED');
  });

  it('rendering the current state warns while conflicts are open; a label or version before the merge does not; resolved: no warning', async () => {
    await diverged();
    await a.store.setLabel('p', 'production', '@1', ctx);
    await exchange(a, b, 'p');
    const open = (await a.store.get('p')).conflicts;
    expect(open).toBeGreaterThan(0);
    expect((await a.store.render('p', {})).warnings).toEqual([{ code: 'RENDER_OPEN_CONFLICTS', conflicts: open }]);
    expect((await b.store.render('p', {})).warnings).toEqual([{ code: 'RENDER_OPEN_CONFLICTS', conflicts: open }]);
    expect((await a.store.render('p', {}, { label: 'production' })).warnings).toEqual([]);
    expect((await a.store.render('p', {}, { version: '@1' })).warnings).toEqual([]);
    for (const c of await a.store.conflicts('p')) await a.store.resolveConflict('p', c.id, { keep: 'ours' }, ctx);
    expect((await a.store.render('p', {})).warnings).toEqual([]);
  });

  it('a resolve version says what was kept for which field, even when the content did not move (keep merged)', async () => {
    await diverged();
    await exchange(a, b, 'p');
    const [c] = await a.store.conflicts('p');
    const r = await a.store.resolveConflict('p', c!.id, { keep: 'merged' }, { actor: 'ann', origin: 'api:t1' });
    expect(r.view.systemMessage).toBe(c!.merged);
    const [v] = await a.store.history('p');
    // the text is the same (fields: none changed), the history still reads as what happened
    expect(v).toMatchObject({ reason: 'resolve', fields: [], message: `kept merged for systemMessage (conflict ${c!.id})` });
    await exchange(a, b, 'p');
    expect((await b.store.history('p'))[0]).toMatchObject({ reason: 'resolve', message: `kept merged for systemMessage (conflict ${c!.id})` });
  });

  it('two nodes resolving at once (apart, differently) end in one state with the conflict closed everywhere', async () => {
    await diverged();
    await exchange(a, b, 'p');
    const [c] = await a.store.conflicts('p');
    await a.store.resolveConflict('p', c!.id, { keep: 'ours' }, ctx);
    await b.store.resolveConflict('p', c!.id, { keep: 'value', value: 'You write tested code.' }, ctx);
    await exchange(a, b, 'p');
    const va = await a.store.get('p');
    const vb = await b.store.get('p');
    expect(plain(va)).toEqual(plain(vb));
    expect([c!.ours, 'You write tested code.']).toContain(va.systemMessage);
    expect(va.conflicts).toBe(0);
    const la = await a.store.conflicts('p');
    expect(la).toEqual(await b.store.conflicts('p'));
    expect(la.map((x) => x.status)).toEqual(['resolved']);
    // the resolution that won is the one whose value the profile holds
    expect(la[0]!.resolution!.value).toBe(va.systemMessage);
  });

  it('an edit made apart from a resolution is not lost silently: it is a new conflict', async () => {
    await diverged();
    await exchange(a, b, 'p');
    const [c] = await a.store.conflicts('p');
    await a.store.resolveConflict('p', c!.id, { keep: 'merged' }, ctx);
    const merged = (await a.store.get('p')).systemMessage;
    await b.store.update('p', { systemMessage: `${merged} Extra.` }, ctx);
    await exchange(a, b, 'p');
    const list = await a.store.conflicts('p');
    expect(list.filter((x) => x.status === 'open')).toEqual([expect.objectContaining({ field: 'systemMessage', base: merged })]);
    expect(list.find((x) => x.status === 'open')!.theirs ?? list.find((x) => x.status === 'open')!.ours).toBeDefined();
    expect([list[0]!.ours, list[0]!.theirs]).toContain(`${merged} Extra.`);
  });

  it('a template deleted on one side and edited on the other: reported, and keeping the edit restores it', async () => {
    await a.store.create({ id: 'p', ...sample() }, ctx);
    await exchange(a, b, 'p');
    await a.store.update('p', { templates: { greet: null } }, ctx);
    await b.store.update('p', { templates: { greet: 'Hello {{name}}! Welcome back.' } }, ctx);
    await exchange(a, b, 'p');
    const [c] = await a.store.conflicts('p');
    expect(c).toMatchObject({ field: 'templates.greet', kind: 'text', merged: null });
    const keep = c!.ours === null ? 'theirs' : 'ours';
    const r = await a.store.resolveConflict('p', c!.id, { keep }, ctx);
    expect(r.view.templates['greet']).toBe('Hello {{name}}! Welcome back.');
    await exchange(a, b, 'p');
    expect((await b.store.get('p')).templates['greet']).toBe('Hello {{name}}! Welcome back.');
  });

  it('a message deleted on one side and edited on the other comes back with its role and place', async () => {
    const messages = [
      { id: 'm1', role: 'user' as const, content: 'Summarise {{doc}}.' },
      { id: 'm2', role: 'assistant' as const, content: 'Sure.' },
    ];
    await a.store.create({ id: 'p', ...sample({ messages }) }, ctx);
    await exchange(a, b, 'p');
    await a.store.update('p', { messages: [messages[1]] }, ctx);
    await b.store.update('p', { messages: [{ ...messages[0]!, content: 'Summarise {{doc}} in 3 bullets.' }, messages[1]] }, ctx);
    await exchange(a, b, 'p');
    const [c] = await b.store.conflicts('p');
    expect(c).toMatchObject({ field: 'messages.m1.content', kind: 'text', merged: null });
    const keep = c!.ours === null ? 'theirs' : 'ours';
    const r = await b.store.resolveConflict('p', c!.id, { keep }, ctx);
    expect(r.view.messages).toEqual([{ id: 'm1', role: 'user', content: 'Summarise {{doc}} in 3 bullets.' }, messages[1]]);
  });

  it('atomic values set apart are reported and resolvable with a value', async () => {
    await a.store.create({ id: 'p', ...sample() }, ctx);
    await exchange(a, b, 'p');
    await a.store.update('p', { parameters: { temperature: 0.2 } }, ctx);
    await b.store.update('p', { parameters: { temperature: 1.1 } }, ctx);
    await exchange(a, b, 'p');
    const [c] = await a.store.conflicts('p');
    expect(c).toMatchObject({ field: 'parameters.temperature', kind: 'scalar', base: 0.7 });
    expect([c!.ours, c!.theirs].sort()).toEqual([0.2, 1.1]);
    // a value the schema refuses changes nothing
    const before = totalEntries(a.store.log);
    expect(await codeOf(a.store.resolveConflict('p', c!.id, { keep: 'value', value: 9 }, ctx))).toBe('PROFILE_INVALID');
    expect(totalEntries(a.store.log)).toBe(before);
    expect((await a.store.conflicts('p'))[0]!.status).toBe('open');
    const r = await a.store.resolveConflict('p', c!.id, { keep: 'value', value: 0.5 }, ctx);
    expect(r.view.parameters.temperature).toBe(0.5);
  });

  it('bad resolutions get stable codes and change nothing', async () => {
    await diverged();
    await exchange(a, b, 'p');
    const [c] = await a.store.conflicts('p');
    const before = totalEntries(a.store.log);
    expect(await codeOf(a.store.resolveConflict('p', 'AAAAAAAAAAAAAAAA', { keep: 'ours' }, ctx))).toBe('CONFLICT_NOT_FOUND');
    expect(await codeOf(a.store.resolveConflict('p', '../x', { keep: 'ours' }, ctx))).toBe('CONFLICT_NOT_FOUND');
    expect(await codeOf(a.store.resolveConflict('p', c!.id, { keep: 'mine' } as never, ctx))).toBe('PROFILE_INVALID');
    expect(await codeOf(a.store.resolveConflict('p', c!.id, { keep: 'value' }, ctx))).toBe('PROFILE_INVALID');
    expect(await codeOf(a.store.resolveConflict('p', c!.id, { keep: 'ours', value: 'x' }, ctx))).toBe('PROFILE_INVALID');
    expect(await codeOf(a.store.resolveConflict('p', c!.id, { keep: 'value', value: 42 }, ctx))).toBe('PROFILE_INVALID');
    expect(await codeOf(a.store.resolveConflict('nope', c!.id, { keep: 'ours' }, ctx))).toBe('PROFILE_NOT_FOUND');
    expect(totalEntries(a.store.log)).toBe(before);
    expect((await a.store.get('p')).conflicts).toBe(1);
  });

  it('records survive a restart and a rebuild from the log', async () => {
    await diverged();
    await exchange(a, b, 'p');
    const list = await a.store.conflicts('p');
    await a.reopen();
    expect(await a.store.conflicts('p')).toEqual(list);
    expect((await a.store.get('p')).conflicts).toBe(1);
  });
});

describe('identical creates', () => {
  const input = sample({ systemMessage: 'You are a careful assistant.', messages: [{ role: 'user', content: 'Check {{input}}.' }], parameters: { temperature: 0.3, tools: [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object' } } }] } });

  it('two nodes creating the same id with the same content end with it once: no doubling, no conflict', async () => {
    await a.store.create({ id: 'twin', ...input }, ctx);
    await b.store.create({ id: 'twin', ...input }, { actor: 'bo', origin: 'api:t2' });
    expect(Y.encodeStateVector).toBeDefined();
    await exchange(a, b, 'twin');
    const va = await a.store.get('twin');
    const vb = await b.store.get('twin');
    expect(va.systemMessage).toBe('You are a careful assistant.');
    expect(va.messages).toHaveLength(1);
    expect(va.parameters.tools).toHaveLength(1);
    expect(plain(va)).toEqual(plain(vb));
    expect(va.conflicts).toBe(0);
    expect(await a.store.conflicts('twin')).toEqual([]);
  });

  it('the same export imported on two nodes, then peered: no doubling', async () => {
    await a.store.create({ id: 'src', ...input }, ctx);
    const exported = JSON.parse(JSON.stringify(await a.store.exportJson(['src']))) as unknown[];
    const c = await harness();
    try {
      await b.store.importJson(exported, ctx);
      await c.store.importJson(exported, ctx);
      await exchange(b, c, 'src');
      const v = await b.store.get('src');
      expect(v.systemMessage).toBe('You are a careful assistant.');
      expect(v.messages.map((m) => m.content)).toEqual(['Check {{input}}.']);
      expect(v.conflicts).toBe(0);
      expect(plain(v)).toEqual(plain(await c.store.get('src')));
      // and the node the export came from joins without doubling either
      await exchange(a, b, 'src');
      expect((await a.store.get('src')).systemMessage).toBe('You are a careful assistant.');
      expect((await a.store.get('src')).conflicts).toBe(0);
    } finally {
      await c.close();
    }
  });

  it('a node seeded from an export of an edited profile, then peered: no doubling', async () => {
    await a.store.create({ id: 'seed', ...input }, ctx);
    await a.store.update('seed', { systemMessage: 'You are a careful, kind assistant.' }, ctx);
    const exported = JSON.parse(JSON.stringify(await a.store.exportJson(['seed']))) as unknown[];
    await b.store.importJson(exported, ctx);
    await exchange(a, b, 'seed');
    const va = await a.store.get('seed');
    expect(va.systemMessage).toBe('You are a careful, kind assistant.');
    expect(plain(va)).toEqual(plain(await b.store.get('seed')));
    expect(va.conflicts).toBe(0);
  });

  it('different content under one id created apart: one create conflict with both whole sides; keeping one side restores it', async () => {
    await a.store.create({ id: 'twin', ...input }, ctx);
    await b.store.create({ id: 'twin', ...input, systemMessage: 'You are a terse assistant.', parameters: { temperature: 0.9 } }, ctx);
    await exchange(a, b, 'twin');
    const va = await a.store.get('twin');
    expect(plain(va)).toEqual(plain(await b.store.get('twin')));
    // each text is one side's, whole (not the two interleaved)
    expect(['You are a careful assistant.', 'You are a terse assistant.']).toContain(va.systemMessage);
    const list = await a.store.conflicts('twin');
    expect(list).toHaveLength(1);
    const c = list[0]!;
    expect(c).toMatchObject({ kind: 'create', field: '', status: 'open', base: null });
    const sides = [c.ours, c.theirs] as Record<string, unknown>[];
    expect(sides.map((s) => s['systemMessage']).sort()).toEqual(['You are a careful assistant.', 'You are a terse assistant.']);
    const terse = c.ours !== null && (c.ours as Record<string, unknown>)['systemMessage'] === 'You are a terse assistant.' ? 'ours' : 'theirs';
    const r = await a.store.resolveConflict('twin', c.id, { keep: terse }, ctx);
    expect(r.view.systemMessage).toBe('You are a terse assistant.');
    expect(r.view.parameters).toEqual({ temperature: 0.9 });
    expect(r.view.conflicts).toBe(0);
    await exchange(a, b, 'twin');
    expect(plain(await b.store.get('twin'))).toEqual(plain(r.view));
  });
});
