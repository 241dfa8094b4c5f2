import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { backupLog, openLog, restoreLog, snapshotEvery, type EventLog, type LogCodec } from '../src/index.js';
import { countsPayload, parseCounts, preamble, R_ENTRY, R_TRAILER, record, RecordReader } from '../src/backup-format.js';
import {
  bytes, codeOf, collect, DocWriter, input, manualClock, materialize, rawEntries, tempDir, testCodec, track, viewOf,
} from './helpers.js';

const policy = snapshotEvery(4);

/** Three streams of Yjs edits (views on), one '#audit' stream, aux records; clock +10 ms per append. */
async function sampleLog(dir: string, codec?: LogCodec): Promise<{ log: EventLog; clock: ReturnType<typeof manualClock> }> {
  const clock = manualClock(1_000_000);
  const log = track(await openLog({ dir, clock: clock.now, snapshotPolicy: policy, ...(codec ? { codec } : {}) }));
  const docs = [new DocWriter(), new DocWriter(), new DocWriter()];
  for (let i = 0; i < 30; i++) {
    const w = docs[i % 3] as DocWriter;
    await log.append(input(`profile-${i % 3}`, w.edit(), { view: viewOf(w.doc), summary: `edit ${i}`, version: bytes(i) }));
    if (i % 10 === 0) await log.append({ stream: '#audit', body: bytes(i), actor: 'sys', origin: 'local' });
    clock.advance(10);
  }
  await log.putAux('token:a', bytes(1, 2, 3));
  await log.putAux('settings', bytes(4));
  await log.idle();
  return { log, clock };
}

async function backupToBuffer(log: EventLog, sections?: Record<string, Uint8Array>): Promise<Uint8Array> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  await backupLog(log, out, sections === undefined ? {} : { sections });
  return new Uint8Array(Buffer.concat(chunks));
}

const source = (b: Uint8Array, chunk = 777) => Readable.from((function* () {
  for (let i = 0; i < b.byteLength; i += chunk) yield b.subarray(i, i + chunk);
})());

async function dump(log: EventLog) {
  const out: Record<string, unknown> = {};
  for (const s of log.streams()) {
    out[s] = { entries: await collect(log.read(s)), view: await log.getView(s), head: log.head(s) };
  }
  return out;
}

