import { cp, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { FORMAT_VERSION, openLog, snapshotEvery, type EventLog, type Migration } from '../src/index.js';
import { codeOf, tempDir, testCodec, track, withRawDb } from './helpers.js';

const FIXTURE = fileURLToPath(new URL('../../../test/fixtures/log/', import.meta.url));
const policy = snapshotEvery(4);
const hex = (b: Uint8Array | undefined) => (b === undefined ? null : Buffer.from(b).toString('hex'));
const metaFormat = Uint8Array.from(Buffer.from('Mformat'));

/** The same description make-fixture.ts recorded in expected.json. */
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
  // how this open loaded (index or scan) and how long it took are facts of the open, not of the stored data
  const { dir: _dir, openedFrom: _from, openMillis: _ms, ...info } = l.info();
  return { formatVersion: l.formatVersion, info, streams, aux };
}

async function fixtureCopy(): Promise<string> {
  const dir = join(await tempDir('pslog-fixture-'), 'db');
  await cp(join(FIXTURE, 'format1'), dir, { recursive: true });
  return dir;
}

async function expected() {
  return JSON.parse(await readFile(join(FIXTURE, 'expected.json'), 'utf8')) as { formatVersion: number; info: Record<string, unknown> };
}

function migration(runs: { n: number }, fail = false): Migration {
  return {
    from: 1,
    to: 2,
    description: 'test: marks the DB as migrated',
    async run(db) {
      runs.n++;
      if (fail) throw new Error('migration bug');
      await (db as { put(k: Uint8Array, v: Uint8Array): Promise<void> }).put(Uint8Array.from(Buffer.from('Mmigrated-test')), Uint8Array.of(1));
    },
  };
}

describe('storage format and migrations (format-1 fixture)', () => {
  it('current code opens the format-1 fixture and reads it identically', async () => {
    expect(FORMAT_VERSION).toBe(1);
    const log = track(await openLog({ dir: await fixtureCopy(), snapshotPolicy: policy }));
    expect(await describeLog(log)).toEqual(await expected());
    expect((await log.verify()).ok).toBe(true);
    expect((await log.loadState('profile-a')).snapshotSeq).toBe(4);
    const more = new Y.Doc();
    more.getText('x').insert(0, 'more');
    const ack = await log.append({ stream: 'profile-b', body: Y.encodeStateAsUpdate(more), actor: 'a', origin: 'local' });
    expect(ack).toMatchObject({ seq: 4, lsn: 11 });
  });

  it('an injected 1 -> 2 migration runs once, updates the stored version, data stays readable', async () => {
    const dir = await fixtureCopy();
    const runs = { n: 0 };
    const migrations = new Map([[1, migration(runs)]]);
    let log = await openLog({ dir, migrations, snapshotPolicy: policy });
    expect(runs.n).toBe(1);
    expect(log.formatVersion).toBe(2);
    const want = await expected();
    expect(await describeLog(log)).toEqual({ ...want, formatVersion: 2, info: { ...want.info, formatVersion: 2 } });
    await log.close();
    const stored = await withRawDb(dir, async (db) => [await db.get(metaFormat), await db.get(Uint8Array.from(Buffer.from('Mmigrated-test')))]);
    expect(stored.map((b) => (b === undefined ? b : new Uint8Array(b)))).toEqual([
      Uint8Array.of(0, 0, 0, 2),
      Uint8Array.of(1),
    ]);
    log = await openLog({ dir, migrations, snapshotPolicy: policy });
    expect(runs.n).toBe(1);
    expect(log.formatVersion).toBe(2);
    await log.close();
    // code that knows no migration to 2 cannot read it
    expect(await codeOf(openLog({ dir }))).toBe('LOG_FORMAT_UNSUPPORTED');
  });

  it('a DB claiming format 99 fails with LOG_FORMAT_UNSUPPORTED', async () => {
    const dir = await fixtureCopy();
    await withRawDb(dir, (db) => db.put(metaFormat, Uint8Array.of(0, 0, 0, 99)));
    const err = await openLog({ dir }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'LOG_FORMAT_UNSUPPORTED', details: { format: 99, supported: 1 } });
    // and the dir is not left locked
    await withRawDb(dir, async () => undefined);
  });

  it('a failing migration is LOG_MIGRATION_FAILED and leaves the version as it was', async () => {
    const dir = await fixtureCopy();
    const runs = { n: 0 };
    expect(await codeOf(openLog({ dir, migrations: new Map([[1, migration(runs, true)]]) }))).toBe('LOG_MIGRATION_FAILED');
    expect(runs.n).toBe(1);
    const log = track(await openLog({ dir, snapshotPolicy: policy }));
    expect(log.formatVersion).toBe(1);
  });

  it('rejects malformed migration maps, foreign codecs and format-less DBs', async () => {
    const bad = { from: 2, to: 3, description: 'x', run: async () => undefined } as Migration;
    expect(await codeOf(openLog({ dir: await fixtureCopy(), migrations: new Map([[1, bad]]) }))).toBe('LOG_INVALID_ARGUMENT');
    const backwards = { from: 1, to: 1, description: 'x', run: async () => undefined } as Migration;
    expect(await codeOf(openLog({ dir: await fixtureCopy(), migrations: new Map([[1, backwards]]) }))).toBe('LOG_INVALID_ARGUMENT');
    const err = await openLog({ dir: await fixtureCopy(), codec: testCodec() }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'LOG_CODEC_MISMATCH', details: { stored: 'plain', given: 'test-xor/v1' } });
    const dir = await fixtureCopy();
    await withRawDb(dir, (db) => db.del(metaFormat));
    expect(await codeOf(openLog({ dir }))).toBe('LOG_CORRUPT');
  });
});
