import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { FORMAT_VERSION, openLog, snapshotEvery, type AppendInput, type LogEvents } from '../src/index.js';
import { bytes, codeOf, collect, DocWriter, input, manualClock, materialize, tempDir, track, viewOf } from './helpers.js';

describe('append / read / getView / loadState', () => {
  it('appends durably and reads back every field in order', async () => {
    const clock = manualClock();
    const log = track(await openLog({ dir: await tempDir(), clock: clock.now }));
    const w = new DocWriter();
    const acks = [];
    const bodies: Uint8Array[] = [];
    for (let i = 0; i < 5; i++) {
      const body = w.edit();
      bodies.push(body);
      acks.push(await log.append(input('p1', body, { summary: `edit ${i}`, version: Uint8Array.of(i), view: viewOf(w.doc) })));
      clock.advance(10);
    }
    expect(acks.map((a) => a.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(acks.map((a) => a.lsn)).toEqual([1, 2, 3, 4, 5]);
    const entries = await collect(log.read('p1'));
    expect(entries.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(entries.map((e) => e.body)).toEqual(bodies);
    expect(entries[2]).toMatchObject({ stream: 'p1', actor: 'alice', origin: 'local', summary: 'edit 2', version: Uint8Array.of(2), ts: clock.now() - 30 });
    expect(entries[0]?.prevHash).toEqual(new Uint8Array(32));
    expect(entries[1]?.prevHash).toEqual(entries[0]?.hash);
    expect(entries.map((e) => e.hash)).toEqual(acks.map((a) => a.hash));
    expect(log.head('p1')).toEqual({ seq: 5, lsn: 5, ts: clock.now() - 10, hash: acks[4]?.hash });
    expect(await log.getView('p1')).toEqual(viewOf(w.doc));
    const st = await log.loadState('p1');
    const d = new Y.Doc();
    Y.applyUpdate(d, st.state);
    expect(d.getMap('profile').toJSON()).toEqual(w.doc.getMap('profile').toJSON());
    expect(st).toMatchObject({ seq: 5, snapshotSeq: 0, tailEntries: 5 });
    expect(st.updates).toEqual(bodies);
    expect(log.streams()).toEqual(['p1']);
    expect(log.info()).toMatchObject({ formatVersion: FORMAT_VERSION, codecId: 'plain', streams: 1, lastLsn: 5 });
  });

  it('keeps entries without summary/version/view, and reserved # streams', async () => {
    const log = track(await openLog({ dir: await tempDir() }));
    await log.append({ stream: '#audit', body: bytes(1, 2, 3), actor: 'sys', origin: 'local' });
    const [e] = await collect(log.read('#audit'));
    expect(e).toMatchObject({ summary: '', version: undefined, body: bytes(1, 2, 3) });
    expect(await log.getView('#audit')).toBeUndefined();
  });

  it('survives reopen: heads, lsn and streams are loaded, appends continue the chain', async () => {
    const dir = await tempDir();
    const clock = manualClock();
    let log = await openLog({ dir, clock: clock.now });
    await log.append(input('a', bytes(1)));
    await log.append(input('b', bytes(2)));
    const h = log.head('a');
    await log.close();
    clock.set(clock.now() - 1000); // the clock went backwards: ts stays monotonic per stream
    log = track(await openLog({ dir, clock: clock.now }));
    expect(log.streams()).toEqual(['a', 'b']);
    expect(log.head('a')).toEqual(h);
    const ack = await log.append(input('a', bytes(3)));
    expect(ack).toMatchObject({ seq: 2, lsn: 3, ts: h?.ts });
    const entries = await collect(log.read('a'));
    expect(entries[1]?.prevHash).toEqual(h?.hash);
  });

  it('group-commits concurrent appends: per-stream call order, one lsn sequence', async () => {
    const log = track(await openLog({ dir: await tempDir() }));
    const batches: LogEvents['batch-committed'][] = [];
    log.on('batch-committed', (e) => batches.push(e));
    const acks = await Promise.all(Array.from({ length: 60 }, (_, i) => log.append(input(`s${i % 3}`, bytes(i)))));
    expect(batches.length).toBeLessThan(60);
    expect(batches.reduce((n, b) => n + b.entries, 0)).toBe(60);
    // the synced write is part of the batch's duration
    for (const b of batches) {
      expect(b.writeMillis).toBeGreaterThanOrEqual(0);
      expect(b.writeMillis).toBeLessThanOrEqual(b.durationMillis);
    }
    for (let s = 0; s < 3; s++) {
      const mine = acks.filter((a) => a.stream === `s${s}`);
      expect(mine.map((a) => a.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      const entries = await collect(log.read(`s${s}`));
      expect(entries.map((e) => e.body[0])).toEqual(Array.from({ length: 20 }, (_, i) => i * 3 + s));
    }
    expect([...acks.map((a) => a.lsn)].sort((a, b) => a - b)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
  });

  it('appendMany commits all entries in one batch with consecutive lsns', async () => {
    const log = track(await openLog({ dir: await tempDir() }));
    const batches: number[] = [];
    log.on('batch-committed', (e) => batches.push(e.entries));
    const acks = await log.appendMany([input('x', bytes(1)), input('y', bytes(2)), input('x', bytes(3), { view: bytes(9) })]);
    expect(acks.map((a) => [a.stream, a.seq, a.lsn])).toEqual([['x', 1, 1], ['y', 1, 2], ['x', 2, 3]]);
    expect(batches).toEqual([3]);
    expect(await log.getView('x')).toEqual(bytes(9));
    expect(await log.appendMany([])).toEqual([]);
  });

  it('only the last view of a stream in a batch is written', async () => {
    const log = track(await openLog({ dir: await tempDir() }));
    await log.appendMany([input('x', bytes(1), { view: bytes(1) }), input('x', bytes(2), { view: bytes(2) }), input('x', bytes(3))]);
    expect(await log.getView('x')).toEqual(bytes(2));
  });

  it('copies inputs: mutating buffers after append changes nothing', async () => {
    const log = track(await openLog({ dir: await tempDir() }));
    const body = bytes(1, 2, 3);
    const view = bytes(7);
    const p = log.append(input('x', body, { view }));
    body[0] = 99;
    view[0] = 99;
    await p;
    expect((await collect(log.read('x')))[0]?.body).toEqual(bytes(1, 2, 3));
    expect(await log.getView('x')).toEqual(bytes(7));
  });
});

describe('read ranges', () => {
  async function tenEntries() {
    const clock = manualClock(1000);
    const log = track(await openLog({ dir: await tempDir(), clock: clock.now }));
    for (let i = 1; i <= 10; i++) {
      await log.append(input('s', bytes(i)));
      await log.append(input('other', bytes(i)));
      clock.advance(100);
    }
    return log;
  }
  const seqs = async (it: AsyncIterable<{ seq: number }>) => (await collect(it)).map((e) => e.seq);

  it('by seq, reverse, limit', async () => {
    const log = await tenEntries();
    expect(await seqs(log.read('s', { fromSeq: 3, toSeq: 5 }))).toEqual([3, 4, 5]);
    expect(await seqs(log.read('s', { fromSeq: 8 }))).toEqual([8, 9, 10]);
    expect(await seqs(log.read('s', { toSeq: 99 }))).toHaveLength(10);
    expect(await seqs(log.read('s', { reverse: true, limit: 3 }))).toEqual([10, 9, 8]);
    expect(await seqs(log.read('s', { fromSeq: 2, toSeq: 4, reverse: true }))).toEqual([4, 3, 2]);
    expect(await seqs(log.read('s', { limit: 2 }))).toEqual([1, 2]);
    expect(await seqs(log.read('s', { limit: 0 }))).toEqual([]);
    expect(await seqs(log.read('s', { fromSeq: 6, toSeq: 5 }))).toEqual([]);
  });

  it('by time (inclusive) and by lsn', async () => {
    const log = await tenEntries();
    // entry i has ts 1000 + (i-1)*100 and lsn 2i-1
    expect(await seqs(log.read('s', { fromTs: 1200, toTs: 1400 }))).toEqual([3, 4, 5]);
    expect(await seqs(log.read('s', { fromTs: 1150, toTs: 1249 }))).toEqual([3]);
    expect(await seqs(log.read('s', { toTs: 999 }))).toEqual([]);
    expect(await seqs(log.read('s', { fromTs: 5000 }))).toEqual([]);
    expect(await seqs(log.read('s', { untilLsn: 7 }))).toEqual([1, 2, 3, 4]);
    expect(await seqs(log.read('s', { untilLsn: 8, reverse: true, limit: 2 }))).toEqual([4, 3]);
    expect(await seqs(log.read('s', { untilLsn: 0 }))).toEqual([]);
  });
});

describe('snapshots and loadState', () => {
  it('writes snapshots in the background and loadState uses them', async () => {
    const log = track(await openLog({ dir: await tempDir(), snapshotPolicy: snapshotEvery(8) }));
    const written: number[] = [];
    log.on('snapshot-written', (e) => written.push(e.seq));
    const w = new DocWriter();
    for (let i = 0; i < 30; i++) await log.append(input('p1', w.edit(), { view: viewOf(w.doc) }));
    await log.idle();
    expect(written).toEqual([8, 16, 24]);
    const st = await log.loadState('p1');
    expect(st.snapshotSeq).toBe(24);
    expect(st.tailEntries).toBe(6);
    expect(st.updates).toHaveLength(7);
    expect(materialize('p1', st.state, { seq: 30, lsn: 30, ts: 0, actor: '', origin: '' })).toEqual(viewOf(w.doc));
    const at10 = await log.loadState('p1', { untilSeq: 10 });
    expect(at10).toMatchObject({ seq: 10, snapshotSeq: 8, tailEntries: 2 });
    const at8 = await log.loadState('p1', { untilSeq: 8 });
    expect(at8).toMatchObject({ seq: 8, snapshotSeq: 8, tailEntries: 0 });
    expect(await log.loadState('p1', { untilSeq: 1000 })).toMatchObject({ seq: 30 });
  });

  it('loadState keeps deleted content (gc: false), so past versions stay reconstructible', async () => {
    const log = track(await openLog({ dir: await tempDir(), snapshotPolicy: snapshotEvery(2) }));
    const doc = new Y.Doc({ gc: false });
    const text = doc.getText('t');
    const ups: Uint8Array[] = [];
    doc.on('update', (u: Uint8Array) => ups.push(u));
    text.insert(0, 'hello world');
    const snap = Y.snapshot(doc);
    text.delete(0, 6);
    text.insert(0, 'HELLO ');
    for (const u of ups) await log.append(input('t', u));
    await log.idle();
    const st = await log.loadState('t');
    expect(st.snapshotSeq).toBe(2);
    const loaded = new Y.Doc({ gc: false });
    Y.applyUpdate(loaded, st.state);
    expect(Y.createDocFromSnapshot(loaded, snap).getText('t').toString()).toBe('hello world');
  });

  it('a stream reopened later resumes snapshotting where it left off', async () => {
    const dir = await tempDir();
    let log = await openLog({ dir, snapshotPolicy: snapshotEvery(5) });
    const w = new DocWriter();
    for (let i = 0; i < 7; i++) await log.append(input('p', w.edit()));
    await log.close();
    log = track(await openLog({ dir, snapshotPolicy: snapshotEvery(5) }));
    const written: number[] = [];
    log.on('snapshot-written', (e) => written.push(e.seq));
    for (let i = 0; i < 5; i++) await log.append(input('p', w.edit()));
    await log.idle();
    expect(written).toEqual([10]);
  });
});

describe('aux records', () => {
  it('put / get / list / delete', async () => {
    const log = track(await openLog({ dir: await tempDir() }));
    await log.putAux('token:1', bytes(1));
    await log.putAux('token:2', bytes(2));
    await log.putAux('peer:a', bytes(3));
    await log.putAux('token:2', bytes(4));
    expect(await log.getAux('token:2')).toEqual(bytes(4));
    expect(await log.getAux('missing')).toBeUndefined();
    expect(await log.listAux('token:')).toEqual(['token:1', 'token:2']);
    expect(await log.listAux('')).toEqual(['peer:a', 'token:1', 'token:2']);
    await log.deleteAux('token:1');
    expect(await log.listAux('token')).toEqual(['token:2']);
    await log.putAux('empty', new Uint8Array(0));
    expect(await log.getAux('empty')).toEqual(new Uint8Array(0));
  });
});

describe('events', () => {
  it('emits appended and batch-committed with durations; unsubscribe works', async () => {
    const log = track(await openLog({ dir: await tempDir() }));
    const appended: LogEvents['appended'][] = [];
    const off = log.on('appended', (e) => appended.push(e));
    await log.append(input('a', bytes(1, 2)));
    off();
    await log.append(input('a', bytes(3)));
    expect(appended).toHaveLength(1);
    expect(appended[0]).toMatchObject({ stream: 'a', seq: 1, lsn: 1 });
    expect(appended[0]?.durationMillis).toBeGreaterThanOrEqual(0);
  });

  it('a throwing listener does not break appends', async () => {
    const log = track(await openLog({ dir: await tempDir() }));
    const warnings: string[] = [];
    const onWarn = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarn);
    log.on('batch-committed', () => {
      throw new Error('listener bug');
    });
    await expect(log.append(input('a', bytes(1)))).resolves.toMatchObject({ seq: 1 });
    await new Promise((r) => setImmediate(r));
    process.off('warning', onWarn);
    expect(warnings.some((w) => w.includes('listener bug'))).toBe(true);
  });
});

describe('bad input and lifecycle errors', () => {
  it('LOG_INVALID_ARGUMENT for bad appends, and the log does not grow', async () => {
    const log = track(await openLog({ dir: await tempDir() }));
    const bad: unknown[] = [
      null,
      { ...input('ok', bytes(1)), stream: '' },
      { ...input('ok', bytes(1)), stream: 'has space' },
      { ...input('ok', bytes(1)), stream: 'x'.repeat(129) },
      { ...input('ok', bytes(1)), stream: '##x' },
      { ...input('ok', bytes(1)), stream: 42 },
      input('ok', new Uint8Array(0)),
      { ...input('ok', bytes(1)), body: 'text' },
      { ...input('ok', bytes(1)), actor: '' },
      { ...input('ok', bytes(1)), origin: 7 },
      { ...input('ok', bytes(1)), actor: 'bad\uD800' },
      { ...input('ok', bytes(1)), summary: 'x'.repeat(5000) },
      { ...input('ok', bytes(1)), version: 'v1' },
      { ...input('ok', bytes(1)), view: [1, 2] },
    ];
    for (const b of bad) expect(await codeOf(log.append(b as AppendInput))).toBe('LOG_INVALID_ARGUMENT');
    expect(await codeOf(log.appendMany([input('ok', bytes(1)), bad[1] as AppendInput]))).toBe('LOG_INVALID_ARGUMENT');
    expect(await codeOf(log.appendMany('no' as unknown as AppendInput[]))).toBe('LOG_INVALID_ARGUMENT');
    expect(log.streams()).toEqual([]);
    expect(log.info().lastLsn).toBe(0);
  });

  it('LOG_INVALID_ARGUMENT for bad ranges, names and options', async () => {
    const log = track(await openLog({ dir: await tempDir() }));
    await log.append(input('s', bytes(1)));
    for (const r of [{ fromSeq: 0 }, { toSeq: -1 }, { fromTs: 1.5 }, { limit: -1 }, { reverse: 'yes' }, { untilLsn: Number.NaN }, 'x']) {
      expect(await codeOf(collect(log.read('s', r as never)))).toBe('LOG_INVALID_ARGUMENT');
    }
    expect(await codeOf(log.loadState('s', { untilSeq: 0 }))).toBe('LOG_INVALID_ARGUMENT');
    expect(await codeOf(log.getView('bad name'))).toBe('LOG_INVALID_ARGUMENT');
    expect(await codeOf(log.putAux('', bytes(1)))).toBe('LOG_INVALID_ARGUMENT');
    expect(await codeOf(log.putAux('n', 'v' as never))).toBe('LOG_INVALID_ARGUMENT');
    expect(await codeOf(log.getAux(5 as never))).toBe('LOG_INVALID_ARGUMENT');
    expect(codeOf(() => log.head('a b'))).toBe('LOG_INVALID_ARGUMENT');
    expect(await codeOf(openLog({ dir: '' }))).toBe('LOG_INVALID_ARGUMENT');
    expect(await codeOf(openLog({ dir: await tempDir(), maxBatchEntries: 0 }))).toBe('LOG_INVALID_ARGUMENT');
    expect(await codeOf(openLog({ dir: await tempDir(), codec: { id: '' } as never }))).toBe('LOG_INVALID_ARGUMENT');
    // encodeInto needs a fixed, non-negative overhead
    const half = { id: 'half', encode: (_p: unknown, b: Uint8Array) => b, decode: (_p: unknown, b: Uint8Array) => b, encodeInto: () => undefined };
    expect(await codeOf(openLog({ dir: await tempDir(), codec: half as never }))).toBe('LOG_INVALID_ARGUMENT');
    expect(await codeOf(openLog({ dir: await tempDir(), codec: { ...half, overhead: -1 } as never }))).toBe('LOG_INVALID_ARGUMENT');
  });

  it('LOG_STREAM_NOT_FOUND for unknown streams; head() is undefined', async () => {
    const log = track(await openLog({ dir: await tempDir() }));
    expect(await codeOf(collect(log.read('nope')))).toBe('LOG_STREAM_NOT_FOUND');
    expect(await codeOf(log.loadState('nope'))).toBe('LOG_STREAM_NOT_FOUND');
    expect(await codeOf(log.getView('nope'))).toBe('LOG_STREAM_NOT_FOUND');
    expect(log.head('nope')).toBeUndefined();
  });

  it('LOG_CLOSED after close; close waits for queued appends', async () => {
    const log = await openLog({ dir: await tempDir() });
    const pending = Promise.all([log.append(input('a', bytes(1))), log.append(input('a', bytes(2)))]);
    await log.close();
    await expect(pending).resolves.toHaveLength(2);
    expect(await codeOf(log.append(input('a', bytes(3))))).toBe('LOG_CLOSED');
    expect(await codeOf(collect(log.read('a')))).toBe('LOG_CLOSED');
    expect(await codeOf(log.getAux('x'))).toBe('LOG_CLOSED');
    expect(await codeOf(log.verify())).toBe('LOG_CLOSED');
    expect(codeOf(() => log.streams())).toBe('LOG_CLOSED');
    await log.close(); // idempotent
  });

  it('LOG_OPEN_FAILED when the dir cannot hold a DB (a file is in the way)', async () => {
    const file = join(await tempDir(), 'not-a-dir');
    await writeFile(file, 'x');
    const err = await openLog({ dir: file }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'LOG_OPEN_FAILED', details: { dir: file } });
  });

  it('reserved # streams are opaque: loadState refuses them', async () => {
    const log = track(await openLog({ dir: await tempDir() }));
    await log.append({ stream: '#audit', body: bytes(1), actor: 'a', origin: 'local' });
    expect(await codeOf(log.loadState('#audit'))).toBe('LOG_INVALID_ARGUMENT');
  });

  it('LOG_LOCKED names the dir when the same dir is opened twice', async () => {
    const dir = await tempDir();
    track(await openLog({ dir }));
    const err = await openLog({ dir }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'LOG_LOCKED' });
    expect((err as Error).message).toContain(dir);
  });
});
