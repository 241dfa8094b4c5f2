/**
 * A malicious but authenticated peer, at the engine (real store in a temp dir; the link only
 * records what the engine sends): what it makes the node hold stays bounded.
 */
import { rm } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '@profilesync/core';
import { encodeMessage, MessageType, STEP1_REPLY, SyncEngine, SyncHub, type EngineLink } from '../src/index.js';
import { SyncEmitter, silentLogger } from '../src/events.js';
import { tempDir, type Store } from './helpers.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0)) await f();
});

async function engine(limits: { maxMergeContextBytes?: number } = {}): Promise<{ engine: SyncEngine; store: Store; sent: Uint8Array[]; failed: string[] }> {
  const dir = await tempDir();
  const store = await openStore({ dir });
  cleanup.push(async () => {
    await store.close();
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
