import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { errorCode } from '@profilesync/errors';

/** Cheap scrypt for tests (the default costs ~0.5 s per derivation). */
export const FAST_SCRYPT = { N: 1024, r: 8, p: 1 };

const dirs: string[] = [];

/** A fresh temp dir, removed after the test. */
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'psync-crypto-'));
  dirs.push(dir);
  return dir;
}

afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** The code of what `fn` throws (sync or async); fails the test when nothing is thrown. */
export async function codeOf(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (err) {
    const code = errorCode(err);
    if (code === undefined) throw err;
    return code;
  }
  throw new Error('expected a coded error, nothing was thrown');
}

export function codeOfSync(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    const code = errorCode(err);
    if (code === undefined) throw err;
    return code;
  }
  throw new Error('expected a coded error, nothing was thrown');
}

export const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
