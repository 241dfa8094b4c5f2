import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStreamsBus, START_CURSOR, type Cursor } from '../src/index.js';
import { drain, runBusContract } from './contract.js';
import { bareRedisClient, startRedisServer, type BareRedisClient, type RedisServer } from './redis-server.js';

const PREFIX = 'contract';

/** Redis Cluster's key slot: CRC16-XMODEM of the hash tag (or the key) mod 16384. */
function slot(key: string): number {
  const open = key.indexOf('{');
  const close = open >= 0 ? key.indexOf('}', open + 1) : -1;
  const tag = open >= 0 && close > open + 1 ? key.slice(open + 1, close) : key;
  let crc = 0;
  for (const byte of Buffer.from(tag)) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}

runBusContract('redis', async () => {
  // persistence on (fsync always), so a plain restart keeps the data and an empty one is a FLUSHALL + restart
  const server = await startRedisServer({ persist: true });
  const buses: RedisStreamsBus[] = [];
  let admin: BareRedisClient = await bareRedisClient(server.url);
  return {
    async connect() {
      const bus = new RedisStreamsBus({ url: server.url, shards: 4, prefix: PREFIX, reconnect: { baseMs: 20, maxMs: 200 } });
      buses.push(bus);
      await bus.whenConnected(10_000);
      return bus;
    },
    async trim(shard, keep) {
      await admin.sendCommand(['XTRIM', `{${PREFIX}:${shard}}:log`, 'MAXLEN', String(keep)]);
    },
    async restart({ empty }) {
      if (empty) await admin.sendCommand(['FLUSHALL']);
      await admin.close().catch(() => undefined);
      await server.kill();
      await server.restart();
      admin = await bareRedisClient(server.url);
    },
    async pause() {
      await admin.close().catch(() => undefined);
      await server.kill();
    },
    async resume() {
      await server.restart();
      admin = await bareRedisClient(server.url);
    },
    async close() {
      for (const b of buses) await b.close();
      await admin.close().catch(() => undefined);
      await server.stop();
    },
  };
});

describe('RedisStreamsBus on a real redis-server', () => {
  let server: RedisServer;
  let admin: BareRedisClient;
  const buses: RedisStreamsBus[] = [];
  const bus = async (extra: Partial<ConstructorParameters<typeof RedisStreamsBus>[0]> = {}): Promise<RedisStreamsBus> => {
    const b = new RedisStreamsBus({ url: server.url, shards: 2, prefix: 'rb', reconnect: { baseMs: 20, maxMs: 200 }, ...extra });
    buses.push(b);
    await b.whenConnected(10_000);
    return b;
  };
  beforeAll(async () => {
    server = await startRedisServer();
    admin = await bareRedisClient(server.url);
  });
  afterAll(async () => {
    for (const b of buses) await b.close();
    await admin?.close().catch(() => undefined);
    await server?.stop();
  });

  it('keys carry one hash tag per shard (cluster-ready) and entries hold only the opaque payload', async () => {
    const b = await bus();
    await drain(b, [START_CURSOR, START_CURSOR]);
    await b.publish(1, new Uint8Array([1, 2, 3]));
    const keys = ((await admin.sendCommand(['KEYS', '*rb*'])) as string[]).sort();
    expect(keys).toEqual(['{rb:0}:epoch', '{rb:1}:epoch', '{rb:1}:log', '{rb:1}:seq']);
    expect(slot('{rb:1}:log')).toBe(slot('{rb:1}:epoch'));
    expect(slot('{rb:1}:log')).toBe(slot('{rb:1}:seq'));
    expect(slot('{rb:0}:log')).not.toBe(slot('{rb:1}:log'));
    const rows = (await admin.sendCommand(['XRANGE', '{rb:1}:log', '-', '+'])) as [string, string[]][];
    expect(rows).toHaveLength(1);
    expect(rows[0]![0]).toMatch(/^\d+-1$/); // <server ms>-<entry number>
    expect(rows[0]![1][0]).toBe('d');
    expect(rows[0]![1]).toHaveLength(2);
  });

  it('a foreign entry without a payload is skipped as a bad-entry gap of its shard only; later entries still come', async () => {
    const b = await bus({ prefix: 'bad' });
    let cursors: Cursor[] = (await drain(b, [START_CURSOR, START_CURSOR])).cursors;
    await b.publish(0, new TextEncoder().encode('good-1'));
    await admin.sendCommand(['XADD', '{bad:0}:log', '*', 'x', 'garbage']);
    await b.publish(0, new TextEncoder().encode('good-2'));
    await b.publish(1, new TextEncoder().encode('other'));
    const got = await drain(b, cursors);
    cursors = got.cursors;
    expect(got.gaps).toEqual(['0:bad-entry']);
    expect(got.payloads[0]).toEqual(['good-1', 'good-2']);
    expect(got.payloads[1]).toEqual(['other']);
    expect(await b.read(cursors, { count: 10, blockMs: 0 })).toEqual([]);
  });

  it('trims by length on publish (approximately maxLen kept) and reports the trim to a reader behind it', async () => {
    const b = await bus({ prefix: 'len', maxLen: 10 });
    const cursors = (await drain(b, [START_CURSOR, START_CURSOR])).cursors;
    for (let i = 0; i < 500; i++) await b.publish(0, new Uint8Array([i & 255, 1]));
    const len = Number(await admin.sendCommand(['XLEN', '{len:0}:log']));
    expect(len).toBeGreaterThanOrEqual(10);
    expect(len).toBeLessThan(500);
    const got = await drain(b, cursors);
    expect(got.gaps).toEqual(['0:trimmed']);
    expect(got.payloads[0]!.length).toBe(len);
  });

  it('a Redis killed and restarted empty: commands fail at once while it is down, then every shard shows a new epoch', async () => {
    const b = await bus({ prefix: 'kill' });
    const cursors = (await drain(b, [START_CURSOR, START_CURSOR])).cursors;
    await b.publish(0, new Uint8Array([9]));
    const down = b.once('down');
    await admin.close().catch(() => undefined);
    await server.kill();
    await down;
    const t0 = performance.now();
    await expect(b.publish(0, new Uint8Array([1]))).rejects.toMatchObject({ code: 'BUS_UNAVAILABLE' });
    expect(performance.now() - t0).toBeLessThan(1_000); // no offline queue: it does not wait for Redis
    const up = b.once('up');
    await server.restart();
    await up;
    admin = await bareRedisClient(server.url);
    const got = await drain(b, cursors);
    expect(got.gaps.sort()).toEqual(['0:epoch', '1:epoch']);
  });

  it('slot() matches Redis Cluster (known vectors)', () => {
    expect(slot('123456789')).toBe(0x31c3 % 16384); // CRC16-XMODEM check value
    expect(slot('{user1000}.following')).toBe(slot('{user1000}.followers'));
  });

  it('refuses a bad URL or option with BUS_INVALID_ARGUMENT', () => {
    expect(() => new RedisStreamsBus({ url: 'http://x' })).toThrow(expect.objectContaining({ code: 'BUS_INVALID_ARGUMENT' }));
    expect(() => new RedisStreamsBus({ url: 'redis://x', shards: 0 })).toThrow(expect.objectContaining({ code: 'BUS_INVALID_ARGUMENT' }));
    expect(() => new RedisStreamsBus({ url: 'redis://x', prefix: 'a b' })).toThrow(expect.objectContaining({ code: 'BUS_INVALID_ARGUMENT' }));
    expect(() => new RedisStreamsBus({ url: 'redis://x', maxLen: 1 })).toThrow(expect.objectContaining({ code: 'BUS_INVALID_ARGUMENT' }));
  });
});
