/** checkBackup(): a backup copy is checked end to end without restoring it. */
import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { backupLog, checkBackup, openLog } from '../src/index.js';
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
