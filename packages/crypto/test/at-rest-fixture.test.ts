/**
 * Record version 1 (AES-256-GCM per record) on disk, written by the code of its time
 * (test/fixtures/at-rest/make-fixture.ts), read by today's codec, which writes version 2.
 * Entries are never re-encrypted (their chain hash covers the stored bytes), so a log holds
 * both versions for good: every read path must take both.
 */
import { createReadStream } from 'node:fs';
import { cp, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Level } from 'level';
import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { openLog, restoreLog, snapshotEvery, type EventLog } from '@profilesync/log';
import { KEYRING_FILE, createAtRestCodec, unlockKeyring, type Keyring } from '../src/index.js';
import { tempDir } from './helpers.js';

const FIXTURE = fileURLToPath(new URL('../../../test/fixtures/at-rest/', import.meta.url));
const PASSPHRASE = 'at-rest fixture passphrase';
const hex = (b: Uint8Array | undefined) => (b === undefined ? null : Buffer.from(b).toString('hex'));
const cleanup: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c().catch(() => undefined);
});

/** The description make-fixture.ts recorded in expected.json. */
async function describeLog(l: EventLog) {
  const streams: Record<string, unknown> = {};
  for (const s of l.streams()) {
    const entries = [];
    for await (const e of l.read(s)) {
      entries.push({ seq: e.seq, lsn: e.lsn, ts: e.ts, actor: e.actor, origin: e.origin, summary: e.summary, version: hex(e.version), body: hex(e.body), prevHash: hex(e.prevHash), hash: hex(e.hash) });
    }
    const h = l.head(s);
    let state = null;
    if (!s.startsWith('#')) {
      const d = new Y.Doc({ gc: false });
      Y.applyUpdate(d, (await l.loadState(s)).state);
      state = d.getMap('profile').toJSON();
    }
    streams[s] = { head: h && { seq: h.seq, lsn: h.lsn, ts: h.ts, hash: hex(h.hash) }, view: hex(await l.getView(s)), state, entries };
  }
  const aux: Record<string, string | null> = {};
  for (const name of await l.listAux('')) aux[name] = hex(await l.getAux(name));
  // how this open loaded and how long it took are facts of the open, not of the stored data
  const { dir: _dir, openedFrom: _from, openMillis: _ms, ...info } = l.info();
  return { info, streams, aux };
}

interface Expected {
  streams: Record<string, { entries: unknown[]; state: Record<string, unknown> }>;
}

async function fixtureCopy(): Promise<string> {
  const dir = await tempDir();
  await cp(join(FIXTURE, 'v1'), dir, { recursive: true });
  return dir;
}

async function unlock(dir: string): Promise<Keyring> {
  const keyring = await unlockKeyring(dir, { passphrase: PASSPHRASE });
  cleanup.push(() => keyring.close());
  return keyring;
}

async function open(dir: string, keyring: Keyring): Promise<EventLog> {
  const log = await openLog({ dir, codec: createAtRestCodec(keyring), snapshotPolicy: snapshotEvery(4) });
  cleanup.push(() => log.close());
  return log;
}

/** Record versions of the stored entry payloads, in key order (LevelDB read directly, log closed). */
async function entryVersions(dir: string): Promise<number[]> {
  const db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  const out: number[] = [];
  try {
    for await (const [, v] of db.iterator({ gte: Uint8Array.of(0x45), lt: Uint8Array.of(0x46) })) out.push(v[82] as number);
  } finally {
    await db.close();
  }
  return out;
}

