/**
 * Lossless moves of profiles between nodes (`export --format log` / `import`): one profile's
 * whole log (core's binary per-profile export: every entry with its actor, origin, summary and
 * version, chained and checksummed) goes in and comes out exactly.
 *
 * Import of a profile the target does not have replays the entries one by one (each with its
 * original actor and origin), so the target holds every intermediate version: history lists the
 * same versions with the same refs, summaries and actors, and labels (part of the profile's
 * Yjs state) point at versions the target can show. A profile the target already has gets
 * the whole export as one merged update (Yjs merges it; nothing is lost on either side) and
 * reports `unchanged` when that added nothing.
 */
import { errorCode, ProfileSyncError } from '@profilesync/errors';
import { importProfileLog, type ProfileStore, type WriteContext } from '@profilesync/core';

export type LogImportResult = 'created' | 'updated' | 'unchanged';

export interface LogImportReport {
  id: string;
  result: LogImportResult;
  /** entries in the export */
  entries: number;
}

/** The container `profilesync export --format log` writes (one JSON document, each profile's export in base64). */
export const LOG_EXPORT_FORMAT = 'profilesync-export-log/v1';

async function exists(store: ProfileStore, id: string): Promise<boolean> {
  try {
    await store.get(id);
    return true;
  } catch (err) {
    const code = errorCode(err);
    if (code === 'PROFILE_NOT_FOUND') return false;
    if (code === 'PROFILE_DELETED') return true;
    throw err;
  }
}

/**
 * Imports one profile's binary log export into `store`. `allow(id)` may refuse the id (grants)
 * before anything is written. IMPORT_INVALID for a damaged or foreign export.
 */
export async function importProfileLogExport(store: ProfileStore, data: Uint8Array, ctx: WriteContext, allow: (id: string) => Promise<void> | void = () => undefined): Promise<LogImportReport> {
  const parsed = importProfileLog(data);
  await allow(parsed.id);
  if (!(await exists(store, parsed.id))) {
    let done = 0;
    try {
      for (const e of parsed.entries) {
        await store.applyRemoteUpdate(parsed.id, e.body, { actor: e.actor, origin: e.origin });
        done++;
      }
    } catch (err) {
      if (done === 0) throw err;
      throw new ProfileSyncError(errorCode(err) ?? 'INTERNAL', `profile ${parsed.id}: entry ${done + 1} of ${parsed.entries.length} was refused (${(err as Error).message}); the first ${done} were imported`, {
        details: { id: parsed.id, importedThrough: done },
        cause: err,
      });
    }
    return { id: parsed.id, result: 'created', entries: parsed.entries.length };
  }
  const r = await store.importLog(data, ctx);
  return { id: parsed.id, result: r.applied ? 'updated' : 'unchanged', entries: parsed.entries.length };
}
