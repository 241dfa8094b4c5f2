/**
 * Owner-only files (issue 11.8). A plaintext node relies on file permissions alone (docs/
 * security.md §9), so the node:
 * - sets the process umask to include 077 before it opens anything (restrictOwnerOnly), so every
 *   file LevelDB creates later (tables, logs, manifests at each compaction) is 0600 and every
 *   directory 0700, and so are backups and exports the same process writes;
 * - tightens what is already there at every open (tightenDataDir): the data dir and the log dir
 *   to 0700, their files to 0600 (group and other bits removed; the owner's bits kept). Only
 *   entries owned by this user are touched (chmod of another user's file would fail anyway);
 *   symlinks are not followed. An operator's `mkdir -m 755` or a copy made with a loose umask is
 *   fixed on the next start, and what was changed is reported (logged by the server).
 */
import { chmodSync, lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Group and other bits the node removes. */
const LOOSE = 0o077;

/**
 * Adds 077 to the process umask (never loosens it). Returns false where a umask cannot be set
 * (a worker thread, Windows): the open-time tightening still applies.
 */
export function restrictOwnerOnly(): boolean {
  if (process.platform === 'win32') return false;
  try {
    const old = process.umask(LOOSE);
    if ((old | LOOSE) !== LOOSE) process.umask(old | LOOSE);
    return true;
  } catch {
    return false;
  }
}

/** Chmods the data dir, its files and (one level down) the log dir and its files to owner-only. Returns the paths changed. */
export function tightenDataDir(dir: string, maxDepth = 2): string[] {
  if (process.platform === 'win32') return [];
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  const changed: string[] = [];
  const visit = (path: string, depth: number): void => {
    let st;
    try {
      st = lstatSync(path);
    } catch {
      return; // gone meanwhile (LevelDB removes obsolete files)
    }
    if (st.isSymbolicLink() || (uid !== undefined && st.uid !== uid)) return;
    if (!st.isDirectory() && !st.isFile()) return;
    if ((st.mode & LOOSE) !== 0) {
      try {
        chmodSync(path, st.mode & 0o7700);
        changed.push(path);
      } catch {
        // a read-only file system: nothing to tighten there
      }
    }
    if (st.isDirectory() && depth < maxDepth) {
      let names: string[] = [];
      try {
        names = readdirSync(path);
      } catch {
        return;
      }
      for (const name of names) visit(join(path, name), depth + 1);
    }
  };
  visit(dir, 0);
  return changed;
}