describe('at-rest record version 1 fixture (AES-256-GCM, written before version 2)', () => {
  it('today\'s codec reads it identically, appends version-2 records beside it, and both verify and read back', async () => {
    const dir = await fixtureCopy();
    const expected = JSON.parse(await readFile(join(FIXTURE, 'expected.json'), 'utf8')) as Expected;
    expect(await entryVersions(join(dir, 'log'))).toEqual(new Array(11).fill(1));
    const keyring = await unlock(dir);
    let log = await open(join(dir, 'log'), keyring);
    expect(await describeLog(log)).toEqual(expected);
    expect((await log.verify()).ok).toBe(true);

    // new writes: version 2, chained onto the version-1 entries (also under a newly rotated key)
    const doc = new Y.Doc({ gc: false });
    Y.applyUpdate(doc, (await log.loadState('profile-a')).state);
    let last: Uint8Array = new Uint8Array();
    doc.on('update', (u: Uint8Array) => (last = u));
    for (let i = 0; i < 6; i++) {
      (doc.getMap('profile').get('systemMessage') as Y.Text).insert(0, `v2-${i} `);
      await log.append({ stream: 'profile-a', body: last, actor: 'new', origin: 'local', summary: `v2 edit ${i}`, view: new TextEncoder().encode(JSON.stringify(doc.getMap('profile').toJSON())) });
    }
    if (keyring.activeKeyId === 2) await keyring.rotateDataKey();
    await log.append({ stream: 'profile-c', body: Y.encodeStateAsUpdate(new Y.Doc()), actor: 'new', origin: 'local' });
    await log.putAux('token:2', new TextEncoder().encode('another'));
    expect((await log.verify()).ok).toBe(true);
    await log.close();

    // key order: profile-a (6 old, 6 new), profile-b (4 old), #audit (1 old), profile-c (1 new)
    expect(await entryVersions(join(dir, 'log'))).toEqual([...new Array(6).fill(1), ...new Array(6).fill(2), ...new Array(4).fill(1), 1, 2]);
    log = await open(join(dir, 'log'), await unlock(dir));
    const after = await describeLog(log);
    const a = after.streams['profile-a'] as Expected['streams'][string];
    expect(a.entries.slice(0, 6)).toEqual(expected.streams['profile-a']!.entries);
    expect(a.entries).toHaveLength(12);
    expect(String(a.state.systemMessage)).toBe(`v2-5 v2-4 v2-3 v2-2 v2-1 v2-0 ${String(expected.streams['profile-a']!.state.systemMessage)}`);
    expect(after.streams['profile-b']).toEqual(expected.streams['profile-b']);
    expect(after.streams['#audit']).toEqual(expected.streams['#audit']);
    expect(after.aux['token:1']).toBe(Buffer.from('hashed-secret').toString('hex'));
    expect(after.aux['token:2']).toBe(Buffer.from('another').toString('hex'));
    expect((await log.verify()).ok).toBe(true);
  });

  it('a version-1 backup restores with today\'s code (keyring from its section) and reads identically', async () => {
    const expected = JSON.parse(await readFile(join(FIXTURE, 'expected.json'), 'utf8')) as Expected;
    const target = join(await tempDir(), 'restored');
    let keyring: Keyring | undefined;
    const report = await restoreLog({
      dir: join(target, 'log'),
      input: createReadStream(join(FIXTURE, 'v1', 'backup.psb')),
      codec: async ({ sections }) => {
        const { mkdir, writeFile } = await import('node:fs/promises');
        await mkdir(target, { recursive: true });
        await writeFile(join(target, KEYRING_FILE), sections.get(KEYRING_FILE)!);
        keyring = await unlock(target);
        return createAtRestCodec(keyring);
      },
      snapshotPolicy: snapshotEvery(4),
    });
    expect(report.entries).toBe(11);
    const log = await open(join(target, 'log'), keyring!);
    const got = await describeLog(log);
    for (const s of Object.keys(expected.streams)) {
      expect((got.streams[s] as Expected['streams'][string]).entries).toEqual(expected.streams[s]!.entries);
      expect((got.streams[s] as Expected['streams'][string]).state).toEqual(expected.streams[s]!.state);
    }
    expect((await log.verify()).ok).toBe(true);
  });
});
