/**
 * Profiles: search (id, name, model), filters by model / label / tag (server-side, the
 * GET /api/profiles query), create (form), delete (confirmation), import / export JSON.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import type { ProfileSummary, ProfileView } from '@profilesync/core';
import { ApiError } from '../lib/api.js';
import { when } from '../lib/format.js';
import { EXPORT_FORMAT, importItems, mergeDiff, writable } from '../lib/merge.js';
import { PROFILE_ID_RE } from '../lib/params.js';
import { href, navigate } from '../lib/router.js';
import { roleAllows } from '../lib/session.js';
import { useApp } from './context.js';
import { Dialog } from './Dialog.js';
import { ErrorAlert, Grid } from './parts.js';
import { announce, announceError } from './status.js';

function download(name: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** One filter of the list: "any" or one of the values the node's profiles use. */
function FilterSelect({ id, label, value, options, onChange }: { id: string; label: string; value: string; options: string[]; onChange: (value: string) => void }) {
  return (
    <div>
      <label for={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => onChange(e.currentTarget.value)}>
        <option value="">any</option>
        {options.map((m) => (
          <option key={m} value={m}>
            {m}
          </option>
        ))}
      </select>
    </div>
  );
}

function CreateDialog({ onClose, onCreated }: { onClose: () => void; onCreated: (v: ProfileView) => void }) {
  const { api } = useApp();
  const [f, setF] = useState({ id: '', name: '', modelId: '', description: '', systemMessage: '' });
  const set = (k: keyof typeof f) => (e: Event) => setF({ ...f, [k]: (e.currentTarget as HTMLInputElement).value });
  const confirm = async () => {
    if (f.name.trim() === '' || f.modelId.trim() === '') throw new ApiError(0, 'PROFILE_INVALID', 'name and model are required');
    if (f.id !== '' && !PROFILE_ID_RE.test(f.id)) throw new ApiError(0, 'PROFILE_INVALID_ID', 'the id may use letters, digits and . _ : - (starting with a letter or digit)');
    const v = await api.createProfile({ ...(f.id ? { id: f.id } : {}), name: f.name.trim(), modelId: f.modelId.trim(), description: f.description, systemMessage: f.systemMessage });
    onCreated(v);
  };
  return (
    <Dialog title="New profile" confirmLabel="Create" onConfirm={confirm} onClose={onClose} testId="create-dialog">
      <div class="form-grid">
        <label for="new-name">Name (required)</label>
        <input id="new-name" required value={f.name} onInput={set('name')} autofocus />
        <label for="new-model">Model id (required)</label>
        <input id="new-model" required value={f.modelId} onInput={set('modelId')} placeholder="gpt-4o" />
        <label for="new-id">Id (optional; generated from the name)</label>
        <input id="new-id" value={f.id} onInput={set('id')} pattern="[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}" />
        <label for="new-desc">Description</label>
        <input id="new-desc" value={f.description} onInput={set('description')} />
        <label for="new-sys">System message</label>
        <textarea id="new-sys" rows={4} value={f.systemMessage} onInput={set('systemMessage')} />
      </div>
    </Dialog>
  );
}

