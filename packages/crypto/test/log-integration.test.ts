import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openLog, type EventLog, type LogCodec } from '@profilesync/log';
import { createAtRestCodec, initKeyring, unlockKeyring, type Keyring } from '../src/index.js';
import { decodeHandle, readBlock, walkBlock } from '../../log/src/tables.js';
import { FAST_SCRYPT, bytes, codeOf, tempDir } from './helpers.js';

const PASS = 'integration pass';
const text = (b: Uint8Array | undefined): string => new TextDecoder().decode(b);
const cleanup: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c().catch(() => undefined);
});

async function open(dir: string, codec?: LogCodec): Promise<EventLog> {
  const log = await openLog({ dir: join(dir, 'log'), ...(codec ? { codec } : {}), clock: () => 1_700_000_000_000 });
  cleanup.push(() => log.close());
  return log;
}

async function newKeyring(dir: string): Promise<Keyring> {
  const { keyring } = await initKeyring(dir, { passphrase: PASS, scrypt: FAST_SCRYPT });
  cleanup.push(() => keyring.close());
  return keyring;
}

async function unlock(dir: string): Promise<Keyring> {
  const keyring = await unlockKeyring(dir, { passphrase: PASS });
  cleanup.push(() => keyring.close());
  return keyring;
}

async function readAll(log: EventLog, stream: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of log.read(stream)) out.push(`${e.seq}:${e.actor}:${e.summary}:${text(e.body)}`);
  return out;
}

/**
 * The blocks of a LevelDB table file (index and data blocks), decompressed: LevelDB compresses
 * table blocks with Snappy, which breaks a repeated string into back-references, so plaintext in
 * a table can be invisible to a scan of the raw file (the memtable is flushed to a table when
 * the log closes).
 */
function tableBlocks(file: Buffer): Buffer[] {
  if (file.byteLength < 48) return [];
  const c = { o: file.byteLength - 48 };
  const varint = (): number => {
    let n = 0;
    for (let mul = 1; ; mul *= 128) {
      const b = file[c.o++] as number;
      n += (b & 0x7f) * mul;
      if (b < 0x80) return n;
    }
  };
  varint(); // meta index handle
  varint();
  const index = { offset: varint(), size: varint() };
  const idx = readBlock(file, index).contents;
  if (idx === undefined) throw new Error('unreadable table index');
  const out = [Buffer.from(idx)];
  walkBlock(idx, 8, (_k, v) => {
    const data = readBlock(file, decodeHandle(v)).contents;
    if (data === undefined) throw new Error('unreadable table block');
    out.push(Buffer.from(data));
  }, false);
  return out;
}

/** Every file under `dir`, recursively, as raw bytes; for table files also their decompressed blocks. */
async function allFiles(dir: string): Promise<{ path: string; data: Buffer }[]> {
  const out: { path: string; data: Buffer }[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const data = await readFile(path);
    out.push({ path, data });
    if (/\.(ldb|sst)$/.test(entry.name)) tableBlocks(data).forEach((b, i) => out.push({ path: `${path}#block${i}`, data: b }));
  }
  return out;
}

/** The forms a marker could take on disk: utf8, utf-16le, hex, and base64/base64url at all three alignments. */
function markerForms(marker: string): Buffer[] {
  const raw = Buffer.from(marker, 'utf8');
  const forms = [raw, Buffer.from(marker, 'utf16le'), Buffer.from(raw.toString('hex'))];
  for (const enc of ['base64', 'base64url'] as const) {
    for (let shift = 0; shift < 3; shift++) {
      const encoded = Buffer.concat([Buffer.alloc(shift), raw]).toString(enc);
      // drop the characters touched by the shift bytes and by the (possibly partial) last group
      forms.push(Buffer.from(encoded.slice(Math.ceil((shift * 8) / 6), encoded.length - 4)));
    }
  }
  return forms;
}

async function hits(dir: string, markers: string[]): Promise<string[]> {
  const found: string[] = [];
  const files = await allFiles(dir);
  for (const m of markers) {
    for (const form of markerForms(m)) {
      for (const f of files) if (f.data.includes(form)) found.push(`${m} in ${f.path}`);
    }
  }
  return found;
}

const MARKERS = {
  stream: 'PSMARK-profile-id-a8d1f0',
  body: 'PSMARK-system-message-6c2e77 You are a helpful assistant',
  actor: 'PSMARK-actor-9b31c2',
  summary: 'PSMARK-summary-templates.greeting-4f0a',
  view: 'PSMARK-view-template-Hello {{name}}-71be',
  auxName: 'PSMARK-token-name-33d9a1',
  auxValue: 'PSMARK-token-secret-e4c8b7',
  version: 'PSMARK-version-ref-0d5f',
};

async function writeMarkers(log: EventLog): Promise<void> {
  for (let i = 0; i < 20; i++) {
    await log.append({
      stream: MARKERS.stream,
      body: bytes(`${MARKERS.body} #${i}`),
      actor: MARKERS.actor,
      origin: 'local',
      summary: MARKERS.summary,
      version: bytes(MARKERS.version),
      view: bytes(`${MARKERS.view} #${i}`),
    });
  }
  await log.putAux(MARKERS.auxName, bytes(MARKERS.auxValue));
}

