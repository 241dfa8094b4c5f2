/**
 * `export` / `import` (issue 16.2), offline on a data dir or through a running node.
 *
 * Two formats, told apart by `format`:
 * - `profilesync-export/v1` (JSON, for people): the profiles' current content. A label is kept
 *   when it points at that content (its version shows the same content); on import it is
 *   pointed at the imported content. History and labels elsewhere need the log format.
 * - `profilesync-export-log/v1` (`--format log`, lossless): per profile the exact binary log
 *   export (every entry with actor, origin, summary, version; chained and checksummed), base64
 *   in a JSON document. Import recreates a new profile entry by entry (same versions, history
 *   and labels), and merges into an existing one (CRDT).
 *
 * A document without `format` is read as hand-written JSON content (`{ "profiles": [...] }`
 * or a bare list); a `format` this version does not know is refused before anything is written.
 *
 * Reports say created / updated / unchanged / rejected per profile, and a profile counts as
 * unchanged only when neither its content nor a carried label changed.
 */
import { ProfileSyncError, errorCode } from '@profilesync/errors';
import type { ImportReport, ProfileView } from '@profilesync/core';
import { enc, type ApiClient } from './client.js';
import { deepEqual, editable, mergeDiff } from './patch.js';

export const EXPORT_FORMAT = 'profilesync-export/v1';
export const LOG_EXPORT_FORMAT = 'profilesync-export-log/v1';
export const EXPORT_FORMATS = ['json', 'log'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface LogExportItem {
  id: string;
  /** base64 of core's binary per-profile log export */
  log: string;
}

/** What export and import need from a node: the store offline, the HTTP API remotely. */
export interface TransferTarget {
  /** every profile id (tombstoned ones too with `all`) */
  ids(all: boolean): Promise<string[]>;
  /** the current view (tombstoned too), or undefined when the profile does not exist */
  view(id: string): Promise<ProfileView | undefined>;
  /** the view a label points at, or undefined when it cannot be shown here */
  labelView(id: string, label: string): Promise<ProfileView | undefined>;
  setLabel(id: string, label: string, version: string): Promise<void>;
  exportLog(id: string): Promise<Uint8Array>;
  importLog(bytes: Uint8Array): Promise<{ id: string; result: 'created' | 'updated' | 'unchanged' }>;
  /** create, or replace the content of, each profile (JSON import) */
  importJson(items: unknown[], onProgress: (done: number) => void): Promise<ImportReport>;
}

const sameContent = (a: ProfileView, b: ProfileView): boolean => deepEqual(editable(a as unknown as Record<string, unknown>), editable(b as unknown as Record<string, unknown>));

/** The labels of `view` that point at its current content. */
export async function labelsAtContent(target: TransferTarget, view: ProfileView): Promise<Record<string, string>> {
  const kept: Record<string, string> = {};
  for (const [label, ref] of Object.entries(view.labels ?? {})) {
    const at = await target.labelView(view.id, label).catch(() => undefined);
    if (at && sameContent(at, view)) kept[label] = ref;
  }
  return kept;
}

export async function exportJson(target: TransferTarget, ids: string[]): Promise<{ profiles: ProfileView[]; labelsDropped: number }> {
  const wanted = ids.length > 0 ? ids : await target.ids(false);
  const profiles: ProfileView[] = [];
  let labelsDropped = 0;
  for (const id of wanted) {
    const view = await target.view(id);
    if (!view) throw new ProfileSyncError('PROFILE_NOT_FOUND', `profile ${id} not found`, { details: { id } });
    const labels = await labelsAtContent(target, view);
    labelsDropped += Object.keys(view.labels ?? {}).length - Object.keys(labels).length;
    profiles.push({ ...view, labels });
  }
  return { profiles, labelsDropped };
}

export async function exportLogs(target: TransferTarget, ids: string[]): Promise<LogExportItem[]> {
  const wanted = ids.length > 0 ? ids : await target.ids(true);
  const out: LogExportItem[] = [];
  for (const id of wanted) out.push({ id, log: Buffer.from(await target.exportLog(id)).toString('base64') });
  return out;
}

export type ParsedImport = { format: 'json'; items: unknown[] } | { format: 'log'; items: unknown[] };

/** Reads an export document; the format is checked (an unknown one is IMPORT_INVALID, nothing is written). */
export function parseImport(text: string, source: string): ParsedImport {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ProfileSyncError('IMPORT_INVALID', `${source} is not JSON (${(err as Error).message}); import takes the output of \`profilesync export\``);
  }
  if (Array.isArray(data)) return { format: 'json', items: data };
  if (typeof data !== 'object' || data === null) throw new ProfileSyncError('IMPORT_INVALID', `${source} holds no export: expected { "format": "${EXPORT_FORMAT}" | "${LOG_EXPORT_FORMAT}", "profiles": [...] } or a list of profiles`);
  const doc = data as { format?: unknown; profiles?: unknown };
  // no format: a hand-written { "profiles": [...] } of profile content (JSON); a format this version does not know is refused
  if (doc.format !== undefined && doc.format !== EXPORT_FORMAT && doc.format !== LOG_EXPORT_FORMAT) {
    throw new ProfileSyncError('IMPORT_INVALID', `${source} has format ${JSON.stringify(doc.format)}, which this version does not read (it reads "${EXPORT_FORMAT}" and "${LOG_EXPORT_FORMAT}")`, { details: { field: 'format' } });
  }
  if (!Array.isArray(doc.profiles)) {
    throw new ProfileSyncError('IMPORT_INVALID', doc.format === undefined ? `${source} holds no export: expected { "format": "${EXPORT_FORMAT}" | "${LOG_EXPORT_FORMAT}", "profiles": [...] } or a list of profiles` : `${source}: "profiles" must be a list`, { details: { field: 'profiles' } });
  }
  return { format: doc.format === LOG_EXPORT_FORMAT ? 'log' : 'json', items: doc.profiles };
}

