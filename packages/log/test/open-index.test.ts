/**
 * The open index (issue 17.7, docs/storage-format.md §14): a clean close writes every name and
 * head into one record and the next open takes it instead of scanning; it is never used when
 * anything may have changed since it was written, and then the open scans as before.
 */
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openLog, plainCodec, snapshotEvery, type EventLog, type LogCodec } from '../src/index.js';
import { decodeOpenIndex, OPEN_INDEX_KEY } from '../src/open-index.js';
import { SEAL_FILE } from '../src/seal.js';
import { collect, DocWriter, input, tempDir, testCodec, track, viewOf, withRawDb } from './helpers.js';

const policy = snapshotEvery(8);
const open = async (dir: string, codec?: LogCodec): Promise<EventLog> => track(await openLog({ dir, snapshotPolicy: policy, ...(codec ? { codec } : {}) }));

/** Streams, heads and entry counts: what an open must find, whichever way it loads. */
async function stateOf(log: EventLog): Promise<Record<string, { seq: number; hash: string; lsn: number; entries: number }>> {
  const out: Record<string, { seq: number; hash: string; lsn: number; entries: number }> = {};
  for (const s of log.streams()) {
    const h = log.head(s);
    if (h === undefined) throw new Error(`no head for ${s}`);
    out[s] = { seq: h.seq, hash: Buffer.from(h.hash).toString('hex'), lsn: h.lsn, entries: (await collect(log.read(s))).length };
  }
  return out;
}

async function fill(log: EventLog, streams: string[], rounds: number, docs = new Map<string, DocWriter>()): Promise<Map<string, DocWriter>> {
  for (let r = 0; r < rounds; r++) {
    for (const s of streams) {
      if (!docs.has(s)) docs.set(s, new DocWriter());
      const w = docs.get(s) as DocWriter;
      await log.append(input(s, w.edit(), { view: viewOf(w.doc) }));
    }
  }
  return docs;
}

const rawIndex = (dir: string): Promise<Uint8Array | undefined> => withRawDb(dir, (db) => db.get(OPEN_INDEX_KEY) as Promise<Uint8Array | undefined>);

