/**
 * Rest states (docs/storage-format.md §8): a stream with a tail after its newest snapshot gets
 * its merged state at the head written once it is quiet, or at a clean close; a cold load at
 * that seq reads one record (no tail, no merge). Derived data: never a policy base, checked
 * against the chain like a snapshot, reported and skipped when wrong, dropped by rebuild.
 */
import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { openLog, snapshotEvery, type EventLog, type LogCodec } from '../src/index.js';
import { P_REST } from '../src/keys.js';
import { collect, DocWriter, input, loadSummary, materialize, rawEntries, tempDir, testCodec, track, viewOf, withRawDb } from './helpers.js';

const policy = snapshotEvery(8);
const restKey = (no: number): Uint8Array => Uint8Array.of(P_REST, 0, 0, 0, no);

const summary = loadSummary;

/** a: 13 entries (snapshot at 8, a tail of 5), b: 16 (snapshot at 16, no tail), c: 3 (no snapshot) */
async function fill(log: EventLog, docs = new Map<string, DocWriter>()): Promise<Map<string, DocWriter>> {
  for (const [s, n] of [['a', 13], ['b', 16], ['c', 3]] as const) {
    if (!docs.has(s)) docs.set(s, new DocWriter());
    const w = docs.get(s) as DocWriter;
    for (let i = 0; i < n; i++) await log.append(input(s, w.edit(), { view: viewOf(w.doc) }));
  }
  return docs;
}

async function loads(log: EventLog, streams = ['a', 'b', 'c']) {
  const out: Record<string, ReturnType<typeof summary>> = {};
  for (const s of streams) out[s] = summary(await log.loadState(s));
  return out;
}

const open = async (dir: string, extra: { codec?: LogCodec; restStates?: false | { quietMs?: number; closeBudgetMs?: number } } = {}): Promise<EventLog> =>
  track(await openLog({ dir, snapshotPolicy: policy, ...extra }));

