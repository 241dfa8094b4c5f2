/**
 * The live editor of one profile: systemMessage, description and every template bound to
 * their Y.Texts over /yjs/:id (two people see each other's characters and cursors), who is
 * here, the sync state, and typed parameters saved through PATCH. A viewer token (or a token
 * without a grant) gets the same screen read-only.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import * as Y from 'yjs';
import type { ParamValue, ProfileView } from '@profilesync/core';
import { describeError, errorText } from '../lib/api.js';
import { CollabSession, type CollabStatus } from '../lib/collab.js';
import { randomColor } from '../lib/format.js';
import { TEMPLATE_NAME_RE } from '../lib/params.js';
import { href } from '../lib/router.js';
import { canWrite, roleAllows } from '../lib/session.js';
import { CollabText } from './CollabText.js';
import { useApp } from './context.js';
import { Dialog } from './Dialog.js';
import { ParamsForm, type EditableFields } from './ParamsForm.js';
import { ErrorAlert } from './parts.js';
import { Presence, SyncBadge } from './Presence.js';
import { announce } from './status.js';

/**
 * The profile's non-text fields (name, model, parameters, meta, labels, template names) as
 * plain JSON, re-read only when one of them changes: typing in a text does not re-render the
 * page (Y.Map observers fire for key changes, not for edits inside a nested Y.Text).
 */
function useProfileJson(session: CollabSession | undefined): Record<string, unknown> | undefined {
  const [json, setJson] = useState<Record<string, unknown> | undefined>();
  useEffect(() => {
    if (!session) return;
    const p = session.profile;
    const read = () => {
      const out: Record<string, unknown> = { name: p.get('name'), modelId: p.get('modelId') };
      for (const k of ['parameters', 'meta', 'labels']) {
        const m = p.get(k);
        out[k] = m instanceof Y.Map ? m.toJSON() : undefined;
      }
      const t = p.get('templates');
      out.templateNames = t instanceof Y.Map ? [...t.keys()].sort() : [];
      setJson(out);
    };
    const maps: Y.Map<unknown>[] = [];
    const watch = () => {
      for (const m of maps.splice(0)) m.unobserve(read);
      for (const k of ['parameters', 'meta', 'labels', 'templates']) {
        const m = p.get(k);
        if (m instanceof Y.Map) {
          m.observe(read);
          maps.push(m);
        }
      }
    };
    const onTop = () => {
      watch(); // a top-level key may have been replaced (e.g. the first sync)
      read();
    };
    p.observe(onTop);
    onTop();
    return () => {
      p.unobserve(onTop);
      for (const m of maps.splice(0)) m.unobserve(read);
    };
  }, [session]);
  return json;
}

function editableFrom(json: Record<string, unknown> | undefined, view: ProfileView): EditableFields {
  const meta = (json?.meta ?? view.meta) as Record<string, ParamValue>;
  return {
    name: String(json?.name ?? view.name),
    modelId: String(json?.modelId ?? view.modelId),
    parameters: (json?.parameters ?? view.parameters) as Record<string, ParamValue>,
    tags: Array.isArray(meta?.tags) ? (meta.tags as string[]) : [],
  };
}

