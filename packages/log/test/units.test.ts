import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { defaultSnapshotPolicy, openLog, plainCodec, snapshotEvery, type LogCodec, type Place } from '../src/index.js';
import { entryKey, seqKey, streamKey, P_HEAD } from '../src/keys.js';
import { decodeHead, decodePayload, encodeEntry, encodeHead, encodePayload, frame, unframe, verifyEntry } from '../src/records.js';
import { policyStep } from '../src/snapshots.js';
import { Emitter } from '../src/emitter.js';
import { SnapshotThread } from '../src/snapshot-thread.js';
import { getPoint, openLevel } from '../src/db.js';
import { buildSnapshot } from '../src/snapshots.js';
import { bytes, codeOf, DocWriter, input, rawEntries, tempDir, testCodec, viewOf } from './helpers.js';

describe('snapshot policy (pure)', () => {
  it('default: 256 entries or 256 KiB since the last snapshot', () => {
    const p = (entriesSince: number, bytesSince: number) => defaultSnapshotPolicy({ entriesSince, bytesSince, lastSnapshotSeq: 0, headSeq: entriesSince });
    expect(p(255, 1000)).toBe(false);
    expect(p(256, 10)).toBe(true);
    expect(p(3, 256 * 1024 - 1)).toBe(false);
    expect(p(3, 256 * 1024)).toBe(true);
    expect(snapshotEvery(2)({ entriesSince: 2, bytesSince: 0, lastSnapshotSeq: 0, headSeq: 2 })).toBe(true);
  });

  it('policyStep counts entries and bytes and resets at each snapshot point', () => {
    const c = { lastSnapshotSeq: 0, entriesSince: 0, bytesSince: 0 };
    const points = [];
    const policy = snapshotEvery(3, 100);
    const sizes = [10, 10, 10, 90, 20, 1, 1, 1];
    for (let i = 0; i < sizes.length; i++) if (policyStep(policy, c, i + 1, sizes[i] as number)) points.push(i + 1);
    expect(points).toEqual([3, 5, 8]);
    expect(c).toEqual({ lastSnapshotSeq: 8, entriesSince: 0, bytesSince: 0 });
  });
});

describe('byte layouts', () => {
  it('keys: prefix byte, big-endian u32 stream, u64 seq (bytewise order = numeric order)', () => {
    expect(entryKey(2, 258)).toEqual(Uint8Array.from([0x45, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 1, 2]));
    expect(streamKey(P_HEAD, 0x01020304)).toEqual(Uint8Array.from([0x48, 1, 2, 3, 4]));
    const a = Buffer.from(seqKey(0x45, 1, 255));
    const b = Buffer.from(seqKey(0x45, 1, 256));
    expect(Buffer.compare(a, b)).toBe(-1);
    expect(seqKey(0x53, 1, 2 ** 40)[7]).toBe(1);
  });

  it('entry: header layout and the documented hash formula', () => {
    const prev = new Uint8Array(32).fill(7);
    const stored = bytes(1, 2, 3);
    const { value, hash } = encodeEntry(5, 9, 1_700_000_000_123, prev, stored);
    expect(value.byteLength).toBe(82 + 3);
    expect([...value.subarray(0, 2)]).toEqual([1, 0]);
    expect(Buffer.from(value.subarray(2, 10)).readBigUInt64BE()).toBe(9n);
    expect(Buffer.from(value.subarray(10, 18)).readBigUInt64BE()).toBe(1_700_000_000_123n);
    expect(value.subarray(18, 50)).toEqual(prev);
    expect(Buffer.from(value.subarray(50, 82))).toEqual(Buffer.from(hash));
    const h = Buffer.alloc(58);
    h[0] = 1;
    h.writeBigUInt64BE(5n, 2);
    h.writeBigUInt64BE(9n, 10);
    h.writeBigUInt64BE(1_700_000_000_123n, 18);
    Buffer.from(prev).copy(h, 26);
    expect(Buffer.from(hash).toString('hex')).toBe(createHash('sha256').update(h).update(stored).digest('hex'));
    expect(verifyEntry(1, 5, value).lsn).toBe(9);
    expect(codeOf(() => verifyEntry(1, 6, value))).toBe('LOG_CHECKSUM_MISMATCH'); // seq is hashed
    expect(codeOf(() => verifyEntry(1, 5, value.subarray(0, 40)))).toBe('LOG_CHECKSUM_MISMATCH');
  });

  it('payload, head and framed records round-trip; damage is detected', () => {
    const p = encodePayload({ actor: 'ä', origin: 'peer:x', summary: 's', version: bytes(9), body: bytes(4, 5) });
    expect(decodePayload(p)).toEqual({ actor: 'ä', origin: 'peer:x', summary: 's', version: bytes(9), body: bytes(4, 5) });
    expect(decodePayload(encodePayload({ actor: 'a', origin: 'o', body: bytes(1) })).version).toBeUndefined();
    expect(() => decodePayload(bytes(2, 0))).toThrow();
    const head = { seq: 3, lsn: 4, ts: 5, hash: new Uint8Array(32).fill(1) };
    const hv = encodeHead(head);
    expect(hv.byteLength).toBe(61);
    expect(decodeHead(1, hv)).toEqual(head);
    hv[3] = (hv[3] as number) ^ 1;
    expect(codeOf(() => decodeHead(1, hv))).toBe('LOG_CHECKSUM_MISMATCH');
    const f = frame(bytes(0, 0, 0, 0, 0, 0, 0, 7), bytes(1, 2));
    expect(unframe(f, 8, 'x', {})).toEqual({ header: bytes(0, 0, 0, 0, 0, 0, 0, 7), stored: bytes(1, 2) });
    f[f.byteLength - 1] = 0;
    expect(codeOf(() => unframe(f, 8, 'x', {}))).toBe('LOG_CHECKSUM_MISMATCH');
  });
});