describe('backup / restore', () => {
  it('round trip through a file: entries, heads, views, the newest snapshot of each stream, aux and sections identical', async () => {
    const { log } = await sampleLog(await tempDir());
    const file = join(await tempDir(), 'log.bak');
    const progress: number[] = [];
    const report = await backupLog(log, createWriteStream(file), { sections: { 'keyring.json': bytes(7, 7) }, onProgress: (p) => progress.push(p.done) });
    expect(report).toMatchObject({ streams: 4, entries: 33, aux: 2, sections: 1, lastLsn: 33 });
    expect((await stat(file)).size).toBe(report.bytes);
    expect(progress.at(-1)).toBe(33);
    const target = join(await tempDir(), 'restored');
    const restored = await restoreLog({ dir: target, input: createReadStream(file), materialize, snapshotPolicy: policy });
    expect(restored).toMatchObject({ streams: 4, entries: 33, skipped: 0, aux: 2, codecId: 'plain', lastLsn: 33 });
    expect(restored.sections.get('keyring.json')).toEqual(bytes(7, 7));
    const copy = track(await openLog({ dir: target, snapshotPolicy: policy }));
    expect(await dump(copy)).toEqual(await dump(log));
    expect(await copy.getAux('token:a')).toEqual(bytes(1, 2, 3));
    expect(await copy.listAux('')).toEqual(['settings', 'token:a']);
    expect((await copy.verify()).ok).toBe(true);
    // older snapshot points are not restored, which changes no state: every seq loads the same
    const stateOf = (update: Uint8Array) => {
      const doc = new Y.Doc({ gc: false });
      Y.applyUpdate(doc, update);
      return { snapshot: Y.encodeSnapshotV2(Y.snapshot(doc)), json: doc.getMap('profile').toJSON() };
    };
    for (const s of log.streams()) {
      if (s.startsWith('#')) continue;
      for (let seq = 1; seq <= log.head(s)!.seq; seq++) {
        expect(stateOf((await copy.loadState(s, { untilSeq: seq })).state)).toEqual(stateOf((await log.loadState(s, { untilSeq: seq })).state));
      }
    }
    await copy.close();
    const srcDir = log.dir;
    await log.close();
    // derived records are rebuilt by the same code: byte-identical views, and each stream's newest
    // snapshot is byte-identical to the original's (the older points are not written by restore)
    const source = await rawEntries(srcDir, 'S');
    const newest = new Map<string, [Uint8Array, Uint8Array]>();
    for (const kv of source) newest.set(Buffer.from(kv[0].subarray(1, 5)).toString('hex'), kv);
    expect(newest.size).toBe(3);
    expect(source.length).toBeGreaterThan(3);
    expect(await rawEntries(target, 'S')).toEqual([...newest.values()]);
    expect(await rawEntries(target, 'V')).toEqual(await rawEntries(srcDir, 'V'));
    expect(await rawEntries(target, 'E')).toEqual(await rawEntries(srcDir, 'E'));
  });

  it('after a restore the snapshot policy goes on from the newest point: the same later points, the same states', async () => {
    const { log } = await sampleLog(await tempDir());
    const b = await backupToBuffer(log);
    const target = join(await tempDir(), 'r');
    await restoreLog({ dir: target, input: source(b), materialize, snapshotPolicy: policy });
    const copy = track(await openLog({ dir: target, snapshotPolicy: policy }));
    // the same next edits on both: the next snapshot points and their states agree
    const w = new DocWriter();
    Y.applyUpdate(w.doc, (await log.loadState('profile-1')).state);
    for (let i = 0; i < 9; i++) {
      const u = w.edit();
      for (const l of [log, copy]) await l.append(input('profile-1', u, { view: viewOf(w.doc), summary: `more ${i}` }));
    }
    await log.idle();
    await copy.idle();
    const srcDir = log.dir;
    await log.close();
    await copy.close();
    const hex = (k: Uint8Array) => Buffer.from(k).toString('hex');
    const src = new Map((await rawEntries(srcDir, 'S')).map(([k, v]) => [hex(k), v]));
    const restored = await rawEntries(target, 'S');
    // restore wrote the newest point of each stream (3); the policy then added points 12 and 16
    // of the stream that got 9 more entries (seq 9..17), at the original's positions
    expect(restored.length).toBe(5);
    const state = (framed: Uint8Array) => {
      const doc = new Y.Doc({ gc: false });
      Y.applyUpdate(doc, framed.subarray(37)); // frame: u8 version, u32 crc, 32-byte entry hash; plain codec
      return { sv: Y.encodeStateVector(doc), snapshot: Y.encodeSnapshotV2(Y.snapshot(doc)), json: doc.getMap('profile').toJSON() };
    };
    for (const [k, v] of restored) {
      const original = src.get(hex(k));
      expect(original, hex(k)).toBeDefined();
      expect(state(v)).toEqual(state(original!));
    }
  });

  it('restores only up to an lsn, per stream a prefix, views as of that point', async () => {
    const { log } = await sampleLog(await tempDir());
    const b = await backupToBuffer(log);
    const target = join(await tempDir(), 'r');
    const untilLsn = 17;
    const r = await restoreLog({ dir: target, input: source(b), untilLsn, materialize, snapshotPolicy: policy });
    expect(r.entries).toBe(17);
    expect(r.skipped).toBe(16);
    const copy = track(await openLog({ dir: target, snapshotPolicy: policy }));
    for (const s of log.streams()) {
      const want = (await collect(log.read(s))).filter((e) => e.lsn <= untilLsn);
      expect(await collect(copy.read(s))).toEqual(want);
      if (s.startsWith('#')) continue;
      const at = await log.loadState(s, { untilSeq: want.length });
      expect(await copy.getView(s)).toEqual(materialize(s, at.state, { seq: 0, lsn: 0, ts: 0, actor: '', origin: '' }));
    }
    expect((await copy.verify()).ok).toBe(true);
  });

  it('restores only up to a time; streams with nothing left are absent', async () => {
    const { log } = await sampleLog(await tempDir());
    const b = await backupToBuffer(log);
    const target = join(await tempDir(), 'r');
    const untilTs = 1_000_000 + 10 * 4; // the first five appends of the loop (i = 0..4)
    const r = await restoreLog({ dir: target, input: source(b), untilTs, materialize });
    const copy = track(await openLog({ dir: target }));
    expect(copy.streams().sort()).toEqual(['#audit', 'profile-0', 'profile-1', 'profile-2']);
    const all = (await Promise.all(copy.streams().map((s) => collect(copy.read(s))))).flat();
    expect(all.every((e) => e.ts <= untilTs)).toBe(true);
    expect(r.entries).toBe(all.length);
    expect(all.length).toBe(6); // 5 edits + 1 audit entry

    const early = join(await tempDir(), 'early');
    const r0 = await restoreLog({ dir: early, input: source(b), untilTs: 0 });
    expect(r0).toMatchObject({ streams: 0, entries: 0, skipped: 33 });
    // the bounds of every entry in the backup, also when the until bound kept none of them
    const every = (await Promise.all(log.streams().map((s) => collect(log.read(s))))).flat();
    const want = { firstLsn: Math.min(...every.map((e) => e.lsn)), lastLsn: Math.max(...every.map((e) => e.lsn)), firstTs: Math.min(...every.map((e) => e.ts)), lastTs: Math.max(...every.map((e) => e.ts)) };
    expect(every.length).toBe(33);
    expect(want.firstTs).toBeLessThan(want.lastTs);
    expect(r0.span).toEqual(want);
    expect(r.span).toEqual(want);
    const empty = track(await openLog({ dir: early }));
    expect(empty.streams()).toEqual([]);
  });

  it('an encoded log stays encoded in its backup and needs the same codec to restore', async () => {
    const codec = testCodec();
    const { log } = await sampleLog(await tempDir(), codec);
    const marked = new Y.Doc();
    marked.getText('note').insert(0, 'MARKER-plaintext-body');
    await log.append({ stream: 'profile-0', body: Y.encodeStateAsUpdate(marked), actor: 'MARKER-actor', origin: 'local' });
    const b = await backupToBuffer(log, { keyring: bytes(1) });
    expect(Buffer.from(b).includes('MARKER-')).toBe(false);
    expect(Buffer.from(b).includes('profile-0')).toBe(false);
    expect(Buffer.from(b).includes('token:a')).toBe(false);
    const plainTarget = join(await tempDir(), 'p');
    expect(await codeOf(restoreLog({ dir: plainTarget, input: source(b) }))).toBe('LOG_CODEC_MISMATCH');
    await expect(readdir(plainTarget)).rejects.toMatchObject({ code: 'ENOENT' });
    const target = join(await tempDir(), 'r');
    let seen: string | undefined;
    await restoreLog({
      dir: target, input: source(b), materialize, snapshotPolicy: policy,
      codec: ({ codecId, sections }) => {
        seen = `${codecId}:${sections.get('keyring')?.join(',')}`;
        return codec;
      },
    });
    expect(seen).toBe('test-xor/v1:1');
    const copy = track(await openLog({ dir: target, codec, snapshotPolicy: policy }));
    expect(await dump(copy)).toEqual(await dump(log));
    expect(await copy.getAux('token:a')).toEqual(bytes(1, 2, 3));
  });

  it('truncated or corrupted backups are rejected with LOG_BACKUP_CORRUPT and leave the target untouched', async () => {
    const { log } = await sampleLog(await tempDir());
    const b = await backupToBuffer(log);
    const base = await tempDir();
    const cuts = [0, 5, 10, 11, 60, Math.floor(b.byteLength / 2), b.byteLength - 60, b.byteLength - 1];
    for (const cut of cuts) {
      const dir = join(base, `cut-${cut}`);
      expect(await codeOf(restoreLog({ dir, input: source(b.subarray(0, cut)) }))).toBe('LOG_BACKUP_CORRUPT');
      await expect(readdir(dir)).rejects.toMatchObject({ code: 'ENOENT' });
    }
    // every single-byte flip is caught (crc per record, sha-256 over the file, magic/version)
    for (let pos = 0; pos < b.byteLength; pos += Math.max(1, Math.floor(b.byteLength / 150))) {
      const bad = b.slice();
      bad[pos] = (bad[pos] as number) ^ 0x40;
      const dir = join(base, `flip-${pos}`);
      await mkdir(dir);
      const code = await codeOf(restoreLog({ dir, input: source(bad) }));
      expect([pos, code]).toEqual([pos, 'LOG_BACKUP_CORRUPT']);
      expect(await readdir(dir)).toEqual([]); // existed before: emptied, kept
    }
    const extra = new Uint8Array(b.byteLength + 1);
    extra.set(b);
    expect(await codeOf(restoreLog({ dir: join(base, 'extra'), input: source(extra) }))).toBe('LOG_BACKUP_CORRUPT');
    expect(await codeOf(restoreLog({ dir: join(base, 'junk'), input: source(new TextEncoder().encode('hello world, not a backup')) }))).toBe('LOG_BACKUP_CORRUPT');
    const failing = new Readable({
      read() {
        this.destroy(new Error('disk read error'));
      },
    });
    expect(await codeOf(restoreLog({ dir: join(base, 'io'), input: failing }))).toBe('LOG_BACKUP_CORRUPT');
  });

  it('a forged backup (valid record crcs and file digest, but an altered entry) is rejected', async () => {
    const { log } = await sampleLog(await tempDir());
    const b = await backupToBuffer(log);
    // re-frame every record, flipping one payload byte of the 20th entry, then re-digest
    const reader = new RecordReader();
    const parts: Uint8Array[] = [preamble()];
    let entries = 0;
    let trailer: Uint8Array | undefined;
    for await (const batch of reader.batches(source(b))) {
      for (const { type, payload } of batch) {
        if (type === R_TRAILER) {
          trailer = payload;
          continue;
        }
        const p = payload.slice();
        if (type === R_ENTRY && ++entries === 20) p[p.byteLength - 1] = (p[p.byteLength - 1] as number) ^ 0x01;
        parts.push(record(type, p));
      }
    }
    const body = Buffer.concat(parts);
    const { counts } = parseCounts(trailer as Uint8Array);
    const digest = new Uint8Array(createHash('sha256').update(body).digest());
    const forged = new Uint8Array(Buffer.concat([body, record(R_TRAILER, countsPayload(counts, digest))]));
    const dir = join(await tempDir(), 'forged');
    const err = await restoreLog({ dir, input: source(forged) }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'LOG_BACKUP_CORRUPT' });
    expect((err as Error).message).toContain('does not match its hash');
    await expect(readdir(dir)).rejects.toMatchObject({ code: 'ENOENT' });
    // the same file re-framed without the flip restores fine (the forging itself is sound)
    const honestParts: Uint8Array[] = [preamble()];
    for await (const batch of new RecordReader().batches(source(b))) {
      for (const { type, payload } of batch) if (type !== R_TRAILER) honestParts.push(record(type, payload.slice()));
    }
    const honestBody = Buffer.concat(honestParts);
    const honest = Buffer.concat([honestBody, record(R_TRAILER, countsPayload(counts, new Uint8Array(createHash('sha256').update(honestBody).digest())))]);
    await restoreLog({ dir: join(await tempDir(), 'honest'), input: source(new Uint8Array(honest)) });
  });

  it('refuses a non-empty target dir, changing nothing', async () => {
    const { log } = await sampleLog(await tempDir());
    const b = await backupToBuffer(log);
    const dir = await tempDir();
    await writeFile(join(dir, 'keep.txt'), 'mine');
    expect(await codeOf(restoreLog({ dir, input: source(b) }))).toBe('LOG_RESTORE_NOT_EMPTY');
    expect(await readdir(dir)).toEqual(['keep.txt']);
    expect(await readFile(join(dir, 'keep.txt'), 'utf8')).toBe('mine');
    const file = join(dir, 'keep.txt');
    expect(await codeOf(restoreLog({ dir: file, input: source(b) }))).toBe('LOG_RESTORE_NOT_EMPTY');
  });

  it('bad arguments are LOG_INVALID_ARGUMENT', async () => {
    const { log } = await sampleLog(await tempDir());
    expect(await codeOf(backupLog(log, {} as never))).toBe('LOG_INVALID_ARGUMENT');
    expect(await codeOf(backupLog({} as never, new PassThrough()))).toBe('LOG_INVALID_ARGUMENT');
    expect(await codeOf(backupLog(log, new PassThrough(), { sections: { '': bytes(1) } }))).toBe('LOG_INVALID_ARGUMENT');
    const dir = join(await tempDir(), 'x');
    expect(await codeOf(restoreLog({ dir, input: [bytes(1)] as never }))).toBe('LOG_INVALID_ARGUMENT');
    expect(await codeOf(restoreLog({ dir, input: source(bytes(1)), untilLsn: -1 }))).toBe('LOG_INVALID_ARGUMENT');
    expect(await codeOf(restoreLog({ dir: '', input: source(bytes(1)) }))).toBe('LOG_INVALID_ARGUMENT');
  });

  it('a backup taken while appends continue is a consistent cut', async () => {
    const { log } = await sampleLog(await tempDir());
    const writes = Promise.all(Array.from({ length: 200 }, (_, i) => log.append(input(`busy-${i % 7}`, bytes(i)))));
    const b = await backupToBuffer(log);
    await writes;
    const target = join(await tempDir(), 'r');
    await restoreLog({ dir: target, input: source(b) });
    const copy = track(await openLog({ dir: target }));
    expect((await copy.verify()).ok).toBe(true);
    // every restored stream is a prefix of the original
    for (const s of copy.streams()) {
      const got = await collect(copy.read(s));
      expect(got).toEqual((await collect(log.read(s))).slice(0, got.length));
    }
  });
});

