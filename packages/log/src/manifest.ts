/**
 * Rebuilding LevelDB's MANIFEST when CURRENT or the MANIFEST cannot be trusted (tables.ts
 * DirCheck.manifest): LevelDB would refuse the open (a record that fails its crc), open an empty
 * new DB and delete every table (CURRENT missing), or open with the version edits before a cut
 * and delete the tables that the lost edits listed. None of that is one profile's problem, so
 * none of it may take the node down or lose data silently:
 *
 *   1. LevelDB's lock is probed without touching anything (an open with createIfMissing: false
 *      and errorIfExists: true takes the lock, then refuses before it reads or deletes a file):
 *      a dir in use by another process is LOG_LOCKED, never repaired under it.
 *   2. CURRENT and every MANIFEST go to `lost/` (copies: the originals stay for LevelDB's repair
 *      to archive).
 *   3. Every table file in the dir is checked block by block (as at every open) and one that
 *      LevelDB cannot read safely is salvaged in place (salvage.ts; original to `lost/`): RepairDB
 *      reads every table without verifying checksums, and a malformed block would abort the
 *      process. Their lost key ranges are returned for the caller to mark. An unfinished table
 *      that no MANIFEST lists (no footer: the output of a compaction that a stop or a crash
 *      abandoned, which LevelDB deletes at open) goes to `lost/` unread and costs nothing.
 *   4. LevelDB's own RepairDB (classic-level's `repair`) writes a new MANIFEST that lists every
 *      table file in the dir and turns write-ahead logs into tables (dropping records whose crc
 *      fails, which the commit seal then pins to their streams).
 *
 * Every table is kept, so nothing a table held is lost; tables that a completed compaction had
 * already replaced come back too, and LevelDB's sequence numbers make the newer values win. The
 * caller then verifies every chain (what a lost table took is found there) and compares the
 * commit seal as at every open.
 */
import { copyFile, mkdir, readdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { Level } from 'level';
import { logError } from './errors.js';
import { type LostRange, salvageTable } from './salvage.js';
import { checkTable, isCompleteTable, parseManifest } from './tables.js';

const OPTIONS = { keyEncoding: 'view', valueEncoding: 'view' } as const;

/** Throws LOG_LOCKED when another open LevelDB (this process or another) holds `dir`. */
async function assertUnlocked(dir: string): Promise<void> {
  const probe = new Level<Uint8Array, Uint8Array>(dir, { ...OPTIONS, createIfMissing: false, errorIfExists: true });
  try {
    await probe.open();
    // opened: CURRENT exists after all (it cannot here); close it untouched
    await probe.close();
  } catch (err) {
    const code = (err as { code?: string; cause?: { code?: string } }).cause?.code ?? (err as { code?: string }).code;
    if (code === 'LEVEL_LOCKED') {
      throw logError('LOG_LOCKED', `data dir ${dir} is locked by another process (or another open log in this one)`, { cause: err, details: { dir } });
    }
    // anything else (it exists / does not exist): the lock was free
  }
}

export interface ManifestRebuild {
  /** what was wrong (from the check) */
  reason: string;
  /** tables salvaged before the repair, with the key ranges they lost */
  lost: { file: string; ranges: LostRange[] }[];
  /** tables that could not even be salvaged (moved to lost/; their key range is unknown) */
  dropped: string[];
  /** unfinished tables no MANIFEST listed (an abandoned compaction output: moved to lost/, nothing lost) */
  abandoned: string[];
}

/** Steps 1-4 above. Throws LOG_LOCKED, or LOG_CORRUPT when LevelDB's repair itself fails. */
export async function rebuildManifest(dir: string, reason: string): Promise<ManifestRebuild> {
  await assertUnlocked(dir);
  const stamp = Date.now();
  await mkdir(join(dir, 'lost'), { recursive: true });
  const names = await readdir(dir);
  for (const f of names) {
    if (f === 'CURRENT' || /^MANIFEST-\d+$/.test(f)) await copyFile(join(dir, f), join(dir, 'lost', `${f}.${stamp}`)).catch(() => undefined);
  }
  // the tables some MANIFEST in the dir lists (its intact prefix when it is damaged)
  const listed = new Set<number>();
  for (const f of names) {
    if (!/^MANIFEST-\d+$/.test(f)) continue;
    try {
      for (const n of parseManifest(await readFile(join(dir, f))).live.keys()) listed.add(n);
    } catch {
      // unreadable: lists nothing
    }
  }
  const lost: ManifestRebuild['lost'] = [];
  const dropped: string[] = [];
  const abandoned: string[] = [];
  const aside = async (f: string): Promise<void> => {
    await rename(join(dir, f), join(dir, 'lost', `${f}.${stamp}`));
  };
  for (const f of names) {
    const t = /^(\d+)\.(ldb|sst)$/.exec(f);
    if (t === null) continue;
    let bytes: Uint8Array;
    try {
      bytes = await readFile(join(dir, f));
    } catch {
      continue;
    }
    if (checkTable(f, bytes).length === 0) continue;
    if (!isCompleteTable(bytes) && !listed.has(Number(t[1]))) {
      // never finished (LevelDB lists a table only once it is complete and synced): the output of
      // a compaction that a stop or crash abandoned; LevelDB would have deleted it
      await aside(f);
      abandoned.push(f);
      continue;
    }
    try {
      lost.push({ file: f, ranges: await salvageTable(dir, f, bytes, bytes.byteLength) });
    } catch {
      // no room for a new index (a file cut to a few bytes): moved aside, never read by the repair
      await aside(f);
      dropped.push(f);
    }
  }
  try {
    // `level` is classic-level in Node; its types leave the static repair out
    const repair = (Level as unknown as { repair?: (location: string) => Promise<void> }).repair;
    if (typeof repair !== 'function') throw new Error('this LevelDB binding has no repair');
    await repair.call(Level, dir);
  } catch (err) {
    throw logError('LOG_CORRUPT', `the log in ${dir} has a damaged MANIFEST (${reason}) and LevelDB could not rebuild it: restore from a backup`, {
      cause: err, details: { dir, reason },
    });
  }
  return { reason, lost, dropped, abandoned };
}