describe('rest states', () => {
  it('a clean close writes them for streams with a tail; the next cold load reads no tail and gives the same document', async () => {
    for (const codec of [undefined, testCodec()]) {
      const dir = await tempDir('psrest-');
      const log = await open(dir, codec ? { codec } : {});
      await fill(log);
      await log.idle(); // the snapshots are written in the background
      const before = await loads(log);
      expect(['a', 'b', 'c'].map((s) => [before[s]?.base, before[s]?.tail])).toEqual([[8, 5], [16, 0], [0, 3]]);
      const written: string[] = [];
      log.on('rest-written', (e) => written.push(`${e.stream}/${e.seq}`));
      await log.close();
      expect(written.sort()).toEqual(['a/13', 'c/3']); // b's head is a snapshot: nothing to add

      const again = await open(dir, codec ? { codec } : {});
      const after = await loads(again);
      expect(after).toEqual({ a: { ...before.a, base: 13, tail: 0 }, b: before.b, c: { ...before.c, base: 3, tail: 0 } });
      expect((await again.verify()).ok).toBe(true);
      await again.close();
      expect(await rawEntries(dir, 'R')).toHaveLength(2);
    }
  });

  it('a stream that goes quiet gets one without a close; appends after it use it as the base of a shorter tail', async () => {
    const dir = await tempDir('psrest-');
    const log = await open(dir, { restStates: { quietMs: 30 } });
    const docs = await fill(log);
    const written: string[] = [];
    log.on('rest-written', (e) => written.push(`${e.stream}/${e.seq}`));
    await expect.poll(() => written.slice().sort(), { timeout: 5000 }).toEqual(['a/13', 'c/3']);
    expect((await log.loadState('a'))).toMatchObject({ snapshotSeq: 13, tailEntries: 0 });
    // two more entries: the rest state at 13 is a newer base than the snapshot at 8
    const w = docs.get('a') as DocWriter;
    for (let i = 0; i < 2; i++) await log.append(input('a', w.edit(), { view: viewOf(w.doc) }));
    const mid = summary(await log.loadState('a'));
    expect([mid.base, mid.tail]).toEqual([13, 2]);
    await expect.poll(() => written.length, { timeout: 5000 }).toBe(3);
    expect(written[2]).toBe('a/15');
    // a snapshot point passed since (16): the snapshot, not the older rest state, is the base
    for (let i = 0; i < 2; i++) await log.append(input('a', w.edit(), { view: viewOf(w.doc) }));
    await log.idle();
    const late = summary(await log.loadState('a', { untilSeq: 16 }));
    expect([late.base, late.tail]).toEqual([16, 0]);
    // the document is the one the entries alone give (no rest state, no snapshot: a replay)
    const replayed = new Y.Doc({ gc: false });
    for (const e of await collect(log.read('a'))) Y.applyUpdate(replayed, e.body);
    expect(summary(await log.loadState('a')).doc).toEqual(replayed.getMap('profile').toJSON());
    expect((await log.verify()).ok).toBe(true);
  });

  it('restStates false writes none; the default close budget 0 writes none either', async () => {
    for (const restStates of [false as const, { closeBudgetMs: 0 }]) {
      const dir = await tempDir('psrest-');
      const log = await open(dir, { restStates });
      await fill(log);
      await log.close();
      expect(await rawEntries(dir, 'R')).toEqual([]);
    }
    await expect(openLog({ dir: await tempDir('psrest-'), restStates: { quietMs: -1 } })).rejects.toMatchObject({ code: 'LOG_INVALID_ARGUMENT' });
    await expect(openLog({ dir: await tempDir('psrest-'), restStates: 5 as never })).rejects.toMatchObject({ code: 'LOG_INVALID_ARGUMENT' });
  });

  it('a damaged or misplaced rest state is reported by verify and by the load, which falls back to snapshot + tail', async () => {
    const dir = await tempDir('psrest-');
    const log = await open(dir);
    await fill(log);
    await log.idle();
    const expected = await loads(log);
    await log.close();
    // a's record (stream 1) damaged; c's (stream 3) replaced by a's: readable, but for another chain
    await withRawDb(dir, async (db) => {
      const a = (await db.get(restKey(1))) as Uint8Array;
      const bad = Uint8Array.from(a);
      bad[bad.byteLength - 2] = (bad[bad.byteLength - 2] as number) ^ 0x11;
      await db.put(restKey(1), bad);
      await db.put(restKey(3), a);
    });
    const reopened = await open(dir, { restStates: false });
    const corruption: string[] = [];
    reopened.on('corruption', (c) => corruption.push(`${c.stream}/${c.seq}/${c.kind}`));
    const report = await reopened.verify();
    expect(report.broken.map((b) => `${b.stream}/${b.seq}/${b.kind}`).sort()).toEqual(['a/0/snapshot', 'c/13/snapshot']);
    expect(report.broken.map((b) => b.message).sort()).toEqual([expect.stringContaining('rest state beyond the last entry'), expect.stringContaining('rest state unreadable')].sort());
    corruption.length = 0;
    expect(await loads(reopened)).toEqual(expected); // a: snapshot 8 + 5; c: a's record is beyond c's head, so unused
    expect(corruption).toEqual(['a/0/snapshot']);
    expect(reopened.damage().streams).toEqual([]); // derived data: nothing is marked damaged
    // rebuild drops them; verify is clean again
    await reopened.rebuild(materialize);
    expect((await reopened.verify()).ok).toBe(true);
    await reopened.close();
    expect(await rawEntries(dir, 'R')).toEqual([]);
  });

  it('a rest state that does not link to the chain at its seq is skipped by the load', async () => {
    const dir = await tempDir('psrest-');
    const log = await open(dir);
    // two streams with the same shape: b's record put under a's key is readable and in range, for another chain
    const docs = new Map([['a', new DocWriter()], ['b', new DocWriter()]]);
    for (const s of ['a', 'b']) {
      const w = docs.get(s) as DocWriter;
      for (let i = 0; i < 11; i++) await log.append(input(s, w.edit(), { view: viewOf(w.doc) }));
    }
    await log.idle();
    const expected = await loads(log, ['a']);
    await log.close();
    await withRawDb(dir, async (db) => db.put(restKey(1), (await db.get(restKey(2))) as Uint8Array));
    const reopened = await open(dir, { restStates: false });
    const corruption: string[] = [];
    reopened.on('corruption', (c) => corruption.push(`${c.stream}/${c.seq}/${c.kind}: ${c.message}`));
    expect(await loads(reopened, ['a'])).toEqual(expected);
    expect(corruption).toEqual(['a/11/snapshot: rest state disagrees with the log']);
    expect((await reopened.verify()).broken.map((b) => `${b.stream}/${b.seq}/${b.kind}`)).toEqual(['a/11/snapshot']);
    // below the head too: a base exactly at the seq asked for is checked against that entry's hash
    const w = docs.get('a') as DocWriter;
    await reopened.append(input('a', w.edit(), { view: viewOf(w.doc) }));
    corruption.length = 0;
    const at11 = loadSummary(await reopened.loadState('a', { untilSeq: 11 }));
    expect(at11).toEqual({ ...expected['a'], base: 8, tail: 3 });
    expect(corruption).toEqual(['a/11/snapshot: rest state disagrees with the log']);
  });
});
