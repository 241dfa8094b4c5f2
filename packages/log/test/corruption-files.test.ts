import { randomBytes } from 'node:crypto';
import { cp, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { LOG_ERROR_CODES, openLog, snapshotEvery, type EntryRecord, type EventLog } from '../src/index.js';
import { collect, tempDir, withRawDb } from './helpers.js';

const policy = snapshotEvery(8);
const STREAMS = ['alpha', 'beta', 'gamma'];

interface Original {
  dir: string;
  entries: Map<string, EntryRecord[]>;
  /** stream/seq of each entry whose update carries a marker, keyed by the marker */
  markers: Map<string, { stream: string; seq: number }>;
}

/**
 * A closed log whose entries each insert a random 24-char marker into a Y.Text (random text is
 * stored literally even in snappy-compressed blocks, so a test can find an entry in the files).
 */
async function makeLog(perStream: number, compact: boolean): Promise<Original> {
  const dir = await tempDir('pslog-files-');
  const log = await openLog({ dir, snapshotPolicy: policy });
  const markers = new Map<string, { stream: string; seq: number }>();
  for (const stream of STREAMS) {
    const doc = new Y.Doc({ gc: false });
    let last: Uint8Array = new Uint8Array();
    doc.on('update', (u: Uint8Array) => (last = u));
    for (let i = 0; i < perStream; i++) {
      const marker = randomBytes(18).toString('base64');
      doc.getText('t').insert(0, marker);
      const ack = await log.append({ stream, body: last, actor: 'a', origin: 'local', view: new TextEncoder().encode(`view ${i}`) });
      markers.set(marker, { stream, seq: ack.seq });
    }
  }
  await log.idle();
  const entries = new Map<string, EntryRecord[]>();
  for (const s of STREAMS) entries.set(s, await collect(log.read(s)));
  if (!compact) {
    // a crash image: the files as they are while the log is open (idle: every append and the
    // commit seal durable), so the write-ahead .log still holds the data (close would flush it)
    const image = await tempDir('pslog-image-');
    await cp(dir, image, { recursive: true });
    await log.close();
    return { dir: image, entries, markers };
  }
  await log.close();
  if (compact) {
    await withRawDb(dir, async (db) => {
      await (db as unknown as { compactRange(a: Uint8Array, b: Uint8Array): Promise<void> }).compactRange(Uint8Array.of(0), Uint8Array.of(0xff));
    });
  }
  return { dir, entries, markers };
}

async function files(dir: string, ext: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.endsWith(ext)).map((f) => join(dir, f));
}

const CODES = new Set<string>(LOG_ERROR_CODES);

/**
 * Opens and probes a possibly-damaged dir: open may fail with a coded error; verify never
 * throws; every read either fails with a coded error or returns the original entries.
 * Returns what happened, for the caller's assertions.
 */
async function probe(dir: string, original: Original) {
  let log: EventLog;
  try {
    log = await openLog({ dir, snapshotPolicy: policy });
  } catch (err) {
    const code = (err as { code?: string }).code ?? 'uncoded';
    expect(CODES.has(code), `open failed with ${code}: ${String(err)}`).toBe(true);
    return { opened: false, verifyOk: false, readErrors: [] as string[], readsEqual: false, prefixes: true };
  }
  try {
    // reads first (the first read of a bad entry raises its precise code), then verify
    const readErrors: string[] = [];
    let readsEqual = true;
    let prefixes = true;
    for (const s of STREAMS) {
      try {
        const got = log.head(s) === undefined ? [] : await collect(log.read(s));
        const want = original.entries.get(s) as EntryRecord[];
        if (JSON.stringify(got) !== JSON.stringify(want)) readsEqual = false;
        if (JSON.stringify(got) !== JSON.stringify(want.slice(0, got.length))) prefixes = false;
      } catch (err) {
        const code = (err as { code?: string }).code ?? 'uncoded';
        expect(CODES.has(code), `read failed with ${code}: ${String(err)}`).toBe(true);
        readErrors.push(code);
      }
      await log.loadState(s).catch((err: unknown) => expect(CODES.has((err as { code?: string }).code ?? '')).toBe(true));
      await log.getView(s).catch((err: unknown) => expect(CODES.has((err as { code?: string }).code ?? '')).toBe(true));
    }
    const report = await log.verify();
    return { opened: true, verifyOk: report.ok, readErrors, readsEqual, prefixes, broken: report.broken };
  } finally {
    await log.close();
  }
}