export function ProfileList() {
  const { api, session } = useApp();
  const [all, setAll] = useState<ProfileSummary[] | undefined>();
  const [everything, setEverything] = useState<ProfileSummary[]>([]);
  const [search, setSearch] = useState('');
  const [filter, setFilter] = useState({ modelId: '', label: '', tag: '' });
  const [creating, setCreating] = useState(false);
  const [deleting, setDeleting] = useState<ProfileSummary | undefined>();
  const [loadError, setLoadError] = useState<string | undefined>();
  const canWrite = roleAllows(session.role, 'write');

  const load = async () => {
    try {
      const [filtered, unfiltered] = await Promise.all([api.listProfiles(filter), filter.modelId || filter.label || filter.tag ? api.listProfiles() : undefined]);
      setAll(filtered);
      setEverything(unfiltered ?? filtered);
      setLoadError(undefined);
    } catch (err) {
      setLoadError(err instanceof ApiError ? `${err.code}: ${err.message}` : String(err));
    }
  };
  useEffect(() => void load(), [filter.modelId, filter.label, filter.tag]);

  const options = useMemo(() => {
    const models = new Set<string>();
    const labels = new Set<string>();
    const tags = new Set<string>();
    for (const p of everything) {
      models.add(p.modelId);
      for (const l of p.labels) labels.add(l);
      for (const t of p.tags) tags.add(t);
    }
    return { models: [...models].sort(), labels: [...labels].sort(), tags: [...tags].sort() };
  }, [everything]);

  const q = search.trim().toLowerCase();
  const shown = (all ?? []).filter((p) => q === '' || p.id.toLowerCase().includes(q) || p.name.toLowerCase().includes(q) || p.modelId.toLowerCase().includes(q));

  const exportJson = async () => {
    try {
      const profiles: ProfileView[] = [];
      for (const p of shown) profiles.push(await api.getProfile(p.id));
      download(`profiles-${new Date().toISOString().slice(0, 19).replace(/:/g, '')}.json`, `${JSON.stringify({ format: EXPORT_FORMAT, exportedAt: new Date().toISOString(), profiles }, null, 2)}\n`);
      announce(`Exported ${profiles.length} profiles.`);
    } catch (err) {
      announceError(err, 'Export');
    }
  };

  const importFile = async (file: File) => {
    let items;
    try {
      items = importItems(JSON.parse(await file.text()));
    } catch (err) {
      announce(`Import failed: IMPORT_INVALID: ${(err as Error).message}`, 'error');
      return;
    }
    const report = { created: 0, updated: 0, unchanged: 0, rejected: [] as string[] };
    for (const item of items) {
      const id = typeof item.id === 'string' ? item.id : undefined;
      try {
        if (id === undefined || !PROFILE_ID_RE.test(id)) throw new ApiError(0, 'PROFILE_INVALID_ID', 'an imported profile needs a valid id');
        let current: ProfileView | undefined;
        try {
          current = await api.getProfile(id);
        } catch (err) {
          if (!(err instanceof ApiError && err.code === 'PROFILE_NOT_FOUND')) throw err;
        }
        if (!current) {
          await api.createProfile({ ...(writable(item) as { name: string; modelId: string }), id });
          report.created++;
        } else {
          const patch = mergeDiff(writable(current as unknown as Record<string, unknown>), writable(item));
          if (Object.keys(patch).length === 0) report.unchanged++;
          else {
            await api.patchProfile(id, patch);
            report.updated++;
          }
        }
      } catch (err) {
        report.rejected.push(`${id ?? '(no id)'}: ${err instanceof ApiError ? err.code : 'ERROR'}`);
      }
    }
    const summary = `Import: ${report.created} created, ${report.updated} updated, ${report.unchanged} unchanged, ${report.rejected.length} rejected${report.rejected.length ? ` (${report.rejected.join('; ')})` : ''}.`;
    announce(summary, report.rejected.length ? 'error' : 'info');
    await load();
  };

  return (
    <section aria-labelledby="profiles-title">
      <div class="page-head">
        <h1 id="profiles-title">Profiles</h1>
        <div class="actions">
          {canWrite && (
            <button type="button" class="primary" onClick={() => setCreating(true)}>
              New profile
            </button>
          )}
          <button type="button" onClick={exportJson} disabled={!all || shown.length === 0}>
            Export JSON
          </button>
          {canWrite && (
            <label class="button file">
              Import JSON
              <input
                type="file"
                accept="application/json,.json"
                class="sr-only"
                aria-label="Import profiles from a JSON file"
                onChange={(e) => {
                  const f = e.currentTarget.files?.[0];
                  e.currentTarget.value = '';
                  if (f) void importFile(f);
                }}
              />
            </label>
          )}
        </div>
      </div>
      <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <div>
          <label for="search">Search</label>
          <input id="search" type="search" value={search} placeholder="id, name or model" onInput={(e) => setSearch(e.currentTarget.value)} />
        </div>
        <FilterSelect id="f-model" label="Model" value={filter.modelId} options={options.models} onChange={(modelId) => setFilter({ ...filter, modelId })} />
        <FilterSelect id="f-label" label="Label" value={filter.label} options={options.labels} onChange={(label) => setFilter({ ...filter, label })} />
        <FilterSelect id="f-tag" label="Tag" value={filter.tag} options={options.tags} onChange={(tag) => setFilter({ ...filter, tag })} />
      </form>
      <ErrorAlert message={loadError} />
      {!all && !loadError && <p>Loading…</p>}
      {all && (
        <Grid testId="profile-table" caption={`Profiles (${shown.length})`} columns={['Name', 'Id', 'Model', 'Labels', 'Tags', 'Updated']} actions>
          {shown.length === 0 && (
            <tr>
              <td colSpan={7}>No profiles match.</td>
            </tr>
          )}
          {shown.map((p) => (
            <tr key={p.id}>
              <td>
                <a href={href({ name: 'editor', id: p.id })}>{p.name}</a>
              </td>
              <td>
                <code>{p.id}</code>
              </td>
              <td>{p.modelId}</td>
              <td>{p.labels.map((l) => <span class="chip" key={l}>{l}</span>)}</td>
              <td>{p.tags.map((t) => <span class="chip tag" key={t}>{t}</span>)}</td>
              <td>{when(p.updatedAt)}</td>
              <td class="row-actions">
                <a href={href({ name: 'history', id: p.id })}>History</a>
                {canWrite && (
                  <button type="button" class="link danger" onClick={() => setDeleting(p)} aria-label={`Delete ${p.name}`}>
                    Delete
                  </button>
                )}
              </td>
            </tr>
          ))}
        </Grid>
      )}
      {creating && (
        <CreateDialog
          onClose={() => setCreating(false)}
          onCreated={(v) => {
            announce(`Created ${v.name}.`);
            navigate({ name: 'editor', id: v.id });
          }}
        />
      )}
      {deleting && (
        <Dialog
          title={`Delete ${deleting.name}?`}
          confirmLabel="Delete"
          danger
          testId="delete-dialog"
          onClose={() => setDeleting(undefined)}
          onConfirm={async () => {
            await api.deleteProfile(deleting.id);
            announce(`Deleted ${deleting.name}. Its history stays; a revert can restore it.`);
            await load();
          }}
        >
          <p>
            The profile <code>{deleting.id}</code> will be marked deleted: reads and writes stop, its history stays.
          </p>
        </Dialog>
      )}
    </section>
  );
}
