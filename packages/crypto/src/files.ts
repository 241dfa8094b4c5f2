import { randomBytes } from 'node:crypto';
import { open, rename, link, unlink, mkdir, readFile } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';

/** File mode of every secret-bearing file this package writes. */
export const SECRET_FILE_MODE = 0o600;

/**
 * Writes `text` to `path` atomically: a temp file created 0600 in the same dir, fsync,
 * then rename (replace) or link (create only; fails with EEXIST when `path` exists),
 * then fsync of the dir so the new name survives a crash.
 */
export async function writeFileAtomic(path: string, text: string, opts: { createOnly?: boolean } = {}): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', SECRET_FILE_MODE);
  try {
    await fh.writeFile(text, 'utf8');
    await fh.chmod(SECRET_FILE_MODE);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    if (opts.createOnly) {
      await link(tmp, path);
      await unlink(tmp);
    } else {
      await rename(tmp, path);
    }
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await syncDir(dir);
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Reads a small text file; undefined when it does not exist. */
export async function readTextIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export async function removeIfExists(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
