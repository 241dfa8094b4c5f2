/**
 * A malicious but authenticated peer, at the engine (real store in a temp dir; the link only
 * records what the engine sends): what it makes the node hold stays bounded.
 */
import { rm } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '@profilesync/core';
import { encodeMessage, MessageType, STEP1_REPLY, SyncEngine, SyncHub, type EngineLink } from '../src/index.js';
import { SyncEmitter, silentLogger } from '../src/events.js';
import { tempDir, until, type Store } from './helpers.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0)) await f();
});

async function engine(limits: { maxMergeContextBytes?: number; maxInflightBytes?: number } = {}, wrap: (s: Store) => Store = (s) => s): Promise<{ engine: SyncEngine; store: Store; sent: Uint8Array[]; failed: string[] }> {
  const dir = await tempDir();
  const real = await openStore({ dir });
  const store = wrap(real);
  cleanup.push(async () => {
    await real.close();
    await rm(dir, { recursive: true, force: true });
  });
  const hub = new SyncHub(store);
  const sent: Uint8Array[] = [];
  const failed: string[] = [];
  const link: EngineLink = {
    send: (m, flushed) => {
      sent.push(m);
      flushed?.();
    },
    bufferedBytes: () => 0,
    waitBuffered: async () => undefined,
    fail: (code) => failed.push(code),
  };
  const e = new SyncEngine({
    store, digest: hub.digest, peerId: 'evil', fingerprint: 'evil', link, events: new SyncEmitter(), logger: silentLogger,
    limits: { queueBytes: 8 << 20, maxInflightApplies: 64, roundTimeoutMs: 60_000, autoRounds: 0, ...limits },
  });
  cleanup.push(async () => e.stop());
  return { engine: e, store, sent, failed };
}

describe('merge contexts a peer makes the node hold', () => {
  it('STEP1s announcing STEP2s that never come hold at most maxMergeContextBytes of state vectors; the session goes on', async () => {
    const { engine: e, sent, failed } = await engine({ maxMergeContextBytes: 64 * 1024 });
    const sv = new Uint8Array(1024).fill(7); // never decoded: the node has none of these profiles
    for (let i = 0; i < 1000; i++) {
      // a pull with a hash the node does not have: the node pulls back and keeps the state vector for the STEP2
      e.receive(encodeMessage({ type: MessageType.STEP1, id: `fake-${i}`, stateVector: sv, hash: 'x', flags: 0 }));
      // a REPLY step 1 announces a STEP2 as well
      e.receive(encodeMessage({ type: MessageType.STEP1, id: `reply-${i}`, stateVector: sv, hash: 'y', flags: STEP1_REPLY }));
    }
    await e.idle();
    const d = e.debugState();
    // before: every one of the 2000 state vectors (2 MB) was held until the session ended
    expect(d['mergeContextBytes']).toBeLessThanOrEqual(64 * 1024);
    expect(d['mergeContexts']).toBeLessThanOrEqual(64);
    expect(failed).toEqual([]);
    // every step 1 was answered (a STEP2 each), so the peer was not cut off
    expect(sent.filter((m) => m[0] === MessageType.STEP2)).toHaveLength(2000);
  });

  it('a STEP2 consumes its context: a peer that answers keeps nothing held', async () => {
    const { engine: e, failed } = await engine();
    const sv = new Uint8Array([0]);
    for (let i = 0; i < 50; i++) {
      e.receive(encodeMessage({ type: MessageType.STEP1, id: `p-${i}`, stateVector: sv, hash: 'x', flags: 0 }));
    }
    await e.idle();
    expect(e.debugState()['mergeContexts']).toBe(50);
    for (let i = 0; i < 50; i++) e.receive(encodeMessage({ type: MessageType.STEP2, id: `p-${i}`, update: new Uint8Array(0) }));
    await e.idle();
    expect(e.debugState()).toMatchObject({ mergeContexts: 0, mergeContextBytes: 0, outstanding: [] });
    expect(failed).toEqual([]);
  });
});

describe('store applies a peer keeps in flight', () => {
  it('are bounded by bytes as well as by count: big updates wait for earlier applies', async () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    // the real store, its applies held at a gate (a slow disk) so the engine's bound shows
    const held = (s: Store): Store => new Proxy(s, {
      get(target, prop, receiver) {
        if (prop === 'applyRemoteUpdate') return async (...args: Parameters<Store['applyRemoteUpdate']>) => gate.then(() => target.applyRemoteUpdate(...args));
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const { engine: e } = await engine({ maxInflightBytes: 1024 * 1024 }, held);
    const update = new Uint8Array(256 * 1024).fill(1);
    for (let i = 0; i < 10; i++) e.receive(encodeMessage({ type: MessageType.UPDATE, id: `u-${i}`, update }));
    await until(() => (e.debugState()['inflight'] as number) >= 4, 5_000, 'applies in flight');
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    // before: all 10 (2.5 MiB) were in flight at once; only maxInflightApplies (256) bounded them
    expect(e.debugState()['inflight']).toBe(4);
    expect(e.debugState()['inflightBytes']).toBe(1024 * 1024);
    open();
    // (the bytes are not Yjs updates: the store refuses the first and the session ends; every apply still settles)
    await until(() => e.debugState()['inflightBytes'] === 0, 5_000, 'applies settled');
  });
});
