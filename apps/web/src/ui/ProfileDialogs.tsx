/** The dialogs that make a profile: "New profile" and "Duplicate" (a copy under a new name and id). */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { ProfileSummary, ProfileView } from '@profilesync/core';
import { ApiError, type Api } from '../lib/api.js';
import { copyOf } from '../lib/list.js';
import { writable } from '../lib/merge.js';
import { PROFILE_ID_RE } from '../lib/params.js';
import { useApp } from './context.js';
import { Dialog } from './Dialog.js';

function checkIdentity(f: { name: string; modelId: string; id: string }): void {
  if (f.name.trim() === '' || f.modelId.trim() === '') throw new ApiError(0, 'PROFILE_INVALID', 'name and model are required');
  if (f.id !== '' && !PROFILE_ID_RE.test(f.id)) throw new ApiError(0, 'PROFILE_INVALID_ID', 'the id may use letters, digits and . _ : - (starting with a letter or digit, at most 128 characters)');
}

export function CreateDialog({ onClose, onCreated }: { onClose: () => void; onCreated: (v: ProfileView) => void }) {
  const { api } = useApp();
  const [f, setF] = useState({ id: '', name: '', modelId: '', description: '', systemMessage: '' });
  const set = (k: keyof typeof f) => (e: Event) => setF({ ...f, [k]: (e.currentTarget as HTMLInputElement).value });
  const confirm = async () => {
    checkIdentity(f);
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
        <input id="new-id" value={f.id} onInput={set('id')} aria-describedby="new-id-help" />
        <span />
        <span id="new-id-help" class="muted">letters, digits and . _ : - (starting with a letter or digit, at most 128)</span>
        <label for="new-desc">Description</label>
        <input id="new-desc" value={f.description} onInput={set('description')} />
        <label for="new-sys">System message</label>
        <textarea id="new-sys" rows={4} value={f.systemMessage} onInput={set('systemMessage')} />
      </div>
    </Dialog>
  );
}

/** Whether a profile id is in use on the node (deleted ones keep their id). */
async function idTaken(api: Api, id: string): Promise<boolean> {
  try {
    await api.getProfile(id);
    return true;
  } catch (err) {
    if (err instanceof ApiError && err.code === 'PROFILE_NOT_FOUND') return false;
    if (err instanceof ApiError && err.code === 'PROFILE_DELETED') return true;
    throw err;
  }
}

/** The body that recreates a view's content under another id: every writable field (messages as role + content), no labels or history. */
export function copyBody(view: ProfileView, to: { id: string; name: string; modelId: string }): Record<string, unknown> {
  const body: Record<string, unknown> = { ...writable(view as unknown as Record<string, unknown>), name: to.name, modelId: to.modelId, ...(to.id ? { id: to.id } : {}) };
  const messages = (view as { messages?: unknown }).messages;
  if (Array.isArray(messages)) body.messages = messages.map((m: { role: string; content: string }) => ({ role: m.role, content: m.content }));
  return body;
}

export function DuplicateDialog({ source, onClose, onCreated }: { source: ProfileSummary; onClose: () => void; onCreated: (v: ProfileView) => void }) {
  const { api } = useApp();
  const [f, setF] = useState(() => ({ ...copyOf(source.name, source.id, () => false), modelId: source.modelId }));
  const touched = useRef(false);
  const set = (k: keyof typeof f) => (e: Event) => {
    if (k === 'id') touched.current = true;
    setF({ ...f, [k]: (e.currentTarget as HTMLInputElement).value });
  };
  // suggest a free id: x-copy, x-copy-2, ... (checked against the node)
  useEffect(() => {
    let live = true;
    void (async () => {
      const taken = new Set<string>();
      for (let i = 0; i < 20; i++) {
        const next = copyOf(source.name, source.id, (id) => taken.has(id)).id;
        if (!(await idTaken(api, next).catch(() => false))) {
          if (live && !touched.current) setF((cur) => ({ ...cur, id: next }));
          return;
        }
        taken.add(next);
      }
    })();
    return () => {
      live = false;
    };
  }, []);
  const confirm = async () => {
    checkIdentity(f);
    const view = await api.getProfile(source.id);
    onCreated(await api.createProfile(copyBody(view, { id: f.id, name: f.name.trim(), modelId: f.modelId.trim() }) as never));
  };
  return (
    <Dialog title={`Duplicate ${source.name}`} confirmLabel="Duplicate" onConfirm={confirm} onClose={onClose} testId="duplicate-dialog">
      <p class="muted">
        A new profile with the same description, system message, templates, messages, parameters and tags as <code>{source.id}</code>. Labels and history stay with the original.
      </p>
      <div class="form-grid">
        <label for="dup-name">Name of the copy</label>
        <input id="dup-name" required value={f.name} onInput={set('name')} autofocus />
        <label for="dup-id">Id of the copy</label>
        <input id="dup-id" value={f.id} onInput={set('id')} aria-describedby="dup-id-help" />
        <span />
        <span id="dup-id-help" class="muted">letters, digits and . _ : - (starting with a letter or digit, at most 128)</span>
        <label for="dup-model">Model id</label>
        <input id="dup-model" required value={f.modelId} onInput={set('modelId')} />
      </div>
    </Dialog>
  );
}
