/**
 * The newest snapshot seq per stream (StreamTable.snapshotSeqs, docs/storage-format.md §7, §14):
 * a cold load reads its snapshot with one point read instead of a reverse iterator, from what
 * the log wrote, what a read from the head found, or what the open index carried over a restart.
 * It is a hint: a wrong one costs the iterator, never a wrong state.
 */
import { describe, expect, it } from 'vitest';
import { openLog, plainCodec, snapshotEvery, type EventLog } from '../src/index.js';
import { P_SNAPSHOT } from '../src/keys.js';
import { decodeOpenIndex, OPEN_INDEX_KEY } from '../src/open-index.js';
import { frame, unframe } from '../src/records.js';
import { DocWriter, input, loadSummary, tempDir, track, viewOf, withRawDb } from './helpers.js';

const policy = snapshotEvery(8);
/** no rest states: these cases are about finding snapshots (rest-states.test.ts has its own) */
const restStates = false;
const STREAMS = ['a', 'b', 'c', 'd'];

/** Counts what reaches LevelDB for snapshot keys: iterators over them and point reads of them. */
function counting(opts: { hide?: boolean; damage?: boolean } = {}) {
  const seen = { iterators: 0, pointReads: 0 };
  const isSnapshotKey = (k: unknown): boolean => k instanceof Uint8Array && k[0] === P_SNAPSHOT;
  const wrapDb = (db: unknown): unknown =>
    new Proxy(db as object, {
      get(target, prop) {
        const v = Reflect.get(target, prop, target) as unknown;
        if (prop === 'iterator') {
          return (o: { gte?: unknown; gt?: unknown }) => {
            if (isSnapshotKey(o?.gte ?? o?.gt)) seen.iterators++;
            return (v as (o: unknown) => unknown).call(target, o);
          };
        }
        if (prop === 'getSync') {
          return (k: Uint8Array) => {
            const got = (v as (k: Uint8Array) => Uint8Array | undefined).call(target, k);
            if (!isSnapshotKey(k)) return got;
            seen.pointReads++;
            if (opts.hide === true) return undefined; // as if the hinted value were gone
            if (opts.damage === true && got !== undefined) {
              const bad = Uint8Array.from(got);
              bad[bad.byteLength - 1] = (bad[bad.byteLength - 1] as number) ^ 0x55;
              return bad;
            }
            return got;
          };
        }
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  return { seen, wrapDb };
}

/** 4 streams x 21 entries: snapshots at 8 and 16, a tail of 5. */
async function makeLog(): Promise<string> {
  const dir = await tempDir('pssnapseq-');
  const log = track(await openLog({ dir, snapshotPolicy: policy, restStates }));
  const docs = new Map(STREAMS.map((s) => [s, new DocWriter()]));
  for (let r = 0; r < 21; r++) {
    for (const s of STREAMS) {
      const w = docs.get(s) as DocWriter;
      await log.append(input(s, w.edit(), { view: viewOf(w.doc) }));
    }
  }
  await log.idle();
  await log.close();
  return dir;
}

const summary = loadSummary;

async function loadAll(log: EventLog) {
  const out: Record<string, ReturnType<typeof summary>> = {};
  for (const s of STREAMS) out[s] = summary(await log.loadState(s));
  return out;
}

describe('snapshot seqs', () => {
  it('after a clean close a cold load reads its snapshot with one point read; a scan-open learns it on the first load; the states are the same', async () => {
    const dir = await makeLog();
    const byIndex = counting();
    const log = track(await openLog({ dir, snapshotPolicy: policy, restStates, wrapDb: byIndex.wrapDb }));
    expect(log.info().openedFrom).toBe('open-index');
    const expected = await loadAll(log);
    for (const s of STREAMS) expect(expected[s]).toMatchObject({ seq: 21, base: 16, tail: 5 });
    expect(byIndex.seen).toEqual({ iterators: 0, pointReads: STREAMS.length });
    await log.close();

    // the index gone (the raw open moves the MANIFEST too): the open scans and knows no snapshot seq
    await withRawDb(dir, (db) => db.del(OPEN_INDEX_KEY));
    const byScan = counting();
    const scanned = track(await openLog({ dir, snapshotPolicy: policy, restStates, wrapDb: byScan.wrapDb }));
    expect(scanned.info().openedFrom).toBe('scan');
    expect(await loadAll(scanned)).toEqual(expected);
    expect(byScan.seen).toEqual({ iterators: STREAMS.length, pointReads: 0 });
    // the first load from the head taught it the newest: the second reads it directly
    expect(await loadAll(scanned)).toEqual(expected);
    expect(byScan.seen).toEqual({ iterators: STREAMS.length, pointReads: STREAMS.length });
    // a load of an older seq still searches below it
    const old = await scanned.loadState('a', { untilSeq: 12 });
    expect(old).toMatchObject({ seq: 12, snapshotSeq: 8, tailEntries: 4 });
    expect(byScan.seen.iterators).toBe(STREAMS.length + 1);
    await scanned.close();
  });

  it('learns the snapshots it writes: the next close carries them, and the open after it reads them directly', async () => {
    const dir = await makeLog();
    const log = track(await openLog({ dir, snapshotPolicy: policy, restStates }));
    const w = new DocWriter();
    for (let i = 0; i < 9; i++) await log.append(input('e', w.edit(), { view: viewOf(w.doc) })); // a point at 8
    await log.idle();
    await log.close();
    const again = counting();
    const reopened = track(await openLog({ dir, snapshotPolicy: policy, restStates, wrapDb: again.wrapDb }));
    expect(reopened.info().openedFrom).toBe('open-index');
    expect(await reopened.loadState('e')).toMatchObject({ seq: 9, snapshotSeq: 8, tailEntries: 1 });
    expect(again.seen).toEqual({ iterators: 0, pointReads: 1 });
    await reopened.close();
  });

  it('a hinted snapshot that is gone or unreadable costs the iterator, never a wrong state', async () => {
    const dir = await makeLog();
    const plain = track(await openLog({ dir, snapshotPolicy: policy, restStates }));
    const expected = await loadAll(plain);
    await plain.close();

    const gone = counting({ hide: true });
    const a = track(await openLog({ dir, snapshotPolicy: policy, restStates, wrapDb: gone.wrapDb }));
    expect(a.info().openedFrom).toBe('open-index');
    expect(await loadAll(a)).toEqual(expected);
    expect(gone.seen).toEqual({ iterators: STREAMS.length, pointReads: STREAMS.length });
    // the missing one was forgotten, then learned again from the iterator's answer
    expect(await loadAll(a)).toEqual(expected);
    expect(gone.seen.pointReads).toBe(2 * STREAMS.length);
    await a.close();

    const damaged = counting({ damage: true });
    const b = track(await openLog({ dir, snapshotPolicy: policy, restStates, wrapDb: damaged.wrapDb }));
    const corruption: string[] = [];
    b.on('corruption', (c) => corruption.push(`${c.stream}/${c.seq}/${c.kind}`));
    expect(b.info().openedFrom).toBe('open-index');
    // the damaged point read is reported; the iterator (which reads the stored bytes) skips that
    // seq too, so the state comes from the snapshot before it and a longer tail: the same state
    const got = await loadAll(b);
    for (const s of STREAMS) expect(got[s]).toEqual({ ...expected[s], base: 8, tail: 13 });
    expect(corruption).toEqual(STREAMS.map((s) => `${s}/16/snapshot`));
    expect(b.damage().streams).toEqual([]); // snapshots are derived: nothing is marked damaged
    await b.close();
  });

  it('an open index of version 1 (no snapshot seqs) is still read', async () => {
    const dir = await makeLog();
    const v2 = (await withRawDb(dir, (db) => db.get(OPEN_INDEX_KEY))) as Uint8Array;
    const parsed = decodeOpenIndex(v2, plainCodec);
    expect(parsed.snapshots).toEqual(new Map([[1, 16], [2, 16], [3, 16], [4, 16]]));
    // version 1 = the same record without the trailing snapshot section (u32 count + 12 bytes each)
    const plainText = unframe(v2, 0, 'open index', {}).stored;
    const v1 = Uint8Array.from(plainText.subarray(0, plainText.byteLength - 4 - parsed.snapshots.size * 12));
    v1[0] = 1;
    const old = decodeOpenIndex(frame(new Uint8Array(0), v1), plainCodec);
    expect(old.snapshots).toEqual(new Map());
    expect(old.names).toEqual(parsed.names);
    expect(old.heads).toEqual(parsed.heads);
    // a version 2 record cut short of its section does not parse
    const cut = Uint8Array.from(plainText.subarray(0, plainText.byteLength - 12));
    expect(() => decodeOpenIndex(frame(new Uint8Array(0), cut), plainCodec)).toThrow();
  });
});
