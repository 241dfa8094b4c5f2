import { describe, expect, it } from 'vitest';
import { openLog, snapshotEvery, type BrokenRecord, type EventLog, type LogCodec, type LogEvents } from '../src/index.js';
import { bytes, codeOf, collect, DocWriter, input, materialize, rawEntries, tempDir, testCodec, track, viewOf, withRawDb } from './helpers.js';

const policy = snapshotEvery(4);

/** Closed log with streams a (10 entries), b (10 entries), snapshots at 4 and 8, views, one aux record. */
async function makeLog(codec?: LogCodec): Promise<string> {
  const dir = await tempDir();
  // no rest states: these cases are about snapshots (rest-states.test.ts has its own)
  const log = await openLog({ dir, snapshotPolicy: policy, restStates: false, ...(codec ? { codec } : {}) });
  const docs = { a: new DocWriter(), b: new DocWriter() };
  for (let i = 0; i < 10; i++) {
    for (const s of ['a', 'b'] as const) await log.append(input(s, docs[s].edit(), { view: viewOf(docs[s].doc) }));
  }
  await log.putAux('token:1', Uint8Array.of(1, 2, 3));
  await log.close();
  return dir;
}

const open = async (dir: string, codec?: LogCodec): Promise<EventLog> =>
  track(await openLog({ dir, snapshotPolicy: policy, ...(codec ? { codec } : {}) }));

const key = (prefix: string, stream: number, seq?: number): Uint8Array => {
  const k = new Uint8Array(seq === undefined ? 5 : 13);
  k[0] = prefix.charCodeAt(0);
  new DataView(k.buffer).setUint32(1, stream);
  if (seq !== undefined) new DataView(k.buffer).setUint32(9, seq);
  return k;
};
// stream numbers: a = 1, b = 2 (allocated in first-append order)

async function flip(dir: string, k: Uint8Array, offsetFromEnd = 1): Promise<void> {
  await withRawDb(dir, async (db) => {
    const v = await db.get(k);
    if (v === undefined) throw new Error('no such key');
    const copy = new Uint8Array(v);
    copy[copy.byteLength - offsetFromEnd] = (copy[copy.byteLength - offsetFromEnd] as number) ^ 0x01;
    await db.put(k, copy);
  });
}

const kinds = (broken: BrokenRecord[]) => broken.map((b) => `${b.stream}/${b.seq}/${b.kind}`).sort();

