/**
 * A damaged CURRENT or MANIFEST (docs/storage-format.md §9a): never a refused open, never an
 * empty new DB over the tables, never tables deleted because a cut MANIFEST no longer lists
 * them. The MANIFEST is rebuilt from the files (LevelDB's RepairDB after our own block checks),
 * every chain is verified, nothing is lost, and the rebuild is reported as repaired at open.
 */
import { readdir, readFile, rename, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openLog, type EventLog } from '../src/index.js';
import { checkTablesWithSizes } from '../src/tables.js';
import { codeOf, collect, DocWriter, input, tempDir, track, viewOf } from './helpers.js';

const STREAMS = ['s0', 's1', 's2'];

/** A closed log whose data is in several tables (three opens, each close flushes one). */
async function made(): Promise<{ dir: string; heads: Map<string, number> }> {
  const dir = await tempDir();
  const writers = new Map(STREAMS.map((s) => [s, new DocWriter()]));
  for (let round = 0; round < 3; round++) {
    const log = await openLog({ dir });
    for (let i = 0; i < 30; i++) {
      const s = STREAMS[i % 3] as string;
      const w = writers.get(s) as DocWriter;
      await log.append(input(s, w.edit(), { view: viewOf(w.doc) }));
    }
    await log.putAux(`token:${round}`, Uint8Array.of(round));
    await log.close();
  }
  const heads = new Map(STREAMS.map((s) => [s, 30]));
  return { dir, heads };
}

const manifestOf = async (dir: string): Promise<string> => (await readdir(dir)).find((f) => f.startsWith('MANIFEST-')) as string;

/** Opens, checks that nothing is lost and the rebuild is reported; returns the log. */
async function opensWhole(dir: string, heads: Map<string, number>): Promise<EventLog> {
  const log = track(await openLog({ dir }));
  expect(log.damage().repaired.map((r) => r.kind)).toContain('manifest');
  expect(log.damage().streams).toEqual([]);
  for (const [s, n] of heads) expect((await collect(log.read(s))).length).toBe(n);
  for (let round = 0; round < 3; round++) expect(await log.getAux(`token:${round}`)).toEqual(Uint8Array.of(round));
  expect((await log.verify()).ok).toBe(true);
  expect((await readdir(join(dir, 'lost'))).some((f) => f.startsWith('CURRENT') || f.startsWith('MANIFEST-'))).toBe(true);
  return log;
}

describe('a damaged CURRENT or MANIFEST', () => {
  it('CURRENT cut, altered or missing: the MANIFEST is rebuilt from the tables, nothing is lost', async () => {
    for (const fault of ['cut', 'flip', 'missing', 'other manifest'] as const) {
      const { dir, heads } = await made();
      const current = join(dir, 'CURRENT');
      if (fault === 'cut') await truncate(current, 4);
      else if (fault === 'missing') await rm(current);
      else if (fault === 'other manifest') await writeFile(current, 'MANIFEST-999999\n');
      else {
        const b = await readFile(current);
        b[3] = (b[3] as number) ^ 0x20;
        await writeFile(current, b);
      }
      expect((await checkTablesWithSizes(dir)).manifest, fault).toBeDefined();
      const log = await opensWhole(dir, heads);
      // and it goes on: writes, then a clean reopen that needs no rebuild
      await log.append(input('fresh', new DocWriter().edit()));
      await log.close();
      const again = track(await openLog({ dir }));
      expect(again.damage()).toEqual({ streams: [], node: [], repaired: [] });
      expect(again.streams().sort()).toEqual([...STREAMS, 'fresh'].sort());
    }
  });

  it('a MANIFEST record that fails its crc, a cut record, or a cut at a record boundary (lost version edits): rebuilt, nothing is lost', async () => {
    for (const fault of ['flip', 'cut inside a record', 'cut at a record boundary'] as const) {
      const { dir, heads } = await made();
      const name = await manifestOf(dir);
      const path = join(dir, name);
      const b = await readFile(path);
      if (fault === 'flip') {
        b[10] = (b[10] as number) ^ 0x01;
        await writeFile(path, b);
      } else if (fault === 'cut inside a record') await truncate(path, b.byteLength - 3);
      else {
        // keep only the first record (the version snapshot written at the last open): the edits of
        // the flush at close are lost, so the table it wrote is listed nowhere (LevelDB itself would
        // open without it and delete it)
        const first = 7 + ((b[4] as number) | ((b[5] as number) << 8));
        expect(first).toBeLessThan(b.byteLength);
        await truncate(path, first);
        expect((await checkTablesWithSizes(dir)).manifest).toMatch(/does not list the complete table/);
      }
      await opensWhole(dir, heads);
    }
  });

  it('an unfinished table no MANIFEST lists (an abandoned compaction output) goes to lost/ unread and costs nothing', async () => {
    const { dir, heads } = await made();
    const [table] = (await readdir(dir)).filter((f) => f.endsWith('.ldb'));
    const bytes = await readFile(join(dir, table as string));
    await writeFile(join(dir, '999999.ldb'), bytes.subarray(0, Math.floor(bytes.byteLength / 2)));
    await truncate(join(dir, 'CURRENT'), 0);
    const log = await opensWhole(dir, heads);
    expect(log.damage().repaired.find((r) => r.kind === 'manifest')?.message).toMatch(/999999\.ldb/);
    expect((await readdir(join(dir, 'lost'))).some((f) => f.startsWith('999999.ldb'))).toBe(true);
  });

  it('never repairs a dir another open log holds: LOG_LOCKED, nothing changed', async () => {
    const { dir } = await made();
    const holder = track(await openLog({ dir }));
    const current = await readFile(join(dir, 'CURRENT'));
    await rename(join(dir, 'CURRENT'), join(dir, 'CURRENT.aside'));
    expect(await codeOf(openLog({ dir }))).toBe('LOG_LOCKED');
    await expect(readdir(join(dir, 'lost'))).rejects.toThrow();
    await rename(join(dir, 'CURRENT.aside'), join(dir, 'CURRENT'));
    expect(await readFile(join(dir, 'CURRENT'))).toEqual(current);
    expect(holder.streams().sort()).toEqual(STREAMS);
  });
});

describe('copies of the catalog and aux records', () => {
  it("a dropped first block (every name, every aux record) comes back from the copies: the streams keep their names, nothing is marked for it", async () => {
    const dir = await tempDir();
    const log = await openLog({ dir });
    for (let i = 0; i < 40; i++) await log.append(input(`profile-${i}`, new DocWriter().edit()));
    await log.putAux('peer:b', Uint8Array.of(7));
    await log.close();
    // every catalog and aux record in one (first) block: cut the catalog/aux keys' block out by
    // zeroing the first data block of the first table (salvage drops it whole)
    const [table] = (await readdir(dir)).filter((f) => f.endsWith('.ldb'));
    const path = join(dir, table as string);
    const b = await readFile(path);
    b.fill(0, 0, 64);
    await writeFile(path, b);
    const again = track(await openLog({ dir }));
    expect(again.streams().length).toBe(40);
    expect(await again.getAux('peer:b')).toEqual(Uint8Array.of(7));
    expect(again.damage().repaired.map((r) => r.kind)).toEqual(expect.arrayContaining(['catalog', 'aux']));
    expect(again.damage().node).toEqual([]);
    // the streams whose entries or heads were in that block are damaged, by name
    for (const s of again.damage().streams) expect(s.named).toBe(true);
  });
});
