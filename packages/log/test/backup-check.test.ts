/** checkBackup(): a backup copy is checked end to end without restoring it. */
import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { backupLog, checkBackup, openLog } from '../src/index.js';
import { MAX_RECORD_BYTES, PREAMBLE_BYTES, RecordReader, R_SECTION } from '../src/backup-format.js';
import { bytes, codeOf, DocWriter, input, tempDir, track, viewOf } from './helpers.js';

async function sample(): Promise<{ backup: Uint8Array; report: Awaited<ReturnType<typeof backupLog>> }> {
  const log = track(await openLog({ dir: await tempDir() }));
  const docs = [new DocWriter(), new DocWriter()];
  for (let i = 0; i < 12; i++) {
    const w = docs[i % 2] as DocWriter;
    await log.append(input(`profile-${i % 2}`, w.edit(), { view: viewOf(w.doc) }));
  }
  await log.putAux('token:a', bytes(1, 2, 3));
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  const report = await backupLog(log, out, { sections: { 'identity.json': bytes(9) } });
  return { backup: new Uint8Array(Buffer.concat(chunks)), report };
}

const chunks = (b: Uint8Array, size = 101) => Readable.from((function* () {
  for (let i = 0; i < b.byteLength; i += size) yield b.subarray(i, i + size);
})());

describe('checkBackup', () => {
  it('accepts a whole backup, in any chunking, and reports what backupLog reported', async () => {
    const { backup, report } = await sample();
    for (const size of [1, 7, 101, backup.byteLength]) {
      const r = await checkBackup(chunks(backup, size));
      expect(r).toMatchObject({ streams: report.streams, entries: report.entries, aux: report.aux, sections: report.sections, sha256: report.sha256, bytes: report.bytes });
      expect(r.header.lastLsn).toBe(report.lastLsn);
    }
  });

  it('refuses every truncation and every flipped byte with LOG_BACKUP_CORRUPT', async () => {
    const { backup } = await sample();
    for (let cut = 0; cut < backup.byteLength; cut += Math.max(1, Math.floor(backup.byteLength / 97))) {
      expect(await codeOf(checkBackup(chunks(backup.subarray(0, cut))))).toBe('LOG_BACKUP_CORRUPT');
    }
    for (let at = 0; at < backup.byteLength; at += Math.max(1, Math.floor(backup.byteLength / 89))) {
      const bad = new Uint8Array(backup);
      bad[at] = (bad[at] as number) ^ 0x20;
      expect(await codeOf(checkBackup(chunks(bad)))).toBe('LOG_BACKUP_CORRUPT');
    }
    const extra = new Uint8Array(backup.byteLength + 1);
    extra.set(backup);
    expect(await codeOf(checkBackup(chunks(extra)))).toBe('LOG_BACKUP_CORRUPT');
  });
});

describe('RecordReader on large records (a tampered or a big backup)', () => {
  it('a record of many MiB read in 64 KiB chunks is joined once, not once per chunk (linear, not quadratic)', async () => {
    const log = track(await openLog({ dir: await tempDir() }));
    const w = new DocWriter();
    await log.append(input('profile-0', w.edit(), { view: viewOf(w.doc) }));
    const big = new Uint8Array(8 * 1024 * 1024).map((_, i) => i & 0xff);
    const out = new PassThrough();
    const parts: Buffer[] = [];
    out.on('data', (c: Buffer) => parts.push(c));
    const report = await backupLog(log, out, { sections: { 'big.bin': big } });
    const backup = new Uint8Array(Buffer.concat(parts));
    const reader = new RecordReader();
    const types: number[] = [];
    let section: Uint8Array | undefined;
    for await (const batch of reader.batches(chunks(backup, 64 * 1024))) {
      for (const r of batch) {
        types.push(r.type);
        if (r.type === R_SECTION) section = new Uint8Array(r.payload);
      }
    }
    expect(types.filter((t) => t === R_SECTION)).toHaveLength(1);
    expect(section !== undefined && Buffer.from(section.subarray(section.byteLength - big.byteLength)).equals(big)).toBe(true);
    // before: ~128 copies of a growing buffer (~0.5 GiB for 8 MiB); a 256 MiB record took minutes
    expect(reader.copiedBytes).toBeLessThanOrEqual(3 * backup.byteLength);
    expect((await checkBackup(chunks(backup, 64 * 1024))).sha256).toBe(report.sha256);
  });

  it('a length that claims more than the file holds, or over the record limit, is LOG_BACKUP_CORRUPT', async () => {
    const { backup } = await sample();
    const claim = (len: number): Uint8Array => {
      const b = new Uint8Array(backup.byteLength);
      b.set(backup);
      b[PREAMBLE_BYTES + 1] = len >>> 24;
      b[PREAMBLE_BYTES + 2] = (len >>> 16) & 0xff;
      b[PREAMBLE_BYTES + 3] = (len >>> 8) & 0xff;
      b[PREAMBLE_BYTES + 4] = len & 0xff;
      return b;
    };
    for (const len of [200 * 1024 * 1024, MAX_RECORD_BYTES + 1, 0xffffffff]) {
      for (const size of [7, 64 * 1024]) expect(await codeOf(checkBackup(chunks(claim(len), size)))).toBe('LOG_BACKUP_CORRUPT');
    }
  });
});
