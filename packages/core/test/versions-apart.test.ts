/**
 * Versions of edits made while two nodes were apart (docs/profile-model.md §5): each node's run
 * is a version of its own, closed at that node's own last state with its own actor, never the
 * merged state; a run left open by a stop is closed at the state it left, whatever a peer sends
 * first. Real stores (LevelDB in temp dirs) exchanging states as a /sync digest round does (each
 * side's step 2 applied with the sender's state vector as merge context); a manual clock.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { VersionInfo, WriteContext } from '../src/types.js';
import { ctx, harness, manualClock, sample, type Harness } from './helpers.js';

const IDLE = 60_000; // runs close only when the test says so (flushVersions) or a merge closes them
const clock = manualClock();
let a: Harness;
let b: Harness;
beforeEach(async () => {
  a = await harness({ nodeId: 'A', clock: clock.now, versions: { idleMs: IDLE } });
  b = await harness({ nodeId: 'B', clock: clock.now, versions: { idleMs: IDLE } });
});
afterEach(async () => {
  await a.close();
  await b.close();
});

const peer = (from: string): WriteContext => ({ actor: `node-${from}`, origin: `peer:${from}` });
const ann: WriteContext = { actor: 'ann', origin: 'api:t1' };
const bo: WriteContext = { actor: 'bo', origin: 'api:t2' };

/** A digest exchange: both step 2s computed before either side merged, then each side merges. */
async function exchange(x: Harness, y: Harness, id: string, names = ['A', 'B']): Promise<void> {
  const [svX, svY] = [await x.store.stateVector(id), await y.store.stateVector(id)];
  const toY = await x.store.encodeStateAsUpdate(id, svY).catch(() => undefined); // undefined: x does not have it
  const toX = await y.store.encodeStateAsUpdate(id, svX).catch(() => undefined);
  if (toY !== undefined) await y.store.applyRemoteUpdate(id, toY, { ...peer(names[0]!), merge: { remoteStateVector: svX } });
  if (toX !== undefined) await x.store.applyRemoteUpdate(id, toX, { ...peer(names[1]!), merge: { remoteStateVector: svY } });
}

const closedOf = (h: VersionInfo[]) => h.filter((v) => v.open !== true).map(({ ref, version, at, actors, node, reason, fields }) => ({ ref, version, at, actors, node, reason, fields }));

