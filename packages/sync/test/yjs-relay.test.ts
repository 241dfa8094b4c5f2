/**
 * /yjs relay before durability (issue 17.1): a live update a client writes reaches the room's
 * other editors once the store has applied and checked it, while the store's log write is still
 * in flight; the store's view, the log and every ack wait for the durable write. A relayed
 * write that then fails to become durable closes every client of the room with a 45xx code:
 * the stock providers reconnect, and their sync step 2 gives the node back what it lacks.
 * A reconnecting client's first step 2 is still checked for conflicts while others type live.
 *
 * Real store (LevelDB in a temp dir); the log's LevelDB is wrapped (the log's wrapDb hook) only
 * to hold or fail its batch writes on demand, as packages/core/test/failure.test.ts does.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';
import { openStore } from '@profilesync/core';
import type { YjsPrincipal } from '../src/index.js';
import { ctx, node, sample, until, type TestNode } from './helpers.js';

const SYSTEM = 'You are a helpful support agent. Answer briefly.';
const editor: YjsPrincipal = { actor: 'erin', tokenId: 'tok-ed', role: 'editor', canRead: () => true, canWrite: () => true };

/** Holds the log's batch writes while `held`; fails the next one when `failNext` (then writes work again). */
class Gate {
  held = false;
  failNext = false;
  /** writes waiting at the gate */
  waiting = 0;
  failed = 0;
  #open: (() => void)[] = [];

  hold(): void {
    this.held = true;
  }