describe('backup / restore failures (issue 11.5)', () => {
  it('an output that fails (a missing dir) is LOG_BACKUP_WRITE_FAILED, never an unhandled stream error', async () => {
    const { log } = await sampleLog(await tempDir());
    const file = join(await tempDir(), 'no', 'such', 'dir', 'x.bak');
    const err = await backupLog(log, createWriteStream(file)).then(() => undefined, (e: unknown) => e);
    expect((err as { code?: string }).code).toBe('LOG_BACKUP_WRITE_FAILED');
    expect((err as { details?: { errno?: string } }).details?.errno).toBe('ENOENT');
    // the errno once, as Node's message has it: not "ENOENT ENOENT: no such file ..."
    expect((err as Error).message).toMatch(/^the backup could not be written: ENOENT: no such file or directory/);
    // the log is still usable
    expect((await log.verify()).ok).toBe(true);
  });

  it('a codec factory that refuses (a wrong passphrase) keeps its own code; nothing is left in the target', async () => {
    const { log } = await sampleLog(await tempDir(), testCodec());
    const b = await backupToBuffer(log);
    const target = join(await tempDir(), 'r');
    const refuse = async (): Promise<LogCodec> => {
      const { ProfileSyncError } = await import('@profilesync/errors');
      throw new ProfileSyncError('CRYPTO_BAD_PASSPHRASE', 'wrong passphrase');
    };
    expect(await codeOf(restoreLog({ dir: target, input: source(b), codec: refuse }))).toBe('CRYPTO_BAD_PASSPHRASE');
    await expect(stat(target)).rejects.toThrow();
  });

  it('a truncated backup with snapshot work in flight fails cleanly (no unhandled rejection from the snapshot thread)', async () => {
    const { log } = await sampleLog(await tempDir());
    const b = await backupToBuffer(log);
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown): void => {
      unhandled.push(e);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      for (const pct of [0.3, 0.6, 0.9]) {
        const target = join(await tempDir(), `cut-${pct}`);
        const cut = b.subarray(0, Math.floor(b.byteLength * pct));
        expect(await codeOf(restoreLog({ dir: target, input: source(cut, 64), materialize, snapshotPolicy: snapshotEvery(1) }))).toBe('LOG_BACKUP_CORRUPT');
        await expect(stat(target)).rejects.toThrow();
      }
      // let the closed snapshot threads' rejections surface (Node reports unobserved ones after the microtask queue drains)
      for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).toEqual([]);
  });
});
