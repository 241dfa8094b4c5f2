/**
 * Merge context plumbing (issue 13): a diverged state merged by a digest round's STEP2 or by a
 * /yjs client's sync step 2 reaches store.applyRemoteUpdate with the sender's state vector
 * (ctx.merge); a live UPDATE never does. Real stores in temp dirs; the store is wrapped only
 * to record what each apply was given.
 */
import { rm } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';
import { openStore, type MergeContext, type WriteContext } from '@profilesync/core';
import { ctx, node, sample, tempDir, until, type Store, type TestNode } from './helpers.js';
import { prng, SimNet, SimNode } from './sim.js';

interface Seen {
  id: string;
  origin: string;
  merge: MergeContext | undefined;
  /** the receiver's state vector before this apply */
  localSv: Map<number, number>;
  /** whether the update added anything */
  applied?: boolean;
}

/** The real store, with every applyRemoteUpdate call recorded (arguments only; the store does the work). */
function recording(store: Store, seen: Seen[]): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'applyRemoteUpdate') {
        return async (id: string, update: Uint8Array, c: WriteContext) => {
          const localSv = Y.decodeStateVector(await target.stateVector(id).catch(() => new Uint8Array([0])));
          const s: Seen = { id, origin: c.origin, merge: c.merge, localSv };
          seen.push(s);
          const r = await target.applyRemoteUpdate(id, update, c);
          s.applied = r.applied;
          return r;
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

const svOf = async (s: Store, id: string): Promise<Map<number, number>> => Y.decodeStateVector(await s.stateVector(id));

function covers(big: Map<number, number>, small: Map<number, number>): boolean {
  for (const [c, clock] of small) if ((big.get(c) ?? 0) < clock) return false;
  return true;
}

const dirs: string[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function simPair(): Promise<{ net: SimNet; a: Store; b: Store; seenA: Seen[]; seenB: Seen[] }> {
  const seenA: Seen[] = [];
  const seenB: Seen[] = [];
  const stores: Store[] = [];
  for (const _ of [0, 1]) {
    const dir = await tempDir('merge-ctx-');
    dirs.push(dir);
    stores.push(await openStore({ dir }));
  }
  const [a, b] = stores as [Store, Store];
  cleanups.push(async () => {
    await a.close();
    await b.close();
  });
  const na = new SimNode('a', recording(a, seenA));
  const nb = new SimNode('b', recording(b, seenB));
  cleanups.push(async () => {
    na.hub.close();
    nb.hub.close();
  });
  const net = new SimNet([na, nb], { duplicate: 0, dropResend: 0, window: 1, queueBytes: 1 << 20 }, prng(13));
  return { net, a, b, seenA, seenB };
}

/** Runs digest rounds on the link until one converges (both sides equal). */
async function syncLink(net: SimNet): Promise<void> {
  const ends = net.links[0]!.endpoints!;
  let done = false;
  void Promise.all(ends.map((e) => e.engine.requestSync().promise)).then(() => (done = true));
  expect(await net.pump(() => done)).toBe(true);
  expect(await net.settle()).toBe(true);
}

describe('/sync', () => {
  it('a digest round after apart edits hands each side the other state vector; live updates carry none', async () => {
    const { net, a, b, seenA, seenB } = await simPair();
    const link = net.links[0]!;
    await a.create({ id: 'p', ...sample({ systemMessage: 'You write clean code.' }) }, ctx);
    link.connect();
    await syncLink(net);
    expect((await b.get('p')).systemMessage).toBe('You write clean code.');
    // a live change while connected: an UPDATE, no merge context
    seenB.length = 0;
    await a.update('p', { name: 'live' }, ctx);
    await syncLink(net);
    expect(seenB.filter((s) => s.id === 'p').map((s) => s.merge)).toEqual([undefined]);

    link.partition();
    await a.update('p', { systemMessage: 'You write code. Always add tests.' }, ctx);
    await b.update('p', { systemMessage: 'You write clean, readable code.' }, ctx);
    const svA = await svOf(a, 'p');
    const svB = await svOf(b, 'p');
    seenA.length = 0;
    seenB.length = 0;
    link.connect();
    await syncLink(net);
    const mergedAtA = seenA.filter((s) => s.id === 'p' && s.merge !== undefined && s.applied);
    const mergedAtB = seenB.filter((s) => s.id === 'p' && s.merge !== undefined && s.applied);
    expect(mergedAtA.length).toBeGreaterThan(0);
    expect(mergedAtB.length).toBeGreaterThan(0);
    // the state vector each side was given is the other's (taken before it merged anything)
    expect(covers(Y.decodeStateVector(mergedAtA[0]!.merge!.remoteStateVector), svB)).toBe(true);
    expect(covers(Y.decodeStateVector(mergedAtB[0]!.merge!.remoteStateVector), svA)).toBe(true);
    expect(covers(mergedAtA[0]!.localSv, svB)).toBe(false);
    expect(covers(mergedAtB[0]!.localSv, svA)).toBe(false);
    expect((await a.get('p')).systemMessage).toBe((await b.get('p')).systemMessage);
  });

  it('a profile pushed whole (the receiver lacked it) is merged with the empty state vector', async () => {
    const { net, b, a, seenA } = await simPair();
    await b.create({ id: 'q', ...sample() }, ctx);
    net.links[0]!.connect();
    await syncLink(net);
    const q = seenA.filter((s) => s.id === 'q' && s.applied);
    expect(q.length).toBeGreaterThan(0);
    expect(q.every((s) => s.merge !== undefined && Y.decodeStateVector(s.merge.remoteStateVector).size === 0)).toBe(true);
    expect((await a.get('q')).name).toBe((await b.get('q')).name);
  });
});

describe('/yjs', () => {
  let n: TestNode;
  const providers: WebsocketProvider[] = [];
  afterEach(async () => {
    for (const p of providers.splice(0)) p.destroy();
    await n?.close();
  });

  it("a client's step 2 after offline work carries its state vector; its live updates none", async () => {
    n = await node('y');
    const seen: Seen[] = [];
    await n.store.create({ id: 'bot', ...sample({ systemMessage: 'You write clean code.' }) }, ctx);
    n.start({ store: recording(n.store, seen), authenticate: () => ({ actor: 'erin', tokenId: 'tok', role: 'editor', canRead: () => true, canWrite: () => true }) });
    const doc = new Y.Doc();
    const open = (): WebsocketProvider => {
      const p = new WebsocketProvider(`${n.url}/yjs`, 'bot', doc, { WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket, params: { token: 't' }, disableBc: true });
      providers.push(p);
      return p;
    };
    const p = open();
    await until(() => p.synced);
    const text = (): Y.Text => doc.getMap('profile').get('systemMessage') as Y.Text;
    text().insert(text().length, ' Live.');
    await until(async () => (await n.store.get('bot')).systemMessage.endsWith('Live.'));
    // the first step 2 of a client with nothing of its own adds nothing
    expect(seen.filter((s) => s.merge !== undefined && s.applied)).toEqual([]);
    // offline: the provider is gone, the doc is edited, the node changes too
    p.destroy();
    text().insert(0, 'Offline. ');
    await n.store.update('bot', { name: 'renamed on the node' }, ctx);
    const clientSv = Y.decodeStateVector(Y.encodeStateVector(doc));
    seen.length = 0;
    const q = open();
    await until(async () => q.synced && (await n.store.get('bot')).systemMessage.startsWith('Offline. '));
    const merged = seen.filter((s) => s.merge !== undefined && s.applied);
    expect(merged).toHaveLength(1);
    expect(merged[0]!.origin).toBe('yjs:tok');
    expect(covers(Y.decodeStateVector(merged[0]!.merge!.remoteStateVector), clientSv)).toBe(true);
    text().insert(text().length, ' Again live.');
    await until(async () => (await n.store.get('bot')).systemMessage.endsWith('Again live.'));
    expect(seen.filter((s) => s.merge !== undefined)).toHaveLength(1);
    expect(seen.filter((s) => s.merge === undefined && s.applied).length).toBeGreaterThan(0);
  });
});