describe('codec hook', () => {
  it('every stored payload passes the codec with its place; names stay out of keys', async () => {
    const inner = testCodec('recording/v1');
    const places: string[] = [];
    const codec: LogCodec = {
      id: inner.id,
      encode: (place: Place, b: Uint8Array) => {
        places.push(`enc ${place.kind} ${place.stream} ${place.seq}`);
        return inner.encode(place, b);
      },
      decode: (place: Place, b: Uint8Array) => {
        places.push(`dec ${place.kind} ${place.stream} ${place.seq}`);
        return inner.decode(place, b);
      },
      keyFor: (name: string) => inner.keyFor(name),
    };
    const dir = await tempDir();
    const log = await openLog({ dir, codec, snapshotPolicy: snapshotEvery(2) });
    const w = new DocWriter();
    await log.append(input('secret-profile', w.edit(), { view: viewOf(w.doc) }));
    await log.append(input('secret-profile', w.edit(), { view: viewOf(w.doc) }));
    await log.putAux('secret-aux-name', bytes(1));
    await log.idle();
    expect(places).toEqual(expect.arrayContaining([
      'enc entry 1 1', 'enc view 1 1', 'enc catalog 1 0', 'enc entry 1 2', 'enc view 1 2', 'enc snapshot 1 2', 'enc aux 0 0',
    ]));
    expect(await log.getAux('secret-aux-name')).toEqual(bytes(1));
    expect(await log.listAux('secret')).toEqual(['secret-aux-name']);
    await log.close();
    const all = await rawEntries(dir);
    for (const [k, v] of all) {
      for (const secret of ['secret-profile', 'secret-aux-name']) {
        expect(Buffer.from(k).includes(secret)).toBe(false);
        expect(Buffer.from(v).includes(secret)).toBe(false);
      }
    }
  });

  it('the plain codec is the identity and is the default', async () => {
    expect(plainCodec.encode({ kind: 'entry', stream: 1, seq: 1 }, bytes(1))).toEqual(bytes(1));
    const log = await openLog({ dir: await tempDir() });
    expect(log.info().codecId).toBe('plain');
    await log.close();
  });
});

describe('emitter', () => {
  it('has() is false without listeners, so emitting costs nothing', () => {
    const e = new Emitter<{ x: number }>();
    expect(e.has('x')).toBe(false);
    const got: number[] = [];
    const off = e.on('x', (n) => got.push(n));
    expect(e.has('x')).toBe(true);
    e.emit('x', 1);
    off();
    e.emit('x', 2);
    expect([got, e.has('x')]).toEqual([[1], false]);
  });
});

