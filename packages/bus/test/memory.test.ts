import { describe, expect, it } from 'vitest';
import { MemoryBusServer, START_CURSOR, type Cursor } from '../src/index.js';
import { drain, runBusContract } from './contract.js';

runBusContract('memory', async () => {
  const server = new MemoryBusServer({ shards: 4 });
  return {
    async connect() {
      const bus = server.connect();
      bus.start();
      return bus;
    },
    async trim(shard, keep) {
      server.trim(shard, keep);
    },
    async restart({ empty }) {
      server.stop();
      server.start({ empty });
    },
    async pause() {
      server.stop();
    },
    async resume() {
      server.start();
    },
    async close() {},
  };
});

/** xorshift32, for seeded faults */
function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x1_0000_0000;
  };
}

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array): string => new TextDecoder().decode(b);

describe('MemoryBus faults', () => {
  it('duplicates and delays never break per-shard order; reorder shuffles shards only', async () => {
    const server = new MemoryBusServer({ shards: 3, random: prng(7), faults: { duplicate: 0.3, delay: 0.5, reorder: true } });
    const a = server.connect();
    const b = server.connect();
    a.start();
    b.start();
    let cursors: Cursor[] = (await drain(b, [START_CURSOR, START_CURSOR, START_CURSOR])).cursors;
    for (let i = 0; i < 60; i++) await a.publish(i % 3, bytes(`${i % 3}:${String(i).padStart(3, '0')}`));
    const got = await drain(b, cursors);
    cursors = got.cursors;
    for (let s = 0; s < 3; s++) {
      const seen = got.payloads[s]!;
      const unique = [...new Set(seen)];
      expect(unique).toEqual(unique.slice().sort()); // publish order
      expect(unique.length).toBe(20); // nothing lost
      expect(seen.length).toBeGreaterThanOrEqual(20); // some twice
    }
    expect(got.payloads.flat().length).toBeGreaterThan(60);
  });

  it('publish failures: before (nothing appended) and after (appended, but the caller is told it failed)', async () => {
    const server = new MemoryBusServer({ shards: 1, random: prng(3) });
    const a = server.connect();
    a.start();
    server.faults = { ...server.faults, failPublish: 1 };
    await expect(a.publish(0, bytes('x'))).rejects.toMatchObject({ code: 'BUS_UNAVAILABLE' });
    expect(server.entries(0)).toHaveLength(0);
    server.faults = { ...server.faults, failPublish: 0, failAfterPublish: 1 };
    await expect(a.publish(0, bytes('y'))).rejects.toMatchObject({ code: 'BUS_UNAVAILABLE' });
    expect(server.entries(0).map((e) => text(e.payload))).toEqual(['y']);
  });

  it('corrupt delivers a flipped copy; the stored entry stays intact', async () => {
    const server = new MemoryBusServer({ shards: 1, random: prng(11), faults: { corrupt: 1 } });
    const a = server.connect();
    a.start();
    const c = (await drain(a, [START_CURSOR])).cursors;
    await a.publish(0, bytes('abcdef'));
    const [batch] = await a.read(c, { count: 10, blockMs: 0 });
    expect(text(batch!.entries[0]!.payload)).not.toBe('abcdef');
    expect(text(server.entries(0)[0]!.payload)).toBe('abcdef');
  });

  it('a partitioned client is down alone; the others keep working', async () => {
    const server = new MemoryBusServer({ shards: 1 });
    const a = server.connect();
    const b = server.connect();
    a.start();
    b.start();
    a.partition();
    expect(a.connected).toBe(false);
    await expect(a.publish(0, bytes('x'))).rejects.toMatchObject({ code: 'BUS_UNAVAILABLE' });
    await b.publish(0, bytes('y'));
    a.heal();
    expect(a.connected).toBe(true);
    const got = await drain(a, (await drain(a, [START_CURSOR])).cursors);
    expect(got.payloads[0]).toEqual([]);
    expect(server.entries(0).map((e) => text(e.payload))).toEqual(['y']);
  });
});
