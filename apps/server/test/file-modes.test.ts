/**
 * Files and keys (issue 11.8). The attack first: an operator creates the data dir with a loose
 * umask (`mkdir -m 755`, files 0644 from an older node or a copy), then starts the node. The node
 * must leave nothing readable by others: data dir and log dir 0700, every file 0600 (LevelDB's
 * too, including the files LevelDB creates after the node opened), on plaintext and encrypted
 * nodes; and a weak passphrase is refused before anything is created.
 */
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { passphraseStrength } from '@profilesync/crypto';
import { defaultConfig, startServer, type RunningServer } from '../src/index.js';
import { restrictOwnerOnly, tightenDataDir } from '../src/file-modes.js';
import { ADMIN, http, profileInput, tempDir } from './helpers.js';

const root = tempDir('ps-modes-');
const FAST_SCRYPT = { N: 1024, r: 8, p: 1 };
const PASS = 'modes test passphrase 42';

afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Every dir and file under `dir` (two levels) with its permission bits. */
function modes(dir: string): Map<string, number> {
  const out = new Map<string, number>();
  const visit = (p: string, depth: number) => {
    const st = lstatSync(p);
    out.set(p, st.mode & 0o777);
    if (st.isDirectory() && depth < 2) for (const n of readdirSync(p)) visit(join(p, n), depth + 1);
  };
  visit(dir, 0);
  return out;
}

/** What an operator's loose umask leaves: dirs 0755, files 0644. */
function loosen(dir: string): void {
  for (const [p] of modes(dir)) chmodSync(p, statSync(p).isDirectory() ? 0o755 : 0o644);
}

const loose = (m: Map<string, number>) => [...m].filter(([, mode]) => (mode & 0o077) !== 0).map(([p, mode]) => `${p} ${mode.toString(8)}`);

async function start(data: string, encrypted: boolean): Promise<RunningServer> {
  return startServer(defaultConfig({ dataDir: data, port: 0, logLevel: 'silent', encryption: encrypted }), {
    env: {},
    adminToken: ADMIN,
    sync: false,
    ...(encrypted ? { passphrase: async () => PASS, scrypt: FAST_SCRYPT } : {}),
  });
}

describe('owner-only data dirs', () => {
  let previous: number;
  beforeAll(() => {
    // the operator's usual umask; the node must not depend on it
    previous = process.umask(0o022);
  });
  afterAll(() => {
    process.umask(previous);
  });

  for (const encrypted of [false, true]) {
    it(`${encrypted ? 'encrypted' : 'plaintext'}: a 0755 data dir with 0644 files is tightened at start; files LevelDB creates later are 0600`, async () => {
      const data = join(root, encrypted ? 'enc' : 'plain');
      mkdirSync(data, { mode: 0o755 });
      chmodSync(data, 0o755);
      let s = await start(data, encrypted);
      expect((await http(s.url, 'POST', '/api/profiles', { body: profileInput('p1') })).status).toBe(201);
      await s.close();
      expect(loose(modes(data))).toEqual([]);

      // an older node or a copy with a loose umask: everything readable by others
      process.umask(0o022);
      loosen(data);
      expect(loose(modes(data)).length).toBeGreaterThan(5);
      const before = new Set(modes(data).keys());
      s = await start(data, encrypted);
      expect(s.node.tightened).toContain(data);
      expect(s.node.tightened).toContain(join(data, 'log'));
      for (let i = 0; i < 50; i++) expect((await http(s.url, 'PATCH', '/api/profiles/p1', { body: { description: `rev ${i}` } })).status).toBe(200);
      const after = modes(data);
      // taken while the node runs: close flushes LevelDB's memtable, which removes the old write-ahead log
      const dirs = new Set([...after.keys()].filter((p) => statSync(p).isDirectory()));
      await s.close();
      // LevelDB created new files after the node opened (a new log and manifest at least): 0600 too
      // (server.json is written while the node runs and removed when it stops: its mode is in `after`)
      const created = [...after.keys()].filter((p) => !before.has(p) && !dirs.has(p));
      expect(created.length).toBeGreaterThan(0);
      expect(loose(after)).toEqual([]);
      expect(after.get(data)).toBe(0o700);
      expect(after.get(join(data, 'log'))).toBe(0o700);
      for (const [p, mode] of after) if (!dirs.has(p)) expect([p, mode]).toEqual([p, 0o600]);
      expect(existsSync(join(data, encrypted ? 'keyring.json' : 'identity.json'))).toBe(true);
    });
  }

  it('tightenDataDir leaves symlinks alone and keeps the owner bits; restrictOwnerOnly only adds 077', () => {
    const dir = join(root, 'unit');
    mkdirSync(join(dir, 'log'), { recursive: true });
    chmodSync(dir, 0o750);
    chmodSync(join(dir, 'log'), 0o755);
    const outside = join(root, 'outside.txt');
    writeFileSync(outside, 'not ours to change');
    chmodSync(outside, 0o644);
    symlinkSync(outside, join(dir, 'link'));
    writeFileSync(join(dir, 'tool'), '#!/bin/sh\n');
    chmodSync(join(dir, 'tool'), 0o755);
    expect(tightenDataDir(dir).sort()).toEqual([dir, join(dir, 'log'), join(dir, 'tool')].sort());
    expect(statSync(outside).mode & 0o777).toBe(0o644);
    expect(statSync(join(dir, 'tool')).mode & 0o777).toBe(0o700);
    expect(tightenDataDir(dir)).toEqual([]);
    process.umask(0o027);
    expect(restrictOwnerOnly()).toBe(true);
    expect(process.umask(0o077)).toBe(0o077);
  });
});

describe('passphrase minimum strength', () => {
  it('the rule: at least 12 characters and length × log2(distinct) >= 40 bits', () => {
    const cases: [string, boolean, string?][] = [
      ['x', false, 'length'],
      ['hunter2', false, 'length'],
      ['aaaaaaaaaaaaaaaaaaaa', false, 'entropy'],
      ['abcabcabcabcabc', false, 'entropy'],
      ['123456789012', false, 'entropy'],
      ['correct horse battery staple', true],
      ['Tr0ub4dor&3xy', true],
      ['modes test passphrase 42', true],
    ];
    for (const [p, ok, rule] of cases) {
      const s = passphraseStrength(p);
      expect([p, s.ok, s.rule]).toEqual([p, ok, rule]);
    }
    // NFKC, counted in code points: full-width letters are the same as ASCII ones
    expect(passphraseStrength('ａｂｃａｂｃａｂｃａｂｃ').rule).toBe('entropy');
  });

  it('a new encrypted node with a weak passphrase is refused (CRYPTO_PASSPHRASE_WEAK) and nothing is created', async () => {
    const data = join(root, 'weak');
    const err = await startServer(defaultConfig({ dataDir: data, port: 0, logLevel: 'silent', encryption: true }), { env: {}, adminToken: ADMIN, sync: false, passphrase: async () => 'x', scrypt: FAST_SCRYPT }).then(
      () => undefined,
      (e: { code?: string; details?: Record<string, unknown>; message: string }) => e,
    );
    expect(err?.code).toBe('CRYPTO_PASSPHRASE_WEAK');
    expect(err?.details).toMatchObject({ rule: 'length', length: 1, minLength: 12, minBits: 40 });
    expect(err?.message).not.toContain("'x'");
    expect(existsSync(data)).toBe(false);
  });
});
