/** Shared test helpers: temp dirs, Yjs updates, append inputs. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as Y from 'yjs';
import { afterEach } from 'vitest';
import { Level } from 'level';
import { ProfileSyncError } from '@profilesync/errors';
import { DocWriter, viewOf } from './child/docs.js';
import type { AppendInput, EventLog, LoadedState, LogCodec, Materializer, Place } from '../src/index.js';

export { DocWriter, viewOf };

const dirs: string[] = [];
const logs: EventLog[] = [];

/** A fresh temp dir, removed after the test (logs registered with `track` are closed first). */
export async function tempDir(prefix = 'pslog-'): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

export function track<T extends EventLog>(log: T): T {
  logs.push(log);
  return log;
}

afterEach(async () => {
  for (const l of logs.splice(0)) await l.close().catch(() => undefined);
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

/** The materializer matching `viewOf`: deterministic from the merged state. */
export const materialize: Materializer = (_stream, state) => {
  const doc = new Y.Doc({ gc: false });
  Y.applyUpdate(doc, state);
  const v = viewOf(doc);
  doc.destroy();
  return v;
};

/** What a load gives: where it started (its base and tail) and the document it holds (JSON and state vector). */
export function loadSummary(l: LoadedState): { seq: number; base: number; tail: number; doc: unknown; sv: string } {
  const doc = new Y.Doc({ gc: false });
  Y.applyUpdate(doc, l.state);
  const out = { seq: l.seq, base: l.snapshotSeq, tail: l.tailEntries, doc: doc.getMap('profile').toJSON(), sv: Buffer.from(Y.encodeStateVector(doc)).toString('hex') };
  doc.destroy();
  return out;
}

export function input(stream: string, body: Uint8Array, extra: Partial<AppendInput> = {}): AppendInput {
  return { stream, body, actor: 'alice', origin: 'local', ...extra };
}

export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

export function bytes(...xs: number[]): Uint8Array {
  return Uint8Array.from(xs);
}

/** A clock the test moves by hand. */
export function manualClock(start = 1_700_000_000_000): { now: () => number; set(t: number): void; advance(ms: number): void } {
  let t = start;
  return { now: () => t, set: (x) => (t = x), advance: (ms) => (t += ms) };
}

/** The error code a promise rejects with (or a function throws); 'no error' when it succeeds. */
export function codeOf(x: () => unknown): string | undefined;
export function codeOf(x: Promise<unknown>): Promise<string | undefined>;
export function codeOf(x: Promise<unknown> | (() => unknown)): unknown {
  const code = (e: unknown) => (e as { code?: string })?.code ?? `uncoded: ${String(e)}`;
  if (typeof x === 'function') {
    try {
      x();
      return 'no error';
    } catch (e) {
      return code(e);
    }
  }
  return x.then(() => 'no error', code);
}

/**
 * A toy "encrypting" codec for tests: XOR with a keystream derived from the place, plus a
 * 4-byte tag over place + plaintext, so moving a record to another place fails to decode, and
 * plaintext markers never reach the disk. keyFor hashes aux names.
 */
export function testCodec(id = 'test-xor/v1'): LogCodec & { keyFor(name: string): Uint8Array } {
  const stream = (place: Place, n: number): Uint8Array => {
    const out = new Uint8Array(n);
    let block = new Uint8Array(0);
    for (let i = 0; i < n; i++) {
      if (i % 32 === 0) block = createHash('sha256').update(`${id}|${place.kind}|${place.stream}|${place.seq}|${i / 32}`).digest();
      out[i] = block[i % 32] as number;
    }
    return out;
  };
  const tag = (place: Place, plain: Uint8Array): Uint8Array =>
    createHash('sha256').update(`${place.kind}|${place.stream}|${place.seq}|`).update(plain).digest().subarray(0, 4);
  return {
    id,
    encode(place, plain) {
      const ks = stream(place, plain.byteLength);
      const out = new Uint8Array(plain.byteLength + 4);
      for (let i = 0; i < plain.byteLength; i++) out[i] = (plain[i] as number) ^ (ks[i] as number);
      out.set(tag(place, plain), plain.byteLength);
      return out;
    },
    decode(place, stored) {
      const n = stored.byteLength - 4;
      if (n < 0) throw new ProfileSyncError('TEST_AUTH_FAILED', 'short record');
      const ks = stream(place, n);
      const plain = new Uint8Array(n);
      for (let i = 0; i < n; i++) plain[i] = (stored[i] as number) ^ (ks[i] as number);
      const t = tag(place, plain);
      for (let i = 0; i < 4; i++) if (t[i] !== stored[n + i]) throw new ProfileSyncError('TEST_AUTH_FAILED', 'tag mismatch');
      return plain;
    },
    keyFor(name) {
      return createHash('sha256').update(`aux|${name}`).digest().subarray(0, 16);
    },
  };
}

/** Every key/value of a closed log's LevelDB, for byte comparisons and tampering. */
export async function rawEntries(dir: string, prefix?: string): Promise<[Uint8Array, Uint8Array][]> {
  const db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  try {
    const out: [Uint8Array, Uint8Array][] = [];
    const range = prefix === undefined ? {} : { gte: Buffer.from(prefix), lt: Buffer.from(String.fromCharCode(prefix.charCodeAt(0) + 1)) };
    for await (const [k, v] of db.iterator(range)) out.push([new Uint8Array(k), new Uint8Array(v)]);
    return out;
  } finally {
    await db.close();
  }
}

/** Opens a closed log's LevelDB directly and runs `fn` (tests tamper with stored bytes this way). */
export async function withRawDb<T>(dir: string, fn: (db: Level<Uint8Array, Uint8Array>) => Promise<T>): Promise<T> {
  const db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Spawns `node --conditions=@profilesync/source --import tsx <script> ...args` from the repo root. */
export function spawnTs(script: string, args: string[]): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, ['--conditions=@profilesync/source', '--import', 'tsx', script, ...args], {
    cwd: REPO_ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

export function childPath(name: string): string {
  return fileURLToPath(new URL(`./child/${name}`, import.meta.url));
}
