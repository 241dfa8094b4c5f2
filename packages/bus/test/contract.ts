/**
 * The Bus contract: every adapter (Redis Streams, memory) passes this one suite.
 *
 *   runBusContract('redis', async () => ({ connect, trim, restart, close }))
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { START_CURSOR, type Bus, type Cursor, type ShardBatch } from '../src/index.js';

export interface BusHarness {
  /** a started client of the same bus (resolves once connected) */
  connect(): Promise<Bus>;
  /** keeps only the newest `keep` entries of a shard */
  trim(shard: number, keep: number): Promise<void>;
  /** the bus goes away and comes back, with its data or empty */
  restart(opts: { empty: boolean }): Promise<void>;
  /** the bus goes away (until `resume`) */
  pause(): Promise<void>;
  resume(): Promise<void>;
  close(): Promise<void>;
}

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array): string => new TextDecoder().decode(b);

/** Reads until every shard reports no more (gaps are followed), returning payloads per shard. */
export async function drain(bus: Bus, cursors: Cursor[], count = 100): Promise<{ cursors: Cursor[]; payloads: string[][]; gaps: string[] }> {
  const payloads: string[][] = Array.from({ length: bus.shards }, () => []);
  const gaps: string[] = [];
  for (let i = 0; i < 1000; i++) {
    const batches: ShardBatch[] = await bus.read(cursors, { count, blockMs: 0 });
    if (batches.length === 0) return { cursors, payloads, gaps };
    for (const b of batches) {
      if (b.gap) gaps.push(`${b.shard}:${b.gap}`);
      for (const e of b.entries) payloads[b.shard]!.push(text(e.payload));
      cursors[b.shard] = b.next;
    }
  }
  throw new Error('drain did not end');
}

/** Waits for `event` on the bus (or that the state already holds). */
function whenState(bus: Bus, connected: boolean): Promise<void> {
  if (bus.connected === connected) return Promise.resolve();
  return new Promise((resolve) => {
    const off = bus.on(connected ? 'up' : 'down', () => {
      off();
      resolve();
    });
  });
}

/** Resolves once `bus` has gone down and come up again; made before the bus goes away. */
function wentDownAndUp(bus: Bus): Promise<void> {
  return new Promise((resolve) => {
    let down = !bus.connected;
    const offDown = bus.on('down', () => {
      down = true;
    });
    const offUp = bus.on('up', () => {
      if (!down) return;
      offDown();
      offUp();
      resolve();
    });
  });
}