  release(): void {
    this.held = false;
    for (const r of this.#open.splice(0)) r();
  }

  async pass(): Promise<void> {
    if (this.held) {
      this.waiting++;
      await new Promise<void>((r) => this.#open.push(r));
      this.waiting--;
    }
    if (this.failNext) {
      this.failNext = false;
      this.failed++;
      throw new Error('injected write failure');
    }
  }

  wrapDb(): (db: unknown) => unknown {
    const wrapBatch = (batch: object) =>
      new Proxy(batch, {
        get: (target, prop) => {
          const v = Reflect.get(target, prop, target) as unknown;
          if (prop === 'write' && typeof v === 'function') {
            return async (...args: unknown[]) => {
              try {
                await this.pass();
              } catch (err) {
                await (target as { close(): Promise<void> }).close().catch(() => undefined);
                throw err;
              }
              return (v as (...a: unknown[]) => unknown).apply(target, args);
            };
          }
          return typeof v === 'function' ? v.bind(target) : v;
        },
      });
    return (db: unknown): unknown =>
      new Proxy(db as object, {
        get: (target, prop) => {
          const v = Reflect.get(target, prop, target) as unknown;
          if (prop === 'batch' && typeof v === 'function') {
            return (...args: unknown[]) => {
              if (args.length > 0) return this.pass().then(() => (v as (...a: unknown[]) => unknown).apply(target, args));
              return wrapBatch((v as (...a: unknown[]) => unknown).apply(target, args) as object);
            };
          }
          return typeof v === 'function' ? v.bind(target) : v;
        },
      });
  }
}

let a: TestNode;
let gate: Gate;
const providers: WebsocketProvider[] = [];

beforeEach(async () => {
  a = await node('a');
  // the node's store again, on the same dir, with the gated LevelDB
  await a.store.close();
  gate = new Gate();
  a.store = await openStore({ dir: a.dir, wrapDb: gate.wrapDb() as never });
  await a.store.create({ id: 'bot', ...sample({ systemMessage: SYSTEM }) }, ctx);
  a.start({ store: a.store, authenticate: (token) => (token === 'editor-token' ? editor : undefined) });
});
afterEach(async () => {
  gate.release();
  for (const p of providers.splice(0)) p.destroy();
  await a.stopSync();
  await a.store.close();
  await a.close();
});

interface Client {
  doc: Y.Doc;
  p: WebsocketProvider;
  synced: Promise<void>;
  /** close codes the server sent, in order */
  closes: number[];
}

function client(room = 'bot'): Client {
  const doc = new Y.Doc();
  const p = new WebsocketProvider(`${a.url}/yjs`, room, doc, { WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket, params: { token: 'editor-token' }, disableBc: true });
  providers.push(p);
  const closes: number[] = [];
  p.on('connection-close', (e: { code: number } | null) => {
    if (e) closes.push(e.code);
  });
  const synced = new Promise<void>((r) => p.on('sync', (s: boolean) => s && r()));
  return { doc, p, synced, closes };
}

const text = (doc: Y.Doc, field = 'systemMessage'): Y.Text => doc.getMap('profile').get(field) as Y.Text;
const head = (): number => a.store.log.head('bot')?.seq ?? 0;

describe('/yjs relay before the durable write', () => {
  it('another editor sees a checked update while its log write is held; the view, the log and the history wait for the write', async () => {
    const one = client();
    const two = client();
    await Promise.all([one.synced, two.synced]);
    const seq = head();
    gate.hold();
    text(one.doc).insert(0, 'Hi! ');
    // the other editor has it although nothing of it is durable yet
    await until(() => text(two.doc).toString() === `Hi! ${SYSTEM}`, 10_000, 'relayed to the other editor');
    await until(() => gate.waiting > 0, 10_000, 'the write is in flight');
    expect(head()).toBe(seq);
    expect((await a.store.get('bot')).systemMessage).toBe(SYSTEM);
    // more keystrokes while the first write is held: relayed at once as well
    text(one.doc).insert(text(one.doc).length, ' Bye.');
    await until(() => text(two.doc).toString() === `Hi! ${SYSTEM} Bye.`, 10_000, 'second keystroke relayed');
    expect(head()).toBe(seq);
    gate.release();
    await until(async () => (await a.store.get('bot')).systemMessage === `Hi! ${SYSTEM} Bye.`, 10_000, 'durable');
    // one entry per update, origin of the writer, chain intact
    const entries = await a.store.entries('bot', { limit: 2 });
    expect(entries.map((e) => e.origin)).toEqual(['yjs:tok-ed', 'yjs:tok-ed']);
    expect(head()).toBe(seq + 2);
    expect(a.store.log.isDamaged('bot')).toBe(false);
    // the writer and the reader end with the node's state
    const state = Y.encodeStateVector(one.doc);
    expect(Y.encodeStateVector(two.doc)).toEqual(state);
    expect(await a.store.stateVector('bot')).toEqual(state);
    expect(one.closes).toEqual([]);
    expect(two.closes).toEqual([]);
  }, 30_000);

  it('a relayed write that fails to become durable closes every editor of the room with 4500; they reconnect and the node gets the edit back from their step 2', async () => {
    const one = client();
    const two = client();
    await Promise.all([one.synced, two.synced]);
    const seq = head();
    gate.hold();
    gate.failNext = true;
    text(one.doc).insert(0, 'Lost? ');
    await until(() => text(two.doc).toString() === `Lost? ${SYSTEM}`, 10_000, 'relayed to the other editor');
    gate.release();
    // both editors are told to resync (45xx: the stock provider reconnects)
    await until(() => one.closes.length > 0 && two.closes.length > 0, 10_000, 'room closed');
    expect(gate.failed).toBe(1);
    expect(one.closes[0]).toBe(4500);
    expect(two.closes[0]).toBe(4500);
    // the providers reconnect by themselves; their first step 2 carries what the node lacks
    await until(async () => (await a.store.get('bot')).systemMessage === `Lost? ${SYSTEM}`, 15_000, 'node has the edit again');
    await until(() => one.p.wsconnected && two.p.wsconnected && one.p.synced && two.p.synced, 15_000, 'reconnected');
    expect(head()).toBeGreaterThan(seq);
    const view = await a.store.get('bot');
    expect(view.conflicts).toBe(0); // a fast-forward, no conflict
    // everyone ends with the node's state, and editing goes on
    text(two.doc).insert(text(two.doc).length, ' Ok.');
    await until(() => text(one.doc).toString() === `Lost? ${SYSTEM} Ok.`, 10_000, 'live again');
    await until(async () => (await a.store.get('bot')).systemMessage === `Lost? ${SYSTEM} Ok.`, 10_000, 'durable again');
    expect(Y.encodeStateVector(one.doc)).toEqual(await a.store.stateVector('bot'));
    expect(Y.encodeStateVector(two.doc)).toEqual(await a.store.stateVector('bot'));
    // after a reload from disk the node still holds it (what was acked is durable)
    a.store.clearCache('profiles');
    expect((await a.store.get('bot')).systemMessage).toBe(`Lost? ${SYSTEM} Ok.`);
  }, 40_000);

  it("a reconnecting client's first step 2 is checked for conflicts while another editor types live", async () => {
    const live = client();
    const away = client();
    await Promise.all([live.synced, away.synced]);
    away.p.disconnect();
    // offline work on systemMessage, and the node's systemMessage changes meanwhile
    text(away.doc).delete(0, 'You are'.length);
    text(away.doc).insert(0, 'Be');
    await a.store.update('bot', { systemMessage: `Now: ${SYSTEM}` }, ctx);
    await until(() => text(live.doc).toString() === `Now: ${SYSTEM}`, 10_000, 'live editor has the API write');
    // the live editor keeps typing into another field (the profile's live pipeline is busy)
    let typing = true;
    const typed = (async () => {
      let n = 0;
      while (typing && n < 200) {
        text(live.doc, 'description').insert(text(live.doc, 'description').length, '.');
        n++;
        await new Promise((r) => setTimeout(r, 2));
      }
      return n;
    })();
    away.p.connect();
    await until(async () => (await a.store.get('bot')).conflicts === 1, 15_000, 'conflict recorded');
    typing = false;
    const n = await typed;
    const [c] = await a.store.conflicts('bot');
    expect(c).toMatchObject({ field: 'systemMessage', kind: 'text', origin: 'yjs:tok-ed' });
    expect([c!.ours, c!.theirs].sort()).toEqual([`Now: ${SYSTEM}`, SYSTEM.replace('You are', 'Be')].sort());
    // the live typing all arrived, and nothing else was reported
    const dots = `Answers support questions${'.'.repeat(n)}`;
    await until(async () => (await a.store.get('bot')).description === dots, 15_000, 'live typing stored');
    expect((await a.store.conflicts('bot')).length).toBe(1);
    await until(() => text(away.doc, 'description').toString() === dots && text(live.doc).toString() === text(away.doc).toString(), 10_000, 'converged');
  }, 40_000);
});
