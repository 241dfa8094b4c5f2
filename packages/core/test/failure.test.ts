import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ChangeEvent } from '../src/types.js';
import { codeOf, ctx, harness, sample, type Harness } from './helpers.js';

/** Wraps the log's LevelDB so that batch writes fail while `failing` is set (the log's wrapDb hook). */
function failingDb(state: { failing: boolean }) {
  const wrapBatch = (batch: object) =>
    new Proxy(batch, {
      get(target, prop) {
        if (prop === 'write' && state.failing) {
          return async () => {
            await (target as { close(): Promise<void> }).close().catch(() => undefined);
            throw new Error('injected write failure');
          };
        }
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
  return (db: unknown): unknown =>
    new Proxy(db as object, {
      get(target, prop) {
        const v = Reflect.get(target, prop, target) as unknown;
        if (prop === 'batch' && typeof v === 'function') {
          return (...args: unknown[]) => {
            if (args.length > 0 && state.failing) return Promise.reject(new Error('injected write failure'));
            const b = (v as (...a: unknown[]) => unknown).apply(target, args);
            return args.length === 0 ? wrapBatch(b as object) : b;
          };
        }
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
}

let h: Harness;
const state = { failing: false };
beforeEach(async () => {
  state.failing = false;
  h = await harness({ wrapDb: failingDb(state) });
});
afterEach(async () => {
  state.failing = false;
  await h.close();
});

describe('append failure', () => {
  it('no ack, no fan-out, doc reloaded, get never returns the refused change, a later write works', async () => {
    const v1 = await h.store.create({ id: 'p', ...sample() }, ctx);
    const events: ChangeEvent[] = [];
    h.store.subscribe((e) => events.push(e));
    state.failing = true;
    expect(await codeOf(h.store.update('p', { systemMessage: 'REFUSED' }, ctx))).toBe('LOG_WRITE_FAILED');
    expect(events).toEqual([]);
    expect(h.store.get('p')).toBe(v1);
    expect(h.store.cacheStats().find((s) => s.name === 'docs')!.size).toBe(0); // live doc dropped
    h.store.clearCache('profiles');
    expect((await h.store.get('p')).systemMessage).toBe(v1.systemMessage);
    // a remote update fails the same way
    state.failing = false;
    const peer = await h.store.encodeStateAsUpdate('p');
    expect(peer.byteLength).toBeGreaterThan(0);
    state.failing = true;
    expect(await codeOf(h.store.create({ id: 'q', ...sample() }, ctx))).toBe('LOG_WRITE_FAILED');
    expect(h.store.log.head('q')).toBeUndefined();
    expect(await codeOf(() => h.store.get('q'))).toBe('PROFILE_NOT_FOUND');
    state.failing = false;
    const v2 = await h.store.update('p', { description: 'works again' }, ctx);
    expect(v2.systemMessage).toBe(v1.systemMessage);
    expect(v2.description).toBe('works again');
    expect(events.map((e) => e.seq)).toEqual([2]);
    await h.reopen({ wrapDb: failingDb(state) });
    const after = await h.store.get('p');
    expect(after.systemMessage).toBe(v1.systemMessage);
    expect(after.description).toBe('works again');
    expect((await h.store.entries('p')).map((v) => v.seq)).toEqual([2, 1]);
    // q can be created now (the refused create left nothing behind)
    expect((await h.store.create({ id: 'q', ...sample() }, ctx)).id).toBe('q');
  });

  it('a failed batch of coalesced patches rejects every patch in it and leaves nothing behind', async () => {
    const v1 = await h.store.create({ id: 'b', ...sample() }, ctx);
    const events: ChangeEvent[] = [];
    h.store.subscribe((e) => events.push(e));
    // concurrent patches coalesce into one or a few batches; every batch write fails
    state.failing = true;
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => h.store.update('b', { systemMessage: `refused ${i}` }, ctx)));
    expect(results.every((r) => r.status === 'rejected' && (r.reason as { code: string }).code === 'LOG_WRITE_FAILED')).toBe(true);
    expect(events).toEqual([]);
    expect(h.store.get('b')).toBe(v1);
    expect(h.store.log.head('b')!.seq).toBe(1);
    state.failing = false;
    const ok = await Promise.all(Array.from({ length: 5 }, (_, i) => h.store.update('b', { description: `ok ${i}` }, ctx)));
    expect(ok[4]!.systemMessage).toBe(v1.systemMessage);
    expect((await h.store.entries('b')).length).toBe(6);
  });
});
