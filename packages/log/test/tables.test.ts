import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { openLog } from '../src/index.js';
import { checkTables, crc32c, snappyDecompress } from '../src/tables.js';
import { codeOf, collect, DocWriter, input, tempDir, track, viewOf, withRawDb } from './helpers.js';

const MARKER = 'MARKER-kq3vZ8pXw2LmN7tRb5Yc';

/** A closed, compacted log (its data in one .ldb table); entry s1/51 carries MARKER literally. */
async function compacted(): Promise<{ dir: string; table: string }> {
  const dir = await tempDir();
  const log = await openLog({ dir });
  const w = new DocWriter();
  for (let i = 0; i < 300; i++) {
    const body = i === 151 ? markerUpdate() : w.edit();
    await log.append(input(`s${i % 3}`, body, { view: viewOf(w.doc) }));
  }
  await log.close();
  await withRawDb(dir, (db) => (db as unknown as { compactRange(a: Uint8Array, b: Uint8Array): Promise<void> }).compactRange(Uint8Array.of(0), Uint8Array.of(0xff)));
  const [table] = (await readdir(dir)).filter((f) => f.endsWith('.ldb'));
  return { dir, table: join(dir, table as string) };
}

function markerUpdate(): Uint8Array {
  const d = new Y.Doc();
  d.getText('note').insert(0, MARKER);
  return Y.encodeStateAsUpdate(d);
}

/**
 * Flips a bit inside MARKER in the table file. Snappy keeps the marker as literal bytes unless
 * a 4-byte run of it happened to occur earlier in the block (then that run becomes a copy), so
 * this looks for any 8-byte piece of the marker and flips the middle of the first one found.
 */
async function flipMarker(table: string): Promise<void> {
  const data = await readFile(table);
  let at = -1;
  for (let off = 0; at < 0 && off + 8 <= MARKER.length; off++) {
    at = data.indexOf(Buffer.from(MARKER.slice(off, off + 8)));
  }
  expect(at).toBeGreaterThan(0);
  data[at + 4] = (data[at + 4] as number) ^ 0x01;
  await writeFile(table, data);
}

/** The index block handle from a table's footer. */
function indexHandle(file: Uint8Array): { offset: number; size: number } {
  const c = { o: file.byteLength - 48 };
  const v = () => {
    let n = 0;
    let mul = 1;
    for (;;) {
      const b = file[c.o++] as number;
      n += (b & 0x7f) * mul;
      if (b < 0x80) return n;
      mul *= 128;
    }
  };
  v();
  v();
  return { offset: v(), size: v() };
}