describe('encrypted event log', () => {
  it('round-trips entries, views and aux records, across close, unlock and reopen', async () => {
    const dir = await tempDir();
    const keyring = await newKeyring(dir);
    const log = await open(dir, createAtRestCodec(keyring));
    await log.append({ stream: 'p1', body: bytes('one'), actor: 'alice', origin: 'local', summary: 's1', view: bytes('{"v":1}') });
    await log.appendMany([
      { stream: 'p1', body: bytes('two'), actor: 'bob', origin: 'local', summary: 's2', view: bytes('{"v":2}') },
      { stream: 'p2', body: bytes('other'), actor: 'carol', origin: 'peer:x', view: bytes('{"p2":1}') },
    ]);
    await log.putAux('peer:alpha', bytes('{"url":"ws://a"}'));
    expect(log.info().codecId).toBe('aes-256-gcm/v1');
    await log.close();
    await keyring.close();

    const again = await unlock(dir);
    const reopened = await open(dir, createAtRestCodec(again));
    expect(reopened.streams().sort()).toEqual(['p1', 'p2']);
    expect(await readAll(reopened, 'p1')).toEqual(['1:alice:s1:one', '2:bob:s2:two']);
    expect(text(await reopened.getView('p1'))).toBe('{"v":2}');
    expect(text(await reopened.getAux('peer:alpha'))).toBe('{"url":"ws://a"}');
    expect(await reopened.listAux('peer:')).toEqual(['peer:alpha']);
    const report = await reopened.verify();
    expect(report.ok).toBe(true);
    expect(report.entries).toBe(3);
  });

  it('keeps old records readable after a data key rotation', async () => {
    const dir = await tempDir();
    const keyring = await newKeyring(dir);
    const log = await open(dir, createAtRestCodec(keyring));
    await log.append({ stream: 'p', body: bytes('under key 1'), actor: 'a', origin: 'local' });
    await keyring.rotateDataKey();
    await log.append({ stream: 'p', body: bytes('under key 2'), actor: 'a', origin: 'local' });
    await keyring.changePassphrase(PASS, PASS);
    await log.close();
    await keyring.close();
    const again = await unlock(dir);
    expect(again.activeKeyId).toBe(2);
    const reopened = await open(dir, createAtRestCodec(again));
    expect(await readAll(reopened, 'p')).toEqual(['1:a::under key 1', '2:a::under key 2']);
    expect((await reopened.verify()).ok).toBe(true);
  });

  it('leaves no plaintext on disk: markers absent in utf8, utf-16le, hex and base64 forms (and the scan finds them in a plain log)', async () => {
    const all = Object.values(MARKERS);

    // control 1: the base64 forms catch a marker at any offset inside a larger encoded blob
    for (let offset = 0; offset < 6; offset++) {
      const blob = Buffer.concat([Buffer.alloc(offset, 0x5a), Buffer.from(MARKERS.auxValue), Buffer.alloc(7, 0xa5)]);
      for (const enc of ['base64', 'base64url'] as const) {
        const encoded = Buffer.from(blob.toString(enc));
        expect(markerForms(MARKERS.auxValue).some((f) => encoded.includes(f))).toBe(true);
      }
    }
    // control 2: the scanner does find the markers when the log is not encrypted
    const plainDir = await tempDir();
    const plain = await open(plainDir);
    await writeMarkers(plain);
    await plain.close();
    const plainHits = await hits(plainDir, all);
    for (const m of [MARKERS.body, MARKERS.view, MARKERS.auxValue, MARKERS.stream]) {
      expect(plainHits.filter((h) => h.startsWith(m)), m).not.toEqual([]);
    }
    // control 3: closing flushed the plain log's records into a (Snappy-compressed) table, and the
    // scan reads its blocks decompressed
    expect(plainHits.some((h) => /\.(ldb|sst)#block\d+$/.test(h)), plainHits.join('\n')).toBe(true);

    const dir = await tempDir();
    const keyring = await newKeyring(dir);
    const log = await open(dir, createAtRestCodec(keyring));
    await writeMarkers(log);
    await log.close();
    await keyring.close();
    expect(await hits(dir, all)).toEqual([]);

    // the same dir opened without the codec is refused, and writes nothing readable
    expect(await codeOf(() => open(dir))).toBe('LOG_CODEC_MISMATCH');
    expect(await hits(dir, all)).toEqual([]);
    // and a plain log cannot be opened with the codec
    const k2 = await unlock(dir);
    expect(await codeOf(() => open(plainDir, createAtRestCodec(k2)))).toBe('LOG_CODEC_MISMATCH');
  });

  it("another keyring's codec (same codec id) reads nothing: no names, no garbage, verify reports every record", async () => {
    const dir = await tempDir();
    const keyring = await newKeyring(dir);
    const log = await open(dir, createAtRestCodec(keyring));
    await log.append({ stream: 'p', body: bytes('secret'), actor: 'a', origin: 'local', view: bytes('view') });
    await log.putAux('n', bytes('v'));
    await log.close();
    const other = await newKeyring(await tempDir());
    const wrong = await open(dir, createAtRestCodec(other));
    expect(wrong.streams()).toEqual([]);
    expect(await wrong.getAux('n')).toBeUndefined();
    const report = await wrong.verify();
    expect(report.ok).toBe(false);
    expect(new Set(report.broken.map((b) => b.kind))).toEqual(new Set(['catalog', 'view', 'decode', 'aux']));
    expect(report.broken.some((b) => b.message.includes('secret'))).toBe(false);
  });
});