describe('corruption in the files of a closed DB', () => {
  it('a flipped byte inside an entry in an .ldb file: its block is dropped, the stream is damaged and never read as intact', async () => {
    const original = await makeLog(40, true);
    const ldb = await files(original.dir, '.ldb');
    expect(ldb.length).toBeGreaterThan(0);
    let tested = 0;
    let marked = 0;
    for (const [marker, where] of [...original.markers].filter((_, i) => i % 23 === 5)) {
      const dir = await tempDir('pslog-flip-');
      await cp(original.dir, dir, { recursive: true });
      let hit = false;
      for (const f of await files(dir, '.ldb')) {
        const data = await readFile(f);
        // its first 16 chars: snappy sometimes encodes a marker's last bytes (with what follows
        // them) as a copy of earlier bytes, so about one whole marker in ten is not in the file
        const at = data.indexOf(Buffer.from(marker.slice(0, 16)));
        if (at < 0) continue;
        // the first occurrence is the entry that inserted the marker, or a snapshot holding it
        // (in a snappy block a later copy may reference this literal: then both break)
        data[at + 3] = (data[at + 3] as number) ^ 0x20;
        await writeFile(f, data);
        hit = true;
        break;
      }
      if (!hit) continue;
      tested++;
      const result = await probe(dir, original);
      expect(result.opened).toBe(true);
      // the table check finds the block (its crc32c), salvage drops it: the streams with entries,
      // heads or catalog records in it are damaged; a block of snapshots only is derived data
      if (result.broken?.some((b) => b.stream === where.stream && b.kind === 'table')) {
        marked++;
        expect(result.readErrors).toContain('LOG_STREAM_DAMAGED');
      } else expect(result.readsEqual).toBe(true);
      expect((await readdir(join(dir, 'lost'))).length).toBeGreaterThan(0);
    }
    expect(tested).toBeGreaterThan(2);
    expect(marked).toBeGreaterThan(0);
  });

  it('random byte flips in .ldb files: never a crash (no LevelDB abort), never silently wrong data', async () => {
    const original = await makeLog(30, true);
    const ldb = (await files(original.dir, '.ldb')).map((f) => f.slice(original.dir.length + 1));
    let detected = 0;
    for (let i = 0; i < 40; i++) {
      const dir = await tempDir('pslog-fuzz-');
      await cp(original.dir, dir, { recursive: true });
      const f = join(dir, ldb[i % ldb.length] as string);
      const data = await readFile(f);
      const pos = Math.floor(Math.random() * data.byteLength);
      data[pos] = (data[pos] as number) ^ (1 << Math.floor(Math.random() * 8));
      await writeFile(f, data);
      const r = await probe(dir, original);
      // when verify says ok, every read returned exactly the original entries
      if (r.verifyOk) expect([pos, r.readsEqual, r.readErrors]).toEqual([pos, true, []]);
      else detected++;
    }
    expect(detected).toBeGreaterThan(0);
  });

  it('a flipped byte in the write-ahead .log drops the damaged records; verify reports the hole', async () => {
    const original = await makeLog(150, false);
    const [wal] = await files(original.dir, '.log');
    const data = await readFile(wal as string);
    expect(data.byteLength).toBeGreaterThan(3 * 32_768); // several LevelDB log blocks
    data[4000] = (data[4000] as number) ^ 0x01;
    await writeFile(wal as string, data);
    const r = await probe(original.dir, original);
    expect(r.opened).toBe(true);
    expect(r.verifyOk).toBe(false);
    expect(r.broken?.some((b) => b.kind === 'gap' || b.kind === 'head' || b.kind === 'rollback')).toBe(true);
    expect(r.readErrors.length).toBeGreaterThan(0);
  });

  it('random byte flips in the .log: what survives is a prefix of the truth, errors are coded', async () => {
    const original = await makeLog(60, false);
    const [walName] = (await files(original.dir, '.log')).map((f) => f.slice(original.dir.length + 1));
    for (let i = 0; i < 25; i++) {
      const dir = await tempDir('pslog-walfuzz-');
      await cp(original.dir, dir, { recursive: true });
      const f = join(dir, walName as string);
      const data = await readFile(f);
      const pos = Math.floor(Math.random() * data.byteLength);
      data[pos] = (data[pos] as number) ^ 0x10;
      await writeFile(f, data);
      const r = await probe(dir, original);
      // LevelDB drops WAL records whose crc fails and never hands back altered bytes; what it
      // drops (a tail too) the commit seal notices: detected, or nothing was lost
      expect([pos, r.prefixes]).toEqual([pos, true]);
      expect([pos, !r.opened || !r.verifyOk || r.readsEqual]).toEqual([pos, true]);
      if (!r.readsEqual) expect([pos, r.readErrors.every((c) => c === 'LOG_STREAM_DAMAGED' || c === 'LOG_CORRUPT')]).toEqual([pos, true]);
    }
  });
});
