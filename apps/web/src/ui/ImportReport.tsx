/**
 * Import of a JSON export (`profilesync-export/v1`, the CLI's format): each profile is created
 * or merge-patched on the node, and the report lists every profile with what happened to it;
 * a refused one names the field and the reason (the node's code and message).
 */
import { useState } from 'preact/hooks';
import type { ProfileView } from '@profilesync/core';
import { ApiError, describeError, type Api } from '../lib/api.js';
import { importSummary, type ImportRow } from '../lib/list.js';
import { importItems, mergeDiff, writable } from '../lib/merge.js';
import { PROFILE_ID_RE } from '../lib/params.js';
import { useApp } from './context.js';
import { Grid } from './parts.js';
import { announce } from './status.js';

export interface ImportResult {
  file: string;
  rows: ImportRow[];
  /** the whole file was refused (not JSON, wrong shape) */
  error?: string;
}

async function importOne(api: Api, item: Record<string, unknown>, index: number): Promise<ImportRow> {
  const id = typeof item.id === 'string' ? item.id : undefined;
  const label = id ?? `(item ${index + 1})`;
  try {
    if (id === undefined || !PROFILE_ID_RE.test(id)) {
      return { id: label, outcome: 'rejected', code: 'PROFILE_INVALID_ID', field: 'id', reason: id === undefined ? 'the profile has no id' : 'the id must match ^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$' };
    }
    let current: ProfileView | undefined;
    try {
      current = await api.getProfile(id);
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 'PROFILE_NOT_FOUND')) throw err;
    }
    if (!current) {
      await api.createProfile({ ...(writable(item) as { name: string; modelId: string }), id });
      return { id, outcome: 'created' };
    }
    const patch = mergeDiff(writable(current as unknown as Record<string, unknown>), writable(item));
    if (Object.keys(patch).length === 0) return { id, outcome: 'unchanged' };
    await api.patchProfile(id, patch);
    return { id, outcome: 'updated' };
  } catch (err) {
    const d = describeError(err);
    const field = err instanceof ApiError ? err.field : undefined;
    return { id: label, outcome: 'rejected', code: d.code, ...(field ? { field } : {}), reason: d.message };
  }
}

export async function importFile(api: Api, file: File): Promise<ImportResult> {
  let items: Record<string, unknown>[];
  try {
    items = importItems(JSON.parse(await file.text()));
  } catch (err) {
    return { file: file.name, rows: [], error: `IMPORT_INVALID: ${(err as Error).message}` };
  }
  const rows: ImportRow[] = [];
  for (const [i, item] of items.entries()) rows.push(await importOne(api, item, i));
  return { file: file.name, rows };
}

/** A button that picks a file and imports it; the result goes to `onDone` (and is announced). */
export function ImportButton({ label, onDone }: { label: string; onDone: (r: ImportResult) => void }) {
  const { api } = useApp();
  const [busy, setBusy] = useState(false);
  return (
    <label class={`button file${busy ? ' busy' : ''}`}>
      {busy ? 'Importing…' : label}
      <input
        type="file"
        accept="application/json,.json"
        class="sr-only"
        aria-label={`${label} (choose a file)`}
        disabled={busy}
        onChange={(e) => {
          const f = e.currentTarget.files?.[0];
          e.currentTarget.value = '';
          if (!f) return;
          setBusy(true);
          void importFile(api, f)
            .then((r) => {
              const rejected = r.error !== undefined || r.rows.some((x) => x.outcome === 'rejected');
              announce(r.error ? `Import failed: ${r.error}` : importSummary(r.rows), rejected ? 'error' : 'info');
              onDone(r);
            })
            .finally(() => setBusy(false));
        }}
      />
    </label>
  );
}

const OUTCOME_TEXT = { created: 'created', updated: 'updated', unchanged: 'unchanged', rejected: '✖ rejected' } as const;

export function ImportReport({ result, onDismiss }: { result: ImportResult; onDismiss: () => void }) {
  return (
    <section class="card import-report" aria-labelledby="import-title" data-testid="import-report">
      <div class="page-head">
        <h2 id="import-title">Import report: {result.file}</h2>
        <button type="button" onClick={onDismiss}>
          Close report
        </button>
      </div>
      {result.error ? (
        <p class="error">{result.error}</p>
      ) : (
        <>
          <p>{importSummary(result.rows)}</p>
          <Grid testId="import-table" caption="What happened to each profile of the file" columns={['Profile', 'Result', 'Field', 'Reason']}>
            {result.rows.map((r, i) => (
              <tr key={`${r.id}-${i}`} data-outcome={r.outcome} class={r.outcome === 'rejected' ? 'denied' : undefined}>
                <td>
                  <code>{r.id}</code>
                </td>
                <td>{OUTCOME_TEXT[r.outcome]}</td>
                <td>{r.field ? <code>{r.field}</code> : ''}</td>
                <td>{r.code ? `${r.code}: ${r.reason ?? ''}` : ''}</td>
              </tr>
            ))}
          </Grid>
        </>
      )}
    </section>
  );
}