describe('open index', () => {
  it('a clean close writes it; the next open takes it and finds exactly what a scan finds; appends chain on', async () => {
    const dir = await tempDir('psidx-');
    const streams = Array.from({ length: 40 }, (_, i) => `profile-${i}`);
    const first = await open(dir);
    expect(first.info().openedFrom).toBe('scan'); // a new log has no index
    const docs = await fill(first, streams, 3);
    await first.close();

    const byIndex = await open(dir);
    expect(byIndex.info().openedFrom).toBe('open-index');
    const seen = await stateOf(byIndex);
    expect(Object.keys(seen)).toEqual(streams); // stream-number order, as the scan gives it
    // appends after an index open continue every chain: verify checks the chain and heads
    await fill(byIndex, [...streams.slice(0, 5), 'profile-new'], 2, docs);
    expect((await byIndex.verify()).ok).toBe(true);
    const after = await stateOf(byIndex);
    await byIndex.close();

    // the same dir, forced to scan (the index removed by hand): the same state
    await withRawDb(dir, (db) => db.del(OPEN_INDEX_KEY));
    const byScan = await open(dir);
    expect(byScan.info().openedFrom).toBe('scan');
    expect(await stateOf(byScan)).toEqual(after);
    expect(seen['profile-0']?.seq).toBe(3);
    expect(after['profile-0']?.seq).toBe(5);
    expect(after['profile-new']?.seq).toBe(2);
  });

  it('an open deletes it before any write: a crash image taken while running is scanned and holds the writes since', async () => {
    const dir = await tempDir('psidx-');
    const log0 = await open(dir);
    const docs = await fill(log0, ['a', 'b', 'c'], 2);
    await log0.close();

    const running = await openLog({ dir, snapshotPolicy: policy });
    expect(running.info().openedFrom).toBe('open-index');
    await fill(running, ['a', 'd'], 3, docs);
    await running.idle();
    const expected = await stateOf(running);
    const image = await tempDir('psidx-img-');
    await cp(dir, image, { recursive: true }); // the files as a kill -9 leaves them
    await running.close();
    // the delete is in the image (LevelDB replays it from the write-ahead log)
    expect(await rawIndex(image)).toBeUndefined();

    const recovered = await open(image);
    expect(recovered.info().openedFrom).toBe('scan');
    expect(await stateOf(recovered)).toEqual(expected);
    expect(recovered.damage().streams).toEqual([]);
  });

  it('is never used when it may be stale: an old index put back, a changed seal, a foreign open, damaged bytes', async () => {
    const dir = await tempDir('psidx-');
    const log0 = await open(dir);
    const docs = await fill(log0, ['a', 'b'], 2);
    await log0.close();
    const old = await rawIndex(dir);
    expect(old).toBeInstanceOf(Uint8Array);
    const oldSeal = await readFile(join(dir, SEAL_FILE));

    const log1 = await open(dir);
    await fill(log1, ['a', 'c'], 2, docs);
    const expected = await stateOf(log1);
    await log1.close();

    // 1. the old index and the old (clean) seal put back: the MANIFEST named at close differs
    await withRawDb(dir, (db) => db.put(OPEN_INDEX_KEY, old as Uint8Array));
    await writeFile(join(dir, SEAL_FILE), oldSeal);
    const a = await open(dir);
    expect(a.info().openedFrom).toBe('scan');
    expect(await stateOf(a)).toEqual(expected);
    await a.close();

    // 2. a current index, but LevelDB opened by something else since (the raw open below)
    await withRawDb(dir, async () => undefined);
    const b = await open(dir);
    expect(b.info().openedFrom).toBe('scan');
    expect(await stateOf(b)).toEqual(expected);
    await b.close();

    // 3. a seal that is not the one the close wrote (a newer counter)
    const sealBytes = await readFile(join(dir, SEAL_FILE));
    await writeFile(join(dir, SEAL_FILE), sealBytes); // same bytes: still used
    const c = await open(dir);
    expect(c.info().openedFrom).toBe('open-index');
    await c.close();
    await writeFile(join(dir, SEAL_FILE), oldSeal); // an older (clean) seal: another counter
    const d = await open(dir);
    expect(d.info().openedFrom).toBe('scan');
    expect(await stateOf(d)).toEqual(expected);
    await d.close();

    // 4. damaged bytes: whatever byte flips, the record does not parse (frame crc32), so the open
    // scans; read raw here (which itself retires the index: the MANIFEST moves) and decoded directly
    const cur = (await rawIndex(dir)) as Uint8Array;
    expect(decodeOpenIndex(cur, plainCodec).names).toEqual(new Map([[1, 'a'], [2, 'b'], [3, 'c']]));
    for (let at = 0; at < cur.byteLength; at += 7) {
      const flipped = Uint8Array.from(cur);
      flipped[at] = (flipped[at] as number) ^ 0x40;
      expect(() => decodeOpenIndex(flipped, plainCodec), `byte ${at}`).toThrow();
    }
    expect(() => decodeOpenIndex(cur.subarray(0, cur.byteLength - 1), plainCodec)).toThrow();
    const e = await open(dir);
    expect(e.info().openedFrom).toBe('scan');
    expect(await stateOf(e)).toEqual(expected);
    expect(e.damage().streams).toEqual([]);
  });

  it('goes through the codec: no stream name on disk in the clear', async () => {
    const dir = await tempDir('psidx-');
    const codec = testCodec();
    const log0 = await open(dir, codec);
    await fill(log0, ['secret-profile-name'], 2);
    await log0.close();
    const again = await open(dir, codec);
    expect(again.info().openedFrom).toBe('open-index');
    expect(again.streams()).toEqual(['secret-profile-name']);
    await again.close();
    // (read after the last open: a raw LevelDB open starts a new MANIFEST, which retires the index)
    const value = (await rawIndex(dir)) as Uint8Array;
    expect(value.byteLength).toBeGreaterThan(0);
    expect(Buffer.from(value).includes('secret-profile-name')).toBe(false);
    expect(Buffer.from(value).includes('profile')).toBe(false);
  });
});