export function runBusContract(name: string, setup: () => Promise<BusHarness>): void {
  describe(`Bus contract: ${name}`, () => {
    let h: BusHarness;
    let a: Bus;
    let b: Bus;
    beforeAll(async () => {
      h = await setup();
      a = await h.connect();
      b = await h.connect();
    });
    afterAll(async () => {
      await a?.close();
      await b?.close();
      await h?.close();
    });

    const fresh = (bus: Bus): Cursor[] => Array.from({ length: bus.shards }, () => START_CURSOR);

    it('a fresh cursor reports an epoch gap, then entries come in publish order per shard, once', async () => {
      expect(a.shards).toBeGreaterThanOrEqual(2);
      expect(a.connected).toBe(true);
      const start = await drain(b, fresh(b));
      expect(start.gaps.filter((g) => g.endsWith(':epoch')).length).toBe(b.shards);
      const cursors = start.cursors;
      const p1 = await a.publish(0, bytes('s0-1'));
      await a.publish(1, bytes('s1-1'));
      const p2 = await a.publish(0, bytes('s0-2'));
      await b.publish(1, bytes('s1-2'));
      expect(typeof p1).toBe('string');
      expect(p1).not.toBe(p2);
      const got = await drain(b, [...cursors]);
      expect(got.gaps).toEqual([]);
      expect(got.payloads[0]).toEqual(['s0-1', 's0-2']);
      expect(got.payloads[1]).toEqual(['s1-1', 's1-2']);
      // nothing more after the cursor
      expect(await b.read(got.cursors, { count: 10, blockMs: 0 })).toEqual([]);
      // the same cursor reads the same entries again (positions are stable)
      const again = await drain(b, [...cursors]);
      expect(again.payloads[1]).toEqual(['s1-1', 's1-2']);
    });

    it('count bounds a batch; atEnd tells whether more was there; entries carry positions and times', async () => {
      const cursors = (await drain(b, fresh(b))).cursors;
      for (let i = 0; i < 5; i++) await a.publish(1, bytes(`c${i}`));
      const first = await b.read(cursors, { count: 2, blockMs: 0 });
      const s1 = first.find((x) => x.shard === 1)!;
      expect(s1.entries.map((e) => text(e.payload))).toEqual(['c0', 'c1']);
      expect(s1.atEnd).toBe(false);
      expect(s1.next.position).toBe(s1.entries[1]!.position);
      expect(s1.entries[0]!.time).toBeGreaterThan(Date.UTC(2020, 0, 1));
      cursors[1] = s1.next;
      const rest = await b.read(cursors, { count: 10, blockMs: 0 });
      const r1 = rest.find((x) => x.shard === 1)!;
      expect(r1.entries.map((e) => text(e.payload))).toEqual(['c2', 'c3', 'c4']);
      expect(r1.atEnd).toBe(true);
    });

    it('a blocking read returns as soon as an entry arrives; with nothing it returns empty', async () => {
      const cursors = (await drain(b, fresh(b))).cursors;
      const pending = b.read(cursors, { count: 10, blockMs: 10_000 });
      await new Promise((r) => setTimeout(r, 20));
      await a.publish(0, bytes('wake'));
      const got = await pending;
      const entries = got.flatMap((x) => x.entries.map((e) => text(e.payload)));
      expect(entries).toEqual(['wake']);
      cursors[0] = got.find((x) => x.shard === 0)!.next;
      expect(await b.read(cursors, { count: 10, blockMs: 30 })).toEqual([]);
    });

    it('entries trimmed before a reader got them are a trimmed gap; the rest is still delivered', async () => {
      const cursors = (await drain(b, fresh(b))).cursors;
      for (let i = 0; i < 10; i++) await a.publish(0, bytes(`t${i}`));
      const head = await b.read(cursors, { count: 2, blockMs: 0 });
      cursors[0] = head.find((x) => x.shard === 0)!.next; // read t0, t1
      await h.trim(0, 3); // t7, t8, t9 stay
      const gap = await b.read(cursors, { count: 100, blockMs: 0 });
      const g = gap.find((x) => x.shard === 0)!;
      expect(g.gap).toBe('trimmed');
      expect(g.entries).toEqual([]);
      cursors[0] = g.next;
      const after = await drain(b, cursors);
      expect(after.gaps).toEqual([]);
      expect(after.payloads[0]).toEqual(['t7', 't8', 't9']);
      // a reader that was already past the trim point sees no gap
      await h.trim(0, 1);
      expect(await b.read(after.cursors, { count: 10, blockMs: 0 })).toEqual([]);
    });

    it('members: announce replaces, members lists, withdraw removes', async () => {
      await a.announce('node-a', bytes('a1'));
      await b.announce('node-b', bytes('b1'));
      await a.announce('node-a', bytes('a2'));
      const list = (await b.members()).map((m) => `${m.id}=${text(m.record)}`).sort();
      expect(list).toEqual(['node-a=a2', 'node-b=b1']);
      await b.withdraw('node-a');
      expect((await a.members()).map((m) => m.id)).toEqual(['node-b']);
      await b.withdraw('node-b');
    });

    it('broadcast reaches listeners of the channel on other clients; stop listening stops it', async () => {
      const got: string[] = [];
      let resolve!: () => void;
      let arrived = new Promise<void>((r) => (resolve = r));
      const stop = b.listen('room-1', (p) => {
        got.push(text(p));
        resolve();
      });
      b.listen('room-2', () => got.push('wrong channel'));
      // subscriptions are asynchronous on a real server: repeat until the first one lands
      for (let i = 0; i < 200 && got.length === 0; i++) {
        await a.broadcast('room-1', bytes('hello'));
        await Promise.race([arrived, new Promise((r) => setTimeout(r, 25))]);
      }
      expect(got[0]).toBe('hello');
      stop();
      got.length = 0;
      arrived = new Promise<void>((r) => (resolve = r));
      await a.broadcast('room-1', bytes('after'));
      await a.broadcast('room-2', bytes('other'));
      await new Promise((r) => setTimeout(r, 100));
      expect(got).toEqual(['wrong channel']);
    });

    it('while the bus is away every call rejects BUS_UNAVAILABLE at once; it comes back with its data', async () => {
      const cursors = (await drain(b, fresh(b))).cursors;
      await a.publish(0, bytes('before'));
      // both clients: an idle one may notice the socket's close a moment after the other
      const down = Promise.all([whenState(a, false), whenState(b, false)]);
      await h.pause();
      await down;
      expect(a.connected).toBe(false);
      await expect(a.publish(0, bytes('x'))).rejects.toMatchObject({ code: 'BUS_UNAVAILABLE' });
      await expect(a.read(cursors, { count: 10, blockMs: 0 })).rejects.toMatchObject({ code: 'BUS_UNAVAILABLE' });
      await expect(a.members()).rejects.toMatchObject({ code: 'BUS_UNAVAILABLE' });
      await expect(a.broadcast('room-1', bytes('x'))).rejects.toMatchObject({ code: 'BUS_UNAVAILABLE' });
      const up = Promise.all([whenState(a, true), whenState(b, true)]);
      await h.resume();
      await up;
      await waitUsable(b);
      const got = await drain(b, cursors);
      expect(got.gaps).toEqual([]);
      expect(got.payloads[0]).toEqual(['before']);
    });

    it('a bus that lost its data shows new epochs: old cursors get an epoch gap and restart at the new beginning', async () => {
      const cursors = (await drain(b, fresh(b))).cursors;
      await a.publish(0, bytes('old'));
      const back = Promise.all([wentDownAndUp(a), wentDownAndUp(b)]);
      await h.restart({ empty: true });
      await back;
      await waitUsable(a);
      await waitUsable(b);
      await a.publish(0, bytes('new'));
      const got = await drain(b, [...cursors]);
      expect(got.gaps.filter((g) => g.endsWith(':epoch')).length).toBe(b.shards);
      expect(got.payloads[0]).toEqual(['new']);
      for (let s = 0; s < b.shards; s++) expect(got.cursors[s]!.epoch).not.toBe(cursors[s]!.epoch);
    });

    it('bad arguments are BUS_INVALID_ARGUMENT and change nothing', async () => {
      const cursors = (await drain(b, fresh(b))).cursors;
      const bad: [string, () => Promise<unknown>][] = [
        ['shard', () => a.publish(a.shards, bytes('x'))],
        ['negative shard', () => a.publish(-1, bytes('x'))],
        ['empty payload', () => a.publish(0, new Uint8Array(0))],
        ['payload type', () => a.publish(0, 'x' as unknown as Uint8Array)],
        ['cursors length', () => a.read(cursors.slice(1), { count: 1, blockMs: 0 })],
        ['cursor position', () => a.read(cursors.map(() => ({ epoch: 'e', position: 'nope' })), { count: 1, blockMs: 0 })],
        ['count', () => a.read(cursors, { count: 0, blockMs: 0 })],
        ['blockMs', () => a.read(cursors, { count: 1, blockMs: -1 })],
        ['member id', () => a.announce('no spaces', bytes('x'))],
        ['channel', () => a.broadcast('bad channel!', bytes('x'))],
      ];
      for (const [what, call] of bad) await expect(call(), what).rejects.toMatchObject({ code: 'BUS_INVALID_ARGUMENT' });
      expect(() => a.listen('', () => undefined)).toThrow(expect.objectContaining({ code: 'BUS_INVALID_ARGUMENT' }));
      expect(await b.read(cursors, { count: 10, blockMs: 0 })).toEqual([]);
    });

    it('after close every call rejects BUS_CLOSED', async () => {
      const c = await h.connect();
      await c.close();
      expect(c.connected).toBe(false);
      await expect(c.publish(0, bytes('x'))).rejects.toMatchObject({ code: 'BUS_CLOSED' });
      await expect(c.members()).rejects.toMatchObject({ code: 'BUS_CLOSED' });
      expect(() => c.listen('room-1', () => undefined)).toThrow(expect.objectContaining({ code: 'BUS_CLOSED' }));
    });
  });
}

/** Right after a reconnect a command may still meet the old socket: retry briefly. */
async function waitUsable(bus: Bus): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      await bus.members();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}