function TemplateAdder({ profileId, existing }: { profileId: string; existing: string[] }) {
  const { api } = useApp();
  const [name, setName] = useState('');
  const [error, setError] = useState<string | undefined>();
  const add = async (e: Event) => {
    e.preventDefault();
    const n = name.trim();
    if (!TEMPLATE_NAME_RE.test(n)) return setError('Template names use letters, digits, _ . - (starting with a letter or digit), at most 64 characters.');
    if (existing.includes(n)) return setError(`A template named ${n} exists.`);
    try {
      await api.patchProfile(profileId, { templates: { [n]: '' } });
      setName('');
      setError(undefined);
      announce(`Template ${n} added.`);
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <form class="inline add-template" onSubmit={add}>
      <label for="new-template">New template name</label>
      <input id="new-template" value={name} onInput={(e) => setName(e.currentTarget.value)} aria-invalid={error ? 'true' : undefined} aria-describedby={error ? 'new-template-error' : undefined} />
      <button type="submit">Add template</button>
      {error && (
        <span class="field-error" id="new-template-error" role="alert">
          {error}
        </span>
      )}
    </form>
  );
}

export function Editor({ id }: { id: string }) {
  const { api, session: who, displayName } = useApp();
  const [view, setView] = useState<ProfileView | undefined>();
  const [loadError, setLoadError] = useState<{ code: string; message: string } | undefined>();
  const [writable, setWritable] = useState<boolean | undefined>();
  const [session, setSession] = useState<CollabSession | undefined>();
  const [status, setStatus] = useState<CollabStatus>({ state: 'connecting', ready: false });
  const [removing, setRemoving] = useState<string | undefined>();
  const user = useMemo(() => ({ name: displayName, ...randomColor() }), [displayName]);

  useEffect(() => {
    let cancelled = false;
    (async () => {
      try {
        const v = await api.getProfile(id);
        const w = await canWrite(api, who, id);
        if (cancelled) return;
        setView(v);
        setWritable(w);
        const s = new CollabSession({ profileId: id, token: api.token, user, fetchView: () => api.getProfile(id) });
        setSession(s);
      } catch (err) {
        if (!cancelled) setLoadError(describeError(err));
      }
    })();
    return () => {
      cancelled = true;
    };
  }, [id]);

  useEffect(() => {
    if (!session) return;
    const off = session.subscribe(setStatus);
    return () => {
      off();
      session.destroy();
    };
  }, [session]);

  const json = useProfileJson(session);

  if (loadError) {
    return (
      <section>
        <h1>{id}</h1>
        <ErrorAlert message={`${loadError.code}: ${loadError.message}`} />
        {loadError.code === 'PROFILE_DELETED' && (
          <p>
            This profile is deleted. <a href={href({ name: 'history', id })}>Open its history</a> to revert to a live version.
          </p>
        )}
        <p>
          <a href={href({ name: 'profiles' })}>Back to profiles</a>
        </p>
      </section>
    );
  }
  if (!view || !session || writable === undefined) return <p>Loading {id}…</p>;

  const readOnly = !writable || status.state === 'closed';
  const ready = status.ready;
  const templateNames = (json?.templateNames as string[] | undefined) ?? [];
  const fields = editableFrom(json, view);
  const labels = (json?.labels ?? view.labels) as Record<string, string>;

  const textField = (field: 'systemMessage' | 'description', title: string, lines: number) => {
    const ytext = session.text(field);
    return (
      <div class="field">
        <h3 id={`lbl-${field}`}>{title}</h3>
        {ytext ? <CollabText ytext={ytext} awareness={session.awareness} readOnly={readOnly} labelId={`lbl-${field}`} testId={`text-${field}`} minLines={lines} /> : <p class="muted">Waiting for the node…</p>}
      </div>
    );
  };

  return (
    <section class="editor" aria-labelledby="editor-title">
      <div class="page-head">
        <div>
          <h1 id="editor-title">{fields.name}</h1>
          <p class="muted">
            <code>{id}</code> · {fields.modelId}
            {Object.keys(labels ?? {}).length > 0 && <> · labels: {Object.keys(labels).map((l) => <span class="chip" key={l}>{l}</span>)}</>}
          </p>
        </div>
        <div class="actions">
          <a class="button" href={href({ name: 'history', id })}>
            History
          </a>
          {roleAllows(who.role, 'operate') && (
            <a class="button" href={href({ name: 'audit', profile: id })}>
              Audit
            </a>
          )}
        </div>
      </div>
      <div class="editor-status">
        <SyncBadge status={status} />
        <Presence awareness={session.awareness} />
      </div>
      {!writable && (
        <p class="readonly-note" role="note" data-testid="readonly-note">
          <strong>Read-only.</strong> Your token ({who.role ?? 'no write access'}) can view this profile and see others edit it, but cannot change it.
        </p>
      )}
      {!ready && <p class="muted">Loading the live document…</p>}
      {ready && (
        <div class="texts">
          {textField('systemMessage', 'System message', 6)}
          {textField('description', 'Description', 2)}
          <h2>Templates</h2>
          {templateNames.length === 0 && <p class="muted">No templates.</p>}
          {templateNames.map((name) => {
            const ytext = session.text({ template: name });
            return (
              <div class="field" key={name}>
                <div class="inline">
                  <h3 id={`lbl-tpl-${name}`}>
                    Template <code>{name}</code>
                  </h3>
                  {!readOnly && (
                    <button type="button" class="link danger" onClick={() => setRemoving(name)} aria-label={`Remove template ${name}`}>
                      Remove
                    </button>
                  )}
                </div>
                {ytext && <CollabText ytext={ytext} awareness={session.awareness} readOnly={readOnly} labelId={`lbl-tpl-${name}`} testId={`text-template-${name}`} />}
              </div>
            );
          })}
          {!readOnly && <TemplateAdder profileId={id} existing={templateNames} />}
        </div>
      )}
      {ready && <ParamsForm profileId={id} current={fields} readOnly={readOnly} />}
      {removing && (
        <Dialog
          title={`Remove template ${removing}?`}
          confirmLabel="Remove"
          danger
          onClose={() => setRemoving(undefined)}
          onConfirm={async () => {
            await api.patchProfile(id, { templates: { [removing]: null } });
            announce(`Template ${removing} removed.`);
          }}
        >
          <p>The template is removed in a new version; the history keeps it.</p>
        </Dialog>
      )}
    </section>
  );
}