describe('table-file check (before LevelDB opens a dir)', () => {
  it('crc32c and snappy match their reference vectors', () => {
    expect(crc32c(new TextEncoder().encode('123456789')).toString(16)).toBe('e3069283');
    expect(crc32c(new Uint8Array(32)).toString(16)).toBe('8a9136aa');
    expect(new TextDecoder().decode(snappyDecompress(Uint8Array.from([5, 0x10, 0x68, 0x65, 0x6c, 0x6c, 0x6f])))).toBe('hello');
    expect(new TextDecoder().decode(snappyDecompress(Uint8Array.from([12, 0x08, 0x61, 0x62, 0x63, 0x15, 0x03])))).toBe('abcabcabcabc');
    expect(() => snappyDecompress(Uint8Array.from([12, 0x08, 0x61, 0x62, 0x63, 0x15, 0x09]))).toThrow();
    expect(() => snappyDecompress(Uint8Array.from([9, 0x10, 0x68]))).toThrow();
  });

  it('an intact DB has no damage; a flipped value byte damages its block: salvaged, the streams with records there are damaged, the rest intact', async () => {
    const { dir, table } = await compacted();
    expect(await checkTables(dir)).toEqual([]);
    await flipMarker(table);
    const damage = await checkTables(dir);
    expect(damage).toHaveLength(1);
    // never "safe": an altered key in a block that still parses could bring back an older value
    expect(damage[0]).toMatchObject({ block: 'data', safe: false });
    const log = track(await openLog({ dir }));
    const damaged = log.damage().streams.map((s) => s.stream);
    expect(damaged).toContain('s1');
    expect(log.damage().streams.find((s) => s.stream === 's1')?.findings[0]?.kind).toBe('table');
    expect(await codeOf(collect(log.read('s1')))).toBe('LOG_STREAM_DAMAGED');
    for (const s of ['s0', 's2']) if (!damaged.includes(s)) expect((await collect(log.read(s))).length).toBe(100);
    expect((await checkTables(dir)).length).toBe(0);
  });

  it('a damaged index block: the table is salvaged (its intact blocks kept), the node opens, nothing is lost or served wrong', async () => {
    const { dir, table } = await compacted();
    const name = table.slice(dir.length + 1);
    const data = await readFile(table);
    const h = indexHandle(data);
    data[h.offset + 1] = (data[h.offset + 1] as number) ^ 0x04;
    await writeFile(table, data);
    const log = track(await openLog({ dir }));
    // every data block was intact: every stream reads in full
    for (const s of ['s0', 's1', 's2']) expect((await collect(log.read(s))).length).toBe(100);
    expect((await readdir(join(dir, 'lost'))).some((f) => f.startsWith(name))).toBe(true);
    expect((await checkTables(dir)).length).toBe(0);
  });

  it('a truncated or missing table: salvaged, the node opens; every stream with records in the lost part is damaged, the rest intact', async () => {
    let sawDamage = 0;
    for (const cut of [0.9, 0.5, 0.2, 0]) {
      const a = await compacted();
      const data = await readFile(a.table);
      if (cut === 0) await rm(a.table);
      else await writeFile(a.table, data.subarray(0, Math.floor(data.byteLength * cut)));
      const log = track(await openLog({ dir: a.dir }));
      const damaged = log.damage().streams.map((s) => s.stream);
      sawDamage += damaged.length;
      // the salvage itself is always reported; a missing table took every record (all of them
      // lived in it): no stream is left to name, the node-level findings say what was lost
      // (a node-level finding when the catalog's copies went too; else reported as repaired at open)
      expect([...log.damage().node, ...log.damage().repaired].some((n) => n.kind === 'table')).toBe(true);
      if (cut === 0) expect(log.damage().node.map((n) => n.kind)).toContain('rollback');
      // detected, or harmless: a stream not marked damaged reads in full
      for (const s of ['s0', 's1', 's2']) {
        if (damaged.includes(s)) expect(await codeOf(log.loadState(s))).toBe('LOG_STREAM_DAMAGED');
        else if (log.head(s) === undefined) expect(log.damage().node.length).toBeGreaterThan(0); // known lost, not by name
        else expect([cut, s, (await collect(log.read(s))).length]).toEqual([cut, s, 100]);
      }
      // and it still writes: a new stream, and a repair of a damaged one
      await log.append(input('fresh', new DocWriter().edit()));
      for (const s of damaged) await log.replaceStream(s, [{ body: new DocWriter().edit(), actor: 'repair', origin: 'local' }]);
      expect(log.damage().streams).toEqual([]);
    }
    expect(sawDamage).toBeGreaterThan(0);
  });

  it('checkTables: false skips the check', async () => {
    const { dir, table } = await compacted();
    await flipMarker(table);
    const log = track(await openLog({ dir, checkTables: false }));
    const report = await log.verify();
    // only the record-level check sees the altered value
    expect(report.broken.map((b) => `${b.stream}/${b.kind}`)).toEqual(['s1/checksum']);
    expect(await codeOf(collect(log.read('s1', { allowDamaged: true })))).toBe('LOG_CHECKSUM_MISMATCH');
  });

  it("a salvaged table's report counts the profiles it marked damaged, and names the node's own '#audit' stream apart", async () => {
    const dir = await tempDir();
    const log = await openLog({ dir });
    const profiles = ['p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6'];
    const writers = new Map(profiles.map((p) => [p, new DocWriter()]));
    for (let i = 0; i < 14; i++) {
      const p = profiles[i % profiles.length] as string;
      await log.append(input(p, (writers.get(p) as DocWriter).edit()));
      await log.append(input('#audit', new TextEncoder().encode(`audit record ${i} of ${p}`)));
    }
    await log.close();
    await withRawDb(dir, (db) => (db as unknown as { compactRange(a: Uint8Array, b: Uint8Array): Promise<void> }).compactRange(Uint8Array.of(0), Uint8Array.of(0xff)));
    const [name] = (await readdir(dir)).filter((f) => f.endsWith('.ldb'));
    const table = join(dir, name as string);
    // few small entries: the first data block holds the first entries ('E') of every stream (the
    // catalog records before them are healed from their copies): every stream is marked damaged
    const data = await readFile(table);
    data[8] = (data[8] as number) ^ 0x10;
    await writeFile(table, data);
    const reopened = track(await openLog({ dir }));
    const damaged = reopened.damage().streams.map((s) => s.stream).sort();
    expect(damaged).toEqual(['#audit', ...profiles]);
    const salvage = reopened.damage().repaired.filter((r) => r.kind === 'table' && r.message.includes('marked damaged'));
    expect(salvage).toHaveLength(1);
    expect(salvage[0]?.message).toContain(`; ${profiles.length} profile(s) with records there are marked damaged, and the node's own stream(s) '#audit' (`);
  });
});