describe('versions of edits made apart', () => {
  it("a run left open by a stop and a peer's run made meanwhile are two versions, each at its own node's last state", async () => {
    await a.store.create({ id: 'p3', ...sample({ systemMessage: 'Base.' }) }, ctx);
    await exchange(a, b, 'p3');
    clock.advance(6000);
    // B is down; A edits and stops before its run closes
    await a.store.update('p3', { systemMessage: 'Base. From A.' }, ann);
    const aState = (await a.store.get('p3')).version;
    const aAt = clock.now();
    await a.store.close();
    clock.advance(1000);
    // B edits while A is down
    await b.store.update('p3', { systemMessage: 'Base. From B.', parameters: { temperature: 0.2 } }, bo);
    const bState = (await b.store.get('p3')).version;
    const bAt = clock.now();
    clock.advance(1000);
    // A starts again (its run still open) and syncs with B
    await a.reopen();
    await exchange(a, b, 'p3');
    clock.advance(1000);
    await a.store.flushVersions();
    await b.store.flushVersions();
    await exchange(a, b, 'p3'); // the version records cross
    const ha = await a.store.history('p3');
    const hb = await b.store.history('p3');
    const expected = [
      { ref: '@3', version: bState, at: new Date(bAt).toISOString(), actors: ['bo'], node: 'B', reason: 'merge', fields: ['parameters.temperature', 'systemMessage'] },
      { ref: '@2', version: aState, at: new Date(aAt).toISOString(), actors: ['ann'], node: 'A', reason: 'startup', fields: ['systemMessage'] },
      { ref: '@1', version: expect.any(String), at: expect.any(String), actors: ['alice'], node: 'A', reason: 'create', fields: expect.any(Array) },
    ];
    expect(closedOf(ha)).toEqual(expected);
    // invariant 6: converged nodes list the same versions
    expect(closedOf(hb)).toEqual(closedOf(ha));
    // every version can be read back, and reverted to
    expect((await a.store.getAt('p3', '@2')).systemMessage).toBe('Base. From A.');
    expect((await b.store.getAt('p3', '@3')).systemMessage).toBe('Base. From B.');
    expect((await b.store.getAt('p3', '@3')).parameters.temperature).toBe(0.2);
    // the merged state is no node's run: listed newest, open, with reason 'open', on both nodes
    const va = await a.store.get('p3');
    expect(va).toMatchObject({ conflicts: 1, version: (await b.store.get('p3')).version });
    expect(ha[0]).toMatchObject({ ref: '@4', version: va.version, open: true, reason: 'open' });
    expect(hb[0]).toMatchObject({ ref: '@4', version: va.version, open: true, reason: 'open' });
  });

  it('a run open on both nodes when they meet: each closes before the merge (reason merge), none absorbs the other', async () => {
    await a.store.create({ id: 'p', ...sample() }, ctx);
    await exchange(a, b, 'p');
    clock.advance(6000);
    await a.store.update('p', { description: 'from A' }, ann);
    const aState = (await a.store.get('p')).version;
    clock.advance(100);
    await b.store.update('p', { name: 'from B' }, bo);
    const bState = (await b.store.get('p')).version;
    clock.advance(100);
    await exchange(a, b, 'p');
    await exchange(a, b, 'p');
    const ha = closedOf(await a.store.history('p'));
    expect(ha.map((v) => [v.ref, v.version, v.node, v.actors, v.reason, v.fields])).toEqual([
      ['@3', bState, 'B', ['bo'], 'merge', ['name']],
      ['@2', aState, 'A', ['ann'], 'merge', ['description']],
      ['@1', expect.any(String), 'A', ['alice'], 'create', expect.any(Array)],
    ]);
    expect(closedOf(await b.store.history('p'))).toEqual(ha);
    // nothing is left open: a further flush closes nothing, the merge stays uncovered
    expect(await a.store.flushVersions()).toBe(0);
    expect(await b.store.flushVersions()).toBe(0);
    expect((await a.store.get('p')).version).toBe((await b.store.get('p')).version);
  });

  it("a run left open by a stop is closed at the state it left when a peer's live update arrives first; both nodes audit it", async () => {
    await a.store.create({ id: 'p', ...sample() }, ctx);
    await exchange(a, b, 'p');
    clock.advance(6000);
    await a.store.update('p', { description: 'from A' }, ann);
    const aState = (await a.store.get('p')).version;
    await a.store.close();
    await b.store.update('p', { name: 'from B' }, bo);
    const fromB = await b.store.encodeStateAsUpdate('p');
    await a.reopen();
    // a live UPDATE (no merge context) goes through the live pipeline
    await a.store.applyRemoteUpdate('p', fromB, peer('B'));
    const ha = closedOf(await a.store.history('p'));
    expect(ha.map((v) => [v.ref, v.version, v.node, v.actors, v.reason, v.fields])).toEqual([
      ['@2', aState, 'A', ['ann'], 'startup', ['description']],
      ['@1', expect.any(String), 'A', ['alice'], 'create', expect.any(Array)],
    ]);
    expect((await a.store.get('p')).name).toBe('from B');
    // B's run meets A's changes in the next digest round: closed at B's state (merge)
    await exchange(a, b, 'p');
    await exchange(a, b, 'p');
    expect(await b.store.flushVersions()).toBe(0);
    expect(closedOf(await b.store.history('p'))).toEqual(closedOf(await a.store.history('p')));
    // one profile.edit per version on each node: its own when it closed it, the peer's when it arrived
    const edits = async (h: Harness) => (await h.store.audit({ action: 'profile.edit' })).map((r) => [r.actor, (r.details as { reason: string }).reason]).sort();
    expect(await edits(a)).toEqual([['ann', 'startup'], ['bo', 'merge']]);
    expect(await edits(b)).toEqual(await edits(a));
  });

  it('a run keeps going through a merge that brings it nothing new', async () => {
    await a.store.create({ id: 'p', ...sample() }, ctx);
    await exchange(a, b, 'p');
    await a.store.update('p', { description: 'one' }, ann);
    await exchange(a, b, 'p'); // A's change reaches B; B has nothing A lacks
    await a.store.update('p', { description: 'two' }, ann);
    expect(await a.store.flushVersions()).toBe(1);
    const ha = closedOf(await a.store.history('p'));
    expect(ha.map((v) => [v.ref, v.actors, v.reason, v.fields])).toEqual([
      ['@2', ['ann'], 'idle', ['description']],
      ['@1', ['alice'], 'create', expect.any(Array)],
    ]);
  });
});