describe('snapshot thread', () => {
  it('builds the same bytes as the in-thread buildSnapshot', async () => {
    const thread = new SnapshotThread();
    try {
      const w = new DocWriter();
      const bodies = Array.from({ length: 300 }, () => w.edit());
      const first = buildSnapshot(undefined, bodies.slice(0, 150));
      expect(await thread.build(undefined, bodies.slice(0, 150))).toEqual(first);
      expect(thread.onThread).toBe(true);
      expect(await thread.build(first, bodies.slice(150))).toEqual(buildSnapshot(first, bodies.slice(150)));
      await expect(thread.build(undefined, [bytes(1, 2, 3)])).rejects.toThrow();
      expect(await thread.build(undefined, bodies.slice(0, 10))).toEqual(buildSnapshot(undefined, bodies.slice(0, 10)));
      // a live chain gives the same bytes as re-loading each previous snapshot
      const chain = thread.chain();
      const viaChain = [await chain.next(bodies.slice(0, 100)), await chain.next(bodies.slice(100, 220)), await chain.next(bodies.slice(220))];
      chain.end();
      const s1 = buildSnapshot(undefined, bodies.slice(0, 100));
      const s2 = buildSnapshot(s1, bodies.slice(100, 220));
      expect(viaChain).toEqual([s1, s2, buildSnapshot(s2, bodies.slice(220))]);
      // apply() takes the same step without encoding (restore's points before the newest)
      const quiet = thread.chain();
      await quiet.apply(bodies.slice(0, 100));
      expect(await quiet.next(bodies.slice(100, 220))).toEqual(s2);
      // a step that fails poisons the chain: later steps fail instead of starting from an empty doc
      await expect(quiet.apply([bytes(1, 2, 3)])).rejects.toThrow();
      await expect(quiet.next(bodies.slice(220))).rejects.toThrow(/earlier step/);
      quiet.end();
    } finally {
      await thread.close();
    }
  });

  it('says once when the thread dies, and builds the same bytes on the main thread from then on', async () => {
    const failures: string[] = [];
    // a Yjs module the worker cannot import: the worker dies at start
    const thread = new SnapshotThread((err) => failures.push(err.message), 'file:///nonexistent/profilesync-test/yjs.mjs');
    try {
      const w = new DocWriter();
      const bodies = Array.from({ length: 40 }, () => w.edit());
      await expect(thread.build(undefined, bodies)).rejects.toThrow();
      expect(failures).toHaveLength(1);
      expect(thread.onThread).toBe(false);
      expect(await thread.build(undefined, bodies)).toEqual(buildSnapshot(undefined, bodies));
      const chain = thread.chain();
      expect(await chain.next(bodies)).toEqual(buildSnapshot(undefined, bodies));
      chain.end();
      expect(failures).toHaveLength(1);
    } finally {
      await thread.close();
    }
    expect(failures).toHaveLength(1); // closing is not a failure
  });
});

describe('getPoint (db.ts)', () => {
  const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
  it('reads synchronously when the handle has getSync, falls back to get through a wrapper without it; same values, undefined when missing', async () => {
    const db = await openLevel(await tempDir());
    try {
      await db.put(utf8('k'), utf8('value'));
      let asyncGets = 0;
      const wrapped = new Proxy(db, {
        get(target, prop) {
          if (prop === 'getSync') return undefined;
          if (prop === 'get') return (k: Uint8Array) => (asyncGets++, target.get(k));
          const v = Reflect.get(target, prop, target) as unknown;
          return typeof v === 'function' ? v.bind(target) : v;
        },
      });
      for (const handle of [db, wrapped]) {
        expect(Buffer.from((await getPoint(handle, utf8('k')))!).toString()).toBe('value');
        expect(await getPoint(handle, utf8('missing'))).toBeUndefined();
      }
      expect(asyncGets).toBe(2);
      await db.close();
      // a closed handle rejects (DbHolder.run decides whether to retry), it does not throw synchronously
      const p = getPoint(db, utf8('k'));
      expect(p).toBeInstanceOf(Promise);
      expect(await p.then(() => 'resolved', () => 'rejected')).toBe('rejected');
    } finally {
      if (db.status === 'open') await db.close();
    }
  });
});
