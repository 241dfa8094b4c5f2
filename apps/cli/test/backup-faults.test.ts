/**
 * Issue 11.5: damaged backups and careless targets through the real binary. A truncated or
 * altered backup (plaintext and encrypted) is a clean LOG_BACKUP_CORRUPT with exit 3, no
 * uncaught error, and nothing left in the target; a wrong passphrase is CRYPTO_BAD_PASSPHRASE
 * (exit 5), not "corrupt"; `backup` into a missing directory is a USAGE error (exit 2); restore
 * into a directory holding someone else's files is refused (exit 6) and leaves them alone.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cli, type RunResult } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'ps-bakfault-'));
const PASS = { PROFILESYNC_PASSPHRASE: 'backup fault passphrase 1' };
const profiles = { profiles: [0, 1, 2, 3, 4].map((i) => ({ id: `p${i}`, modelId: 'm', name: `profile ${i}`, systemMessage: `system ${i} `.repeat(20) })) };

const backedUp = new Map<string, number>();

function makeNode(name: string, env: Record<string, string>, encrypt: boolean): string {
  const data = join(dir, name);
  expect(cli(['init', '--data', data, '--json', ...(encrypt ? ['--encrypt'] : [])], env).code).toBe(0);
  writeFileSync(join(dir, `${name}.json`), JSON.stringify(profiles));
  expect(cli(['import', join(dir, `${name}.json`), '--data', data, '--json'], env).code).toBe(0);
  const bak = join(dir, `${name}.bak`);
  const b = cli(['backup', bak, '--data', data, '--json'], env);
  expect(b.code).toBe(0);
  backedUp.set(bak, b.json.entries);
  return bak;
}

/** A clean, coded failure: the documented exit code, one JSON error line, no stack trace. */
function expectClean(r: RunResult, exit: number, code: string): void {
  expect({ exit: r.code, code: r.error?.code }).toEqual({ exit, code });
  expect(r.stderr).not.toMatch(/\n\s+at |Uncaught|Unhandled|node:internal/);
}

let plain = '';
let encrypted = '';
beforeAll(() => {
  assertBuilt();
  plain = makeNode('plain', {}, false);
  encrypted = makeNode('enc', PASS, true);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a directory in the way of FILE.partial', () => {
  it('offline: LOG_BACKUP_WRITE_FAILED (exit 7) naming it, not the cleanup\'s EISDIR; the directory is left alone, no FILE', () => {
    const data = join(dir, 'blocked');
    expect(cli(['init', '--data', data, '--json']).code).toBe(0);
    const file = join(dir, 'blocked.bak');
    mkdirSync(`${file}.partial`);
    writeFileSync(join(`${file}.partial`, 'mine.txt'), 'not the backup\'s');
    for (const json of [true, false]) {
      const r = cli(['backup', file, '--data', data, ...(json ? ['--json'] : [])]);
      expect(r.code).toBe(7);
      expect(r.stderr).not.toMatch(/ERR_FS_EISDIR|rm returned|\n\s+at /);
      if (json) {
        expect(r.error?.code).toBe('LOG_BACKUP_WRITE_FAILED');
        expect(r.error?.message).toContain(`EISDIR: illegal operation on a directory, open '${file}.partial'`);
      } else expect(r.stderr).toMatch(/^error LOG_BACKUP_WRITE_FAILED: the backup could not be written: EISDIR/);
    }
    expect(existsSync(file)).toBe(false);
    expect(readdirSync(`${file}.partial`)).toEqual(['mine.txt']);
  });
});

describe.each([
  ['plaintext', () => plain, {}],
  ['encrypted', () => encrypted, PASS],
] as const)('restore of a damaged %s backup', (_kind, file, env) => {
  it('a truncated backup (1-99 %) is LOG_BACKUP_CORRUPT, exit 3, and leaves no target', () => {
    const bytes = readFileSync(file());
    for (const pct of [1, 30, 60, 90, 99]) {
      const cut = join(dir, `cut-${_kind}-${pct}.bak`);
      writeFileSync(cut, bytes.subarray(0, Math.floor((bytes.length * pct) / 100)));
      const target = join(dir, `t-${_kind}-${pct}`);
      const r = cli(['restore', cut, '--data', target, '--json'], env);
      expectClean(r, 3, 'LOG_BACKUP_CORRUPT');
      expect(existsSync(target)).toBe(false);
    }
  });

  it('one flipped byte anywhere (preamble, header, sections, records, trailer) is LOG_BACKUP_CORRUPT, exit 3, target empty', () => {
    const bytes = readFileSync(file());
    const positions = [0, 9, 20, 60, Math.floor(bytes.length / 4), Math.floor(bytes.length / 2), Math.floor((bytes.length * 3) / 4), bytes.length - 40, bytes.length - 1];
    for (const at of positions) {
      const flipped = Buffer.from(bytes);
      flipped[at] = (flipped[at] as number) ^ 0x20;
      const f = join(dir, `flip-${_kind}-${at}.bak`);
      writeFileSync(f, flipped);
      // an existing empty target stays, and stays empty
      const target = join(dir, `f-${_kind}-${at}`);
      mkdirSync(target);
      const r = cli(['restore', f, '--data', target, '--json'], env);
      expectClean(r, 3, 'LOG_BACKUP_CORRUPT');
      expect(readdirSync(target)).toEqual([]);
    }
  });

  it('the intact backup still restores', () => {
    const target = join(dir, `ok-${_kind}`);
    const r = cli(['restore', file(), '--data', target, '--json'], env);
    expect(r.code).toBe(0);
    expect(r.json.entries).toBe(backedUp.get(file()));
    const exported = cli(['export', '--data', target, '--json'], env);
    expect(exported.json.profiles.map((p: { id: string }) => p.id)).toEqual(profiles.profiles.map((p) => p.id));
  });
});

describe('restore and backup targets', () => {
  it('a wrong passphrase on an encrypted backup is CRYPTO_BAD_PASSPHRASE (exit 5), nothing left behind', () => {
    const target = join(dir, 'wrong-pass');
    const r = cli(['restore', encrypted, '--data', target, '--json'], { PROFILESYNC_PASSPHRASE: 'not the passphrase at all' });
    expectClean(r, 5, 'CRYPTO_BAD_PASSPHRASE');
    expect(existsSync(target)).toBe(false);
  });

  it('restore into a directory holding foreign files is refused (exit 6) and leaves them alone', () => {
    const target = join(dir, 'foreign');
    mkdirSync(target);
    writeFileSync(join(target, 'notes.txt'), 'mine');
    const r = cli(['restore', plain, '--data', target, '--json']);
    expectClean(r, 6, 'LOG_RESTORE_NOT_EMPTY');
    expect(readdirSync(target)).toEqual(['notes.txt']);
    expect(readFileSync(join(target, 'notes.txt'), 'utf8')).toBe('mine');
  });

  it('backup into a missing directory is a USAGE error (exit 2) and writes nothing', () => {
    const r = cli(['backup', join(dir, 'no', 'such', 'dir', 'x.bak'), '--data', join(dir, 'plain'), '--json']);
    expectClean(r, 2, 'USAGE');
    expect(r.error?.message).toMatch(/does not exist/);
    expect(existsSync(join(dir, 'no'))).toBe(false);
  });
});