describe('verify', () => {
  it('reports a clean log as ok, with progress per stream', async () => {
    const log = await open(await makeLog());
    const progress: LogEvents['verify-progress'][] = [];
    const report = await log.verify({ onProgress: (p) => progress.push(p) });
    expect(report).toMatchObject({ ok: true, streams: 2, entries: 20, broken: [] });
    expect(progress.map((p) => [p.done, p.total, p.stream])).toEqual([[1, 2, 'a'], [2, 2, 'b']]);
  });

  it('a flipped payload byte: verify reports checksum; the stream is then damaged (LOG_STREAM_DAMAGED) until replaced', async () => {
    const dir = await makeLog();
    await flip(dir, key('E', 1, 3));
    const log = await open(dir);
    const events: BrokenRecord[] = [];
    log.on('corruption', (e) => events.push(e));
    const report = await log.verify();
    expect(report.ok).toBe(false);
    expect(kinds(report.broken)).toEqual(['a/3/checksum']);
    expect(await codeOf(collect(log.read('a', { allowDamaged: true })))).toBe('LOG_CHECKSUM_MISMATCH');
    // entries before the broken one are still served
    expect((await collect(log.read('a', { toSeq: 2, allowDamaged: true }))).map((e) => e.seq)).toEqual([1, 2]);
    expect(events.some((e) => e.stream === 'a' && e.seq === 3 && e.kind === 'checksum')).toBe(true);
    // known damaged: no state, view, read or append of it is served as if it were intact
    for (const op of [() => log.loadState('a'), () => log.getView('a'), () => collect(log.read('a', { toSeq: 2 })), () => log.append(input('a', bytes(1)))]) {
      expect(await codeOf(op())).toBe('LOG_STREAM_DAMAGED');
    }
    expect(log.isDamaged('a')).toBe(true);
    expect(log.damage().streams).toEqual([{ stream: 'a', named: true, findings: [expect.objectContaining({ stream: 'a', seq: 3, kind: 'checksum' })] }]);
    // the other stream is untouched
    expect(log.isDamaged('b')).toBe(false);
    expect((await collect(log.read('b'))).length).toBe(10);
    expect((await log.loadState('b')).seq).toBe(10);
    // a repair replaces it with a new chain segment: readable again, the old one retired
    const doc = new DocWriter();
    const acks = await log.replaceStream('a', [{ body: doc.edit(), actor: 'repair', origin: 'local', summary: 'repair' }]);
    expect(acks.map((a) => a.seq)).toEqual([1]);
    expect(log.isDamaged('a')).toBe(false);
    expect((await collect(log.read('a'))).map((e) => e.actor)).toEqual(['repair']);
    const after = await log.verify();
    expect(after).toMatchObject({ ok: true, retired: 1 });
    expect(log.streams().sort()).toEqual(['a', 'b']);
    await log.close();
    const again = await open(dir);
    expect(again.isDamaged('a')).toBe(false);
    expect((await collect(again.read('a'))).map((e) => e.actor)).toEqual(['repair']);
    expect(again.streams().sort()).toEqual(['a', 'b']);
  });

  it('a flipped header byte (lsn) is a checksum mismatch too', async () => {
    const dir = await makeLog();
    await withRawDb(dir, async (db) => {
      const v = new Uint8Array((await db.get(key('E', 2, 5))) as Uint8Array);
      v[9] = (v[9] as number) ^ 0x80;
      await db.put(key('E', 2, 5), v);
    });
    const log = await open(dir);
    expect(kinds((await log.verify()).broken)).toEqual(['b/5/checksum']);
    expect(await codeOf(collect(log.read('b', { fromSeq: 5, toSeq: 5, allowDamaged: true })))).toBe('LOG_CHECKSUM_MISMATCH');
  });

  it('an entry moved from another stream breaks the chain (LOG_CORRUPT on read)', async () => {
    const dir = await makeLog();
    await withRawDb(dir, async (db) => db.put(key('E', 1, 6), (await db.get(key('E', 2, 6))) as Uint8Array));
    const log = await open(dir);
    expect(kinds((await log.verify()).broken)).toEqual(['a/6/chain', 'a/7/chain']);
    expect(await codeOf(collect(log.read('a', { allowDamaged: true })))).toBe('LOG_CORRUPT');
    expect(await codeOf(collect(log.read('a', { reverse: true, allowDamaged: true })))).toBe('LOG_CORRUPT');
  });

  it('with an authenticating codec a moved entry also fails to decode', async () => {
    const codec = testCodec();
    const dir = await makeLog(codec);
    await withRawDb(dir, async (db) => db.put(key('E', 1, 6), (await db.get(key('E', 2, 6))) as Uint8Array));
    const log = await open(dir, codec);
    expect(kinds((await log.verify()).broken)).toContain('a/6/decode');
    expect(await codeOf(collect(log.read('a', { fromSeq: 6, toSeq: 6, allowDamaged: true })))).toBe('TEST_AUTH_FAILED');
  });

  it('a deleted middle entry is a gap; a deleted last entry disagrees with the head', async () => {
    const dir = await makeLog();
    await withRawDb(dir, async (db) => {
      await db.del(key('E', 1, 5));
      await db.del(key('E', 2, 10));
    });
    const log = await open(dir);
    expect(kinds((await log.verify()).broken)).toEqual(['a/5/gap', 'b/10/head', 'b/10/view']);
    expect(await codeOf(collect(log.read('a', { allowDamaged: true })))).toBe('LOG_CORRUPT');
    expect(await codeOf(collect(log.read('b', { allowDamaged: true })))).toBe('LOG_CORRUPT');
    expect((await collect(log.read('b', { toSeq: 9, allowDamaged: true }))).length).toBe(9);
  });

  it('short ranges fail the same way with getSync point reads and with iterators (a handle without getSync)', async () => {
    const dir = await makeLog();
    await withRawDb(dir, async (db) => {
      await db.del(key('E', 1, 5));
      await db.del(key('E', 2, 10));
    });
    await flip(dir, key('E', 2, 3));
    const noSync = (db: unknown): unknown => new Proxy(db as object, {
      get(target, prop) {
        if (prop === 'getSync') return undefined;
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const outcomes: string[][] = [];
    for (const wrapDb of [undefined, noSync]) {
      const log = track(await openLog({ dir, snapshotPolicy: policy, ...(wrapDb ? { wrapDb } : {}) }));
      const seen: string[] = [];
      log.on('corruption', (c) => seen.push(`${c.stream}/${c.seq}/${c.kind}`));
      const got = [
        await codeOf(collect(log.read('a', { allowDamaged: true }))),
        (await collect(log.read('a', { toSeq: 4, allowDamaged: true }))).length,
        await codeOf(collect(log.read('b', { fromSeq: 2, toSeq: 9, allowDamaged: true }))),
        (await collect(log.read('b', { fromSeq: 4, toSeq: 2, allowDamaged: true }))).length,
      ].map(String);
      outcomes.push([...got, ...seen]);
      await log.close();
    }
    expect(outcomes[0]).toEqual(['LOG_CORRUPT', '4', 'LOG_CHECKSUM_MISMATCH', '0', 'a/5/gap', 'b/3/checksum']);
    expect(outcomes[1]).toEqual(outcomes[0]);
  });

  it('a corrupt head is reported; open recovers it from the last entry and appends continue the chain', async () => {
    const dir = await makeLog();
    await flip(dir, key('H', 1));
    const log = await open(dir);
    expect(log.head('a')?.seq).toBe(10);
    expect(kinds((await log.verify()).broken)).toEqual(['a/0/head']);
    const ack = await log.append(input('a', new DocWriter().edit()));
    expect(ack.seq).toBe(11);
    expect((await log.verify()).ok).toBe(true);
  });

  it('corrupt view: verify reports it, getView returns undefined (replay fallback), rebuild repairs it', async () => {
    const dir = await makeLog();
    const before = await rawEntries(dir, 'V');
    await flip(dir, key('V', 1));
    const log = await open(dir);
    const events: BrokenRecord[] = [];
    log.on('corruption', (e) => events.push(e));
    expect(kinds((await log.verify()).broken)).toEqual(['a/0/view']);
    expect(await log.getView('a')).toBeUndefined();
    expect(events.map((e) => e.kind)).toEqual(['view']);
    await log.rebuild(materialize);
    expect((await log.verify()).ok).toBe(true);
    await log.close();
    expect(await rawEntries(dir, 'V')).toEqual(before);
  });

  it('corrupt snapshot: verify reports it, loadState falls back to an older one, rebuild repairs it', async () => {
    const dir = await makeLog();
    const before = await rawEntries(dir, 'S');
    expect(before).toHaveLength(4);
    await flip(dir, key('S', 1, 8), 3);
    const log = await open(dir);
    expect(kinds((await log.verify()).broken)).toEqual(['a/8/snapshot']);
    const st = await log.loadState('a');
    expect(st.snapshotSeq).toBe(4);
    expect(st.tailEntries).toBe(6);
    await log.rebuild(materialize);
    expect((await log.verify()).ok).toBe(true);
    await log.close();
    expect(await rawEntries(dir, 'S')).toEqual(before);
  });

  it('a snapshot that disagrees with the chain is skipped by loadState', async () => {
    const dir = await makeLog();
    // put b's snapshot 8 under a's key: readable, but recorded for another entry hash
    await withRawDb(dir, async (db) => db.put(key('S', 1, 8), (await db.get(key('S', 2, 8))) as Uint8Array));
    const log = await open(dir);
    expect(kinds((await log.verify()).broken)).toEqual(['a/8/snapshot']);
    const st = await log.loadState('a');
    expect(st.snapshotSeq).toBe(4);
  });

  it('a damaged catalog or aux record is restored from its copy at open (reported as repaired); both sides damaged: reported, reading the aux record raises a code', async () => {
    const flipAux = (prefix: number) => withRawDb(dir, async (db) => {
      const aux = [...(await db.keys({ gte: Uint8Array.of(prefix), lt: Uint8Array.of(prefix + 1) }).all())][0] as Uint8Array;
      const v = new Uint8Array((await db.get(aux)) as Uint8Array);
      v[v.byteLength - 1] = (v[v.byteLength - 1] as number) ^ 1;
      await db.put(aux, v);
    });
    const dir = await makeLog();
    // the records only: their copies (c, a) bring them back
    await flip(dir, key('C', 2));
    await flipAux(0x41);
    let log = await open(dir);
    expect(log.streams()).toEqual(['a', 'b']);
    expect(log.damage().repaired.map((r) => r.kind).sort()).toEqual(['aux', 'catalog']);
    expect(await log.getAux('token:1')).toEqual(new Uint8Array([1, 2, 3]));
    expect((await log.verify()).ok).toBe(true);
    await log.close();
    // the records and their copies
    await flip(dir, key('C', 2));
    await flip(dir, key('c', 2));
    await flipAux(0x41);
    await flipAux(0x61);
    await withRawDb(dir, async (db) => db.put(Uint8Array.of(0x5a, 1, 2), Uint8Array.of(1)));
    log = await open(dir);
    expect(log.streams()).toEqual(['a']);
    const report = await log.verify();
    expect(kinds(report.broken)).toEqual(['#2/0/catalog', '#2/0/catalog', '/0/aux', '/0/key']);
    expect(await codeOf(log.getAux('token:1'))).toBe('LOG_CHECKSUM_MISMATCH');
    // a new stream never reuses the orphaned number
    await log.append(input('c', new DocWriter().edit()));
    const again = await log.verify();
    expect(again.broken.filter((b) => b.stream === 'c')).toEqual([]);
  });

  it('an aux record copied under another name is rejected', async () => {
    const dir = await tempDir();
    let log = await openLog({ dir });
    await log.putAux('one', Uint8Array.of(1));
    await log.putAux('two', Uint8Array.of(2));
    await log.close();
    await withRawDb(dir, async (db) => db.put(Uint8Array.from(Buffer.from('Atwo')), (await db.get(Uint8Array.from(Buffer.from('Aone')))) as Uint8Array));
    log = track(await openLog({ dir }));
    expect(await codeOf(log.getAux('two'))).toBe('LOG_CHECKSUM_MISMATCH');
    expect(kinds((await log.verify()).broken)).toEqual(['/0/aux']);
  });
});

describe('rebuild', () => {
  it('deleting every snapshot and view then rebuild() gives byte-identical records', async () => {
    const dir = await makeLog();
    const snaps = await rawEntries(dir, 'S');
    const views = await rawEntries(dir, 'V');
    await withRawDb(dir, async (db) => {
      for (const [k] of [...snaps, ...views]) await db.del(k);
    });
    const log = await open(dir);
    expect(await log.getView('a')).toBeUndefined();
    const progress: number[] = [];
    const r = await log.rebuild(materialize, { onProgress: (p) => progress.push(p.done) });
    expect(r.streams).toBe(2);
    expect(progress).toEqual([1, 2]);
    await log.close();
    expect(await rawEntries(dir, 'S')).toEqual(snaps);
    expect(await rawEntries(dir, 'V')).toEqual(views);
  });

  it('removes snapshots the current policy would not take', async () => {
    const dir = await makeLog();
    const log = track(await openLog({ dir, snapshotPolicy: snapshotEvery(5) }));
    await log.rebuild(materialize);
    await log.close();
    expect((await rawEntries(dir, 'S')).map(([k]) => [k[4], k[12]])).toEqual([[1, 5], [1, 10], [2, 5], [2, 10]]);
  });

  it('runs beside appends without losing or staling anything', async () => {
    const dir = await makeLog();
    const log = await open(dir);
    const w = new DocWriter();
    const writes = Promise.all(Array.from({ length: 50 }, () => log.append(input('c', w.edit(), { view: viewOf(w.doc) }))));
    await log.rebuild(materialize);
    await writes;
    await log.idle();
    expect(await log.getView('c')).toEqual(viewOf(w.doc));
    expect((await log.verify()).ok).toBe(true);
  });
});