function idOf(item: unknown): string | null {
  return typeof item === 'object' && item !== null && typeof (item as { id?: unknown }).id === 'string' ? (item as { id: string }).id : null;
}

const emptyReport = (): ImportReport => ({ created: [], updated: [], unchanged: [], rejected: [] });

/** Log import: each item `{ id, log }` (base64) is one profile, all-or-nothing per profile. */
export async function importLogs(target: TransferTarget, items: unknown[], onProgress: (done: number) => void): Promise<ImportReport> {
  const report = emptyReport();
  let done = 0;
  for (const item of items) {
    const id = idOf(item);
    try {
      const b64 = typeof item === 'object' && item !== null ? (item as { log?: unknown }).log : undefined;
      if (typeof b64 !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) throw new ProfileSyncError('IMPORT_INVALID', 'each profile of a log export needs "log": the base64 of its log export');
      const r = await target.importLog(new Uint8Array(Buffer.from(b64, 'base64')));
      if (id !== null && r.id !== id) throw new ProfileSyncError('IMPORT_INVALID', `the log inside is profile ${r.id}, not ${id}`);
      report[r.result].push(r.id);
    } catch (err) {
      report.rejected.push({ id, code: errorCode(err) ?? 'INTERNAL', message: (err as Error).message });
    }
    onProgress(++done);
  }
  return report;
}

/** JSON import, then the carried labels pointed at the imported content; labels that moved count as updated. */
export async function importJsonWithLabels(target: TransferTarget, items: unknown[], onProgress: (done: number) => void): Promise<ImportReport> {
  const report = await target.importJson(items, onProgress);
  const rejected = new Set(report.rejected.map((r) => r.id));
  for (const item of items) {
    const id = idOf(item);
    if (id === null || rejected.has(id)) continue;
    const labels = (item as { labels?: unknown }).labels;
    if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) continue;
    try {
      const view = await target.view(id);
      if (!view) continue;
      let moved = false;
      for (const label of Object.keys(labels)) {
        const at = await target.labelView(id, label).catch(() => undefined);
        if (at && sameContent(at, view)) continue;
        await target.setLabel(id, label, view.version);
        moved = true;
      }
      if (moved && report.unchanged.includes(id)) {
        report.unchanged = report.unchanged.filter((x) => x !== id);
        report.updated.push(id);
      }
    } catch (err) {
      for (const k of ['created', 'updated', 'unchanged'] as const) report[k] = report[k].filter((x) => x !== id);
      report.rejected.push({ id, code: errorCode(err) ?? 'INTERNAL', message: `content imported, but a label could not be set: ${(err as Error).message}` });
    }
  }
  return report;
}

/** The node behind the HTTP API. */
export function remoteTarget(api: ApiClient): TransferTarget {
  const view = async (id: string, query?: Record<string, string>) => {
    const r = await api.request<ProfileView>('GET', `/api/profiles/${enc(id)}`, { accept: [404, 410], ...(query ? { query } : {}) });
    return r.status === 200 ? r.data : undefined;
  };
  return {
    async ids(all) {
      const ids: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await api.get<{ profiles: { id: string }[]; nextCursor?: string | null }>('/api/profiles', { ...(all ? { includeDeleted: 'true' } : {}), ...(cursor ? { cursor } : {}) });
        ids.push(...page.profiles.map((p) => p.id));
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      return ids;
    },
    view: (id) => view(id),
    labelView: (id, label) => view(id, { label }),
    async setLabel(id, label, version) {
      await api.put(`/api/profiles/${enc(id)}/labels/${enc(label)}`, { version });
    },
    async exportLog(id) {
      const res = await api.stream('GET', `/api/profiles/${enc(id)}/log`);
      return new Uint8Array(await res.arrayBuffer());
    },
    async importLog(bytes) {
      return api.request<{ id: string; result: 'created' | 'updated' | 'unchanged' }>('POST', '/api/import/log', { raw: { type: 'application/vnd.profilesync.profile-log', bytes } }).then((r) => r.data);
    },
    async importJson(items, onProgress) {
      const report = emptyReport();
      let done = 0;
      for (const item of items) {
        const id = idOf(item);
        try {
          if (id === null) throw new ProfileSyncError('PROFILE_INVALID_ID', 'an imported profile needs a valid id');
          if ((item as { deleted?: unknown }).deleted === true) throw new ProfileSyncError('PROFILE_DELETED', 'deleted profiles are not imported');
          const body = editable(item as Record<string, unknown>);
          const current = await view(id);
          if (current === undefined) {
            await api.post('/api/profiles', { ...body, id });
            report.created.push(id);
          } else {
            const patch = mergeDiff(editable(current as unknown as Record<string, unknown>), body);
            if (Object.keys(patch).length === 0) report.unchanged.push(id);
            else {
              await api.patch(`/api/profiles/${enc(id)}`, patch);
              report.updated.push(id);
            }
          }
        } catch (err) {
          report.rejected.push({ id, code: errorCode(err) ?? 'INTERNAL', message: (err as Error).message });
        }
        onProgress(++done);
      }
      return report;
    },
  };
}
