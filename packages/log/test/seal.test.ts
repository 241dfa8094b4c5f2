/**
 * The commit seal (issue 11.2): acknowledged writes that LevelDB silently loses at the end of its
 * write-ahead log are noticed at the next open and pinned to their streams, which then answer
 * LOG_STREAM_DAMAGED instead of serving the older state as current; a stopped log's WAL is empty.
 */
import { cp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openLog, snapshotEvery, type EventLog } from '../src/index.js';
import { SEAL_FILE } from '../src/seal.js';
import { codeOf, collect, DocWriter, input, tempDir, track, viewOf } from './helpers.js';

const policy = snapshotEvery(8);
const open = async (dir: string): Promise<EventLog> => track(await openLog({ dir, snapshotPolicy: policy }));

/** A crash image (the files while the log is open and idle) after `rounds` rounds of one append per stream. */
async function crashImage(streams: string[], rounds: number): Promise<{ image: string; heads: Map<string, number> }> {
  const dir = await tempDir('psseal-');
  const log = await openLog({ dir, snapshotPolicy: policy });
  const docs = new Map(streams.map((s) => [s, new DocWriter()]));
  for (let r = 0; r < rounds; r++) {
    for (const s of streams) {
      const w = docs.get(s) as DocWriter;
      await log.append(input(s, w.edit(), { view: viewOf(w.doc) }));
    }
  }
  await log.idle();
  const heads = new Map(streams.map((s) => [s, log.head(s)?.seq as number]));
  const image = await tempDir('psseal-img-');
  await cp(dir, image, { recursive: true });
  await log.close();
  return { image, heads };
}

async function walOf(dir: string): Promise<string> {
  const logs = (await readdir(dir)).filter((f) => f.endsWith('.log'));
  expect(logs.length).toBe(1);
  return join(dir, logs[0] as string);
}

