/** Meta records: storage format version, codec id, creation time; migrations at open. */
import { fromUtf8, readU32, readU64, utf8, writeU32, writeU64 } from './bytes.js';
import { type Db, writeOps } from './db.js';
import { logError } from './errors.js';
import { metaKey } from './keys.js';
import type { LogCodec, Migration } from './types.js';

/** The storage format this code writes. */
export const FORMAT_VERSION = 1;

export const META_FORMAT = 'format';
export const META_CODEC = 'codec';
export const META_CREATED = 'created';
/** time of the last rebuild() (its synced write makes the rebuilt records durable) */
export const META_REBUILT = 'rebuilt';
/** present (u32 1) once every catalog and aux record has its copy (mirrors.ts) */
export const META_MIRRORS = 'mirrors';
/**
 * present (u32 1) once this log has written its commit seal (seal.ts): a later open that finds
 * this record but no seal file knows the seal was lost (deleted, or the dir copied without it)
 */
export const META_SEALED = 'sealed';

export function u32Bytes(n: number): Uint8Array {
  const b = new Uint8Array(4);
  writeU32(b, 0, n);
  return b;
}

export function u64Bytes(n: number): Uint8Array {
  const b = new Uint8Array(8);
  writeU64(b, 0, n);
  return b;
}

/** Meta puts of a new DB (also used by restore). */
/** The meta records of a new log; `mirrored`: its catalog and aux records all have their copies (a new or restored log). */
export function newMetaOps(format: number, codecId: string, createdAt: number, mirrored = true): { key: Uint8Array; value: Uint8Array }[] {
  return [
    { key: metaKey(META_FORMAT), value: u32Bytes(format) },
    { key: metaKey(META_CODEC), value: utf8(codecId) },
    { key: metaKey(META_CREATED), value: u64Bytes(createdAt) },
    ...(mirrored ? [{ key: metaKey(META_MIRRORS), value: u32Bytes(1) }] : []),
  ];
}

async function isEmpty(db: Db): Promise<boolean> {
  const it = db.keys({ limit: 1 });
  try {
    return (await it.next()) === undefined;
  } finally {
    await it.close();
  }
}

function checkMigrations(migrations: ReadonlyMap<number, Migration>): void {
  for (const [from, m] of migrations) {
    if (m.from !== from || !Number.isInteger(m.to) || m.to <= m.from || typeof m.run !== 'function') {
      throw logError('LOG_INVALID_ARGUMENT', `migration keyed ${from} must have from = ${from} and to > from`, {
        details: { from },
      });
    }
  }
}

/**
 * Creates the meta records of an empty DB, or checks the codec id and format of an existing one
 * and runs migrations in order. Returns the format version and creation time.
 */
export async function prepareFormat(
  db: Db,
  dir: string,
  codec: LogCodec,
  clock: () => number,
  migrations: ReadonlyMap<number, Migration>,
  recover = false,
): Promise<{ formatVersion: number; createdAt: number; recovered?: string }> {
  checkMigrations(migrations);
  const stored = await db.get(metaKey(META_FORMAT));
  if (stored === undefined) {
    if (!(await isEmpty(db))) {
      if (!recover) throw logError('LOG_CORRUPT', `the DB in ${dir} has records but no format record`, { details: { dir } });
      // the meta records went with a damaged batch (the first one of a new DB): this code wrote
      // the records (the caller opens its own data dir), so they are written again, with the
      // opener's codec (a wrong codec still fails on the first record it decodes)
      const createdAt = clock();
      // (not marked mirrored: the open checks the copies)
      await writeOps(db, newMetaOps(FORMAT_VERSION, codec.id, createdAt, false).map((o) => ({ type: 'put' as const, ...o })), true);
      return { formatVersion: FORMAT_VERSION, createdAt, recovered: `the format records were lost (damaged) and written again (format ${FORMAT_VERSION}, codec ${codec.id})` };
    }
    const createdAt = clock();
    await writeOps(db, newMetaOps(FORMAT_VERSION, codec.id, createdAt).map((o) => ({ type: 'put' as const, ...o })), true);
    return { formatVersion: FORMAT_VERSION, createdAt };
  }
  if (stored.byteLength !== 4) throw logError('LOG_CORRUPT', `the format record in ${dir} is malformed`, { details: { dir } });
  let version = readU32(stored, 0);
  const codecBytes = await db.get(metaKey(META_CODEC));
  const codecId = codecBytes === undefined ? undefined : fromUtf8(codecBytes);
  if (codecId !== codec.id) {
    throw logError('LOG_CODEC_MISMATCH', `the log in ${dir} was written with codec '${codecId}', opened with '${codec.id}'`, {
      details: { dir, stored: codecId, given: codec.id },
    });
  }
  const createdBytes = await db.get(metaKey(META_CREATED));
  const createdAt = createdBytes?.byteLength === 8 ? readU64(createdBytes, 0) : 0;
  for (let m = migrations.get(version); m !== undefined; m = migrations.get(version)) {
    try {
      await m.run(db);
    } catch (err) {
      throw logError('LOG_MIGRATION_FAILED', `migration ${m.from} -> ${m.to} (${m.description}) failed`, {
        cause: err, details: { dir, from: m.from, to: m.to },
      });
    }
    await db.put(metaKey(META_FORMAT), u32Bytes(m.to), { sync: true });
    version = m.to;
  }
  const known = version === FORMAT_VERSION || [...migrations.values()].some((m) => m.to === version);
  if (!known) {
    throw logError('LOG_FORMAT_UNSUPPORTED', `the log in ${dir} has storage format ${version}; this code reads format ${FORMAT_VERSION}`, {
      details: { dir, format: version, supported: FORMAT_VERSION },
    });
  }
  return { formatVersion: version, createdAt };
}
