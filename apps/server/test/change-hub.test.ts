/**
 * The change hub's ordering rules, driven step by step: a change is released only after every
 * earlier committed profile change (by lsn), even when the views arrive in another order;
 * changes released together are merged per profile; a change whose view never arrives is read
 * from the store after stallMs. Plus the pure helpers (positions, kinds). The hub on a real
 * node is covered by changes.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { ChangeHub, changeKinds, formatPosition, parsePosition, type FeedChange, type HubLog, type HubStore, type ViewLike } from '../src/changes/hub.js';

function scripted() {
  const appended = new Set<(e: { stream: string; seq: number; lsn: number }) => void>();
  const changed = new Set<(e: { id: string; seq: number; view: ViewLike }) => void>();
  const written = new Set<(e: { id: string; seq: number; action: string }) => void>();
  const views = new Map<string, ViewLike>();
  const heads = new Map<string, { lsn: number; ts: number }>();
  let lastLsn = 0;
  const log: HubLog = {
    on: (_e, l) => {
      appended.add(l);
      return () => appended.delete(l);
    },
    head: (s) => heads.get(s),
    streams: () => [...heads.keys()],
    info: () => ({ lastLsn, createdAt: 1_700_000_000_000 }),
  };
  const store: HubStore = {
    subscribe: (l) => {
      changed.add(l);
      return () => changed.delete(l);
    },
    on: (_e, l) => {
      written.add(l);
      return () => written.delete(l);
    },
    exportJson: async (ids) => (ids ?? [...views.keys()]).flatMap((id) => (views.has(id) ? [views.get(id)!] : [])),
  };
  const view = (id: string, version: string, labels: Record<string, string> = {}, deleted = false): ViewLike => ({ id, version, labels, deleted });
  return {
    log,
    store,
    view,
    commit(stream: string, seq: number) {
      lastLsn++;
      heads.set(stream, { lsn: lastLsn, ts: lastLsn });
      for (const l of appended) l({ stream, seq, lsn: lastLsn });
      return lastLsn;
    },
    notify(id: string, seq: number, v: ViewLike, action = 'update') {
      views.set(id, v);
      for (const l of written) l({ id, seq, action });
      for (const l of changed) l({ id, seq, view: v });
    },
    setView(v: ViewLike) {
      views.set(v.id, v);
    },
  };
}

const turn = () => new Promise((r) => setImmediate(r));

describe('ChangeHub', () => {
  it('releases in lsn order even when views arrive out of order', async () => {
    const s = scripted();
    const hub = await ChangeHub.open(s.log, s.store);
    const batches: FeedChange[][] = [];
    hub.subscribe((b) => batches.push([...b]));
    s.commit('a', 1);
    s.commit('b', 1);
    s.notify('b', 1, s.view('b', 'vb1')); // b's view first: must wait for a
    await turn();
    await turn();
    expect(batches).toEqual([]);
    expect(hub.pending).toBe(2);
    s.notify('a', 1, s.view('a', 'va1'));
    await turn();
    expect(batches.map((b) => b.map((c) => [c.data.id, c.lsn]))).toEqual([[['a', 1], ['b', 2]]]);
    expect(hub.position).toBe(2);
    hub.close();
  });

  it('merges one turn of changes per profile, keeping lsn order of the latest', async () => {
    const s = scripted();
    const hub = await ChangeHub.open(s.log, s.store);
    const batches: FeedChange[][] = [];
    hub.subscribe((b) => batches.push([...b]));
    s.commit('a', 1);
    s.commit('b', 1);
    s.commit('a', 2);
    s.notify('a', 1, s.view('a', 'va1'));
    s.notify('b', 1, s.view('b', 'vb1'));
    s.notify('a', 2, s.view('a', 'va2', { prod: 'va1' }));
    await turn();
    expect(batches[0]!.map((c) => [c.data.id, c.lsn, c.data.version])).toEqual([
      ['b', 2, 'vb1'],
      ['a', 3, 'va2'],
    ]);
    expect(batches[0]![1]!.kinds).toEqual(['profile.created']);
    // since(): latest per profile after a position, oldest first
    expect(hub.since(0).map((c) => c.data.id)).toEqual(['b', 'a']);
    expect(hub.since(2).map((c) => c.data.id)).toEqual(['a']);
    expect(hub.since(3)).toEqual([]);
    hub.close();
  });

  it('reads a change whose view never arrives from the store after stallMs', async () => {
    const s = scripted();
    const hub = await ChangeHub.open(s.log, s.store, { stallMs: 20 });
    const stalled: unknown[] = [];
    hub.events.on('stalled-change', (e) => stalled.push(e));
    const got: FeedChange[] = [];
    hub.subscribe((b) => got.push(...b));
    s.commit('lost', 1);
    s.setView(s.view('lost', 'v-lost')); // durable, but no notification
    s.commit('next', 1);
    s.notify('next', 1, s.view('next', 'v-next'));
    while (got.length < 2) await new Promise((r) => setTimeout(r, 5));
    expect(got.map((c) => c.data.id)).toEqual(['lost', 'next']);
    expect(stalled).toMatchObject([{ id: 'lost', lsn: 1 }]);
    hub.close();
  });

  it('opens with the latest state of every profile from the heads and views', async () => {
    const s = scripted();
    s.commit('x', 1);
    s.commit('y', 1);
    s.commit('x', 2);
    s.setView(s.view('x', 'vx2', { prod: 'vx1' }));
    s.setView(s.view('y', 'vy1', {}, true));
    s.commit('#audit', 1);
    const hub = await ChangeHub.open(s.log, s.store);
    expect(hub.position).toBe(4);
    expect(hub.since(0).map((c) => [c.data.id, c.lsn, c.data.deleted, c.kinds])).toEqual([
      ['y', 2, true, undefined],
      ['x', 3, false, undefined],
    ]);
    hub.close();
  });
});

describe('positions and kinds', () => {
  it('parsePosition: own epoch -> lsn; another epoch or past the end -> 0; malformed -> undefined', () => {
    const p = formatPosition('lx2k', 42);
    expect(p).toBe('lx2k-42');
    expect(parsePosition(p, 'lx2k', 100)).toBe(42);
    expect(parsePosition(p, 'other', 100)).toBe(0);
    expect(parsePosition(p, 'lx2k', 41)).toBe(0);
    for (const bad of ['', '42', 'lx2k-', '-42', 'LX2K-1', 'a-b', 'lx2k-1-2', 'lx2k-99999999999999999']) expect(parsePosition(bad, 'lx2k', 100), bad).toBeUndefined();
  });

  it('changeKinds', () => {
    const v = (version: string, labels: Record<string, string> = {}, deleted = false, conflicts = 0) => ({ id: 'p', version, labels, deleted, conflicts });
    expect(changeKinds(undefined, v('1'))).toEqual(['profile.created']);
    expect(changeKinds(v('1'), v('2'))).toEqual(['profile.updated']);
    expect(changeKinds(v('1'), v('1', { prod: '1' }))).toEqual(['label.moved']);
    expect(changeKinds(v('1', { prod: '1' }), v('2', {}))).toEqual(['profile.updated', 'label.moved']);
    expect(changeKinds(v('1'), v('2', {}, true))).toEqual(['profile.deleted']);
    expect(changeKinds(v('1'), v('1'))).toEqual(['profile.updated']);
    // a label move changes the version (labels are part of the state) but not the content
    expect(changeKinds(v('1'), v('2', { prod: '1' }), true)).toEqual(['label.moved']);
    // a merge that found a conflict; a resolution (a new version that closes it)
    expect(changeKinds(v('1'), v('2', {}, false, 1))).toEqual(['profile.updated', 'conflict.opened']);
    expect(changeKinds(v('2', {}, false, 1), v('2', {}, false, 2))).toEqual(['conflict.opened']);
    expect(changeKinds(v('2', {}, false, 2), v('3', {}, false, 1))).toEqual(['profile.updated', 'conflict.resolved']);
  });
});