describe('commit seal', () => {
  it('close flushes LevelDB: a stopped log has an empty write-ahead log and an intact seal', async () => {
    const dir = await tempDir('psseal-');
    const log = await openLog({ dir, snapshotPolicy: policy });
    const w = new DocWriter();
    for (let i = 0; i < 50; i++) await log.append(input('p', w.edit(), { view: viewOf(w.doc) }));
    await log.close();
    for (const f of (await readdir(dir)).filter((n) => n.endsWith('.log'))) expect((await stat(join(dir, f))).size).toBe(0);
    expect((await stat(join(dir, SEAL_FILE))).size).toBeGreaterThan(0);
    const again = await open(dir);
    expect(again.damage()).toEqual({ streams: [], node: [], repaired: [] });
    expect((await collect(again.read('p'))).length).toBe(50);
  });

  it('a truncated WAL tail (acknowledged batches lost) is detected and pinned to the streams it rolled back', async () => {
    const streams = ['a', 'b', 'c', 'd'];
    const { image, heads } = await crashImage(streams, 12);
    const size = (await stat(await walOf(image))).size;
    let rolledBack = 0;
    for (const keep of [0.97, 0.9, 0.75, 0.5]) {
      const dir = await tempDir('psseal-cut-');
      await cp(image, dir, { recursive: true });
      await truncate(await walOf(dir), Math.floor(size * keep));
      const log = await open(dir);
      const report = log.damage();
      for (const s of streams) {
        const head = log.head(s)?.seq ?? 0;
        if (head < (heads.get(s) as number)) {
          // rolled back: never served as current
          rolledBack++;
          expect(log.isDamaged(s), `${s} at ${keep}`).toBe(true);
          expect(report.streams.find((x) => x.stream === s)?.findings[0]?.kind).toBe('rollback');
          expect(await codeOf(log.getView(s))).toBe('LOG_STREAM_DAMAGED');
          expect(await codeOf(log.loadState(s))).toBe('LOG_STREAM_DAMAGED');
          expect(await codeOf(log.append(input(s, new DocWriter().edit())))).toBe('LOG_STREAM_DAMAGED');
        } else {
          expect(log.isDamaged(s)).toBe(false);
          expect((await collect(log.read(s))).length).toBe(heads.get(s));
        }
      }
      const v = await log.verify();
      expect(v.ok).toBe(report.streams.length === 0);
      expect(v.broken.filter((b) => b.kind === 'rollback').map((b) => b.stream).sort()).toEqual(report.streams.map((x) => x.stream).sort());
      await log.close();
    }
    expect(rolledBack).toBeGreaterThan(0);
  });

  it('a stream whose every record was in the lost tail is still known by name (no re-creation)', async () => {
    const dir = await tempDir('psseal-');
    const log = await openLog({ dir, snapshotPolicy: policy });
    const w = new DocWriter();
    for (let i = 0; i < 5; i++) await log.append(input('old', w.edit()));
    await log.close(); // 'old' now lives in a table file
    const log2 = await openLog({ dir, snapshotPolicy: policy });
    await log2.append(input('fresh', new DocWriter().edit()));
    await log2.idle();
    const image = await tempDir('psseal-img-');
    await cp(dir, image, { recursive: true });
    await log2.close();
    await truncate(await walOf(image), 0);
    const log3 = await open(image);
    expect(log3.head('fresh')).toBeUndefined();
    expect(log3.isDamaged('fresh')).toBe(true);
    expect(log3.damage().streams).toEqual([{ stream: 'fresh', named: true, findings: [expect.objectContaining({ kind: 'rollback' })] }]);
    expect(log3.isDamaged('old')).toBe(false);
    expect((await collect(log3.read('old'))).length).toBe(5);
    // repaired by a new segment, it is readable again
    await log3.replaceStream('fresh', [{ body: new DocWriter().edit(), actor: 'repair', origin: 'peer:x' }]);
    expect(log3.isDamaged('fresh')).toBe(false);
    expect(log3.head('fresh')?.seq).toBe(1);
  });

  it('damage found once stays known across restarts until repaired (the seal keeps the ledger)', async () => {
    const { image } = await crashImage(['a', 'b'], 6);
    await truncate(await walOf(image), Math.floor((await stat(await walOf(image))).size * 0.8));
    const first = await openLog({ dir: image, snapshotPolicy: policy });
    const damaged = first.damage().streams.map((s) => s.stream);
    expect(damaged.length).toBeGreaterThan(0);
    await first.close();
    // the WAL is now part of a table: nothing of the loss is visible in LevelDB any more
    const second = await open(image);
    expect(second.damage().streams.map((s) => s.stream)).toEqual(damaged);
    for (const s of damaged) await second.replaceStream(s, [{ body: new DocWriter().edit(), actor: 'repair', origin: 'local' }]);
    await second.close();
    const third = await open(image);
    expect(third.damage()).toEqual({ streams: [], node: [], repaired: [] });
  });

  it('a damaged seal is reported by the open that met it and written again (not damage that stays); the data itself is served', async () => {
    const { image } = await crashImage(['a'], 3);
    const seal = join(image, SEAL_FILE);
    const bytes = await readFile(seal);
    bytes[20] = (bytes[20] as number) ^ 0x04;
    await writeFile(seal, bytes);
    const log = await open(image);
    expect(log.damage().node).toEqual([]);
    expect(log.damage().repaired.map((n) => n.kind)).toEqual(['seal']);
    expect(log.isDamaged('a')).toBe(false);
    expect((await collect(log.read('a'))).length).toBe(3);
    await log.close();
    // the next open reads the seal written since
    const again = await open(image);
    expect(again.damage()).toEqual({ streams: [], node: [], repaired: [] });
  });

  it('a missing seal in a log that wrote one is reported like a damaged one (a lost WAL tail could not be ruled out); a new log, or one never sealed, is not', async () => {
    // the probe: the end of the WAL lost and the seal deleted with it
    const { image } = await crashImage(['a', 'b'], 12);
    const wal = await walOf(image);
    await truncate(wal, Math.floor((await stat(wal)).size * 0.5));
    await rm(join(image, SEAL_FILE));
    const log = await open(image);
    expect(log.damage().repaired.map((n) => [n.kind, n.message.includes('missing')])).toEqual([['seal', true]]);
    await log.close();
    const again = await open(image);
    expect(again.damage()).toEqual({ streams: [], node: [], repaired: [] });
    await again.close();

    // a log that never had a seal (opened with seal: false, as older versions did) gets its first one quietly
    const plain = await tempDir('psseal-none-');
    const unsealed = await openLog({ dir: plain, seal: false });
    await unsealed.append(input('p', new DocWriter().edit()));
    await unsealed.close();
    const first = await open(plain);
    expect(first.damage()).toEqual({ streams: [], node: [], repaired: [] });
    await first.close();
    expect((await stat(join(plain, SEAL_FILE))).size).toBeGreaterThan(0);
  });
});
