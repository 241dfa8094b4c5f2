/**
 * The live editor of one profile: systemMessage, description and every template bound to
 * their Y.Texts over /yjs/:id (two people see each other's characters and cursors), who is
 * here, the sync state, and typed parameters saved through PATCH. A viewer token (or a token
 * without a grant) gets the same screen read-only.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import * as Y from 'yjs';
import type { ProfileView } from '@profilesync/core';
import { describeError, errorText, retryableError as retryable } from '../lib/api.js';
import { retryDelay } from '../lib/changes.js';
import type { CollabSession, CollabStatus } from '../lib/collab.js';
import { acquireLiveDoc, peekLiveDoc, releaseLiveDoc, type LiveDoc } from '../lib/livedocs.js';
import { ownerOf, profileOrigin, type CopyOrigin } from '../lib/unsent.js';
import { randomColor } from '../lib/format.js';
import { TEMPLATE_NAME_RE } from '../lib/params.js';
import { href } from '../lib/router.js';
import { canWrite, roleAllows } from '../lib/session.js';
import { CollabText } from './CollabText.js';
import { useApp } from './context.js';
import { Dialog } from './Dialog.js';
import { CheckpointDialog } from './CheckpointDialog.js';
import { Conflicts } from './Conflicts.js';
import { Messages } from './Messages.js';
import { ParamsForm, type EditableFields } from './ParamsForm.js';
import { RenderPreview } from './RenderPreview.js';
import { ErrorAlert, RetryNotice } from './parts.js';
import { Presence, SyncBadge } from './Presence.js';
import { announce } from './status.js';

/** Template names, re-read only when the templates map's keys change (not per keystroke). */
function useTemplateNames(session: CollabSession | undefined): string[] {
  const [names, setNames] = useState<string[]>([]);
  useEffect(() => {
    if (!session) return;
    const p = session.profile;
    let watched: Y.Map<unknown> | undefined;
    const read = () => {
      const t = p.get('templates');
      setNames(t instanceof Y.Map ? [...t.keys()].sort() : []);
    };
    const watch = () => {
      const t = p.get('templates');
      if (t !== watched) {
        watched?.unobserve(read);
        watched = t instanceof Y.Map ? t : undefined;
        watched?.observe(read);
      }
      read();
    };
    p.observe(watch);
    watch();
    return () => {
      p.unobserve(watch);
      watched?.unobserve(read);
    };
  }, [session]);
  return names;
}

/**
 * The node's durable view, kept fresh: re-read (at most one request in flight, 250 ms after
 * the last change) whenever the live doc changes, locally or remotely. Parameters, name,
 * model, tags, labels and the render preview follow it.
 */
function useNodeView(session: CollabSession | undefined, initial: ProfileView | undefined, fetchView: () => Promise<ProfileView>): ProfileView | undefined {
  const [view, setView] = useState(initial);
  useEffect(() => setView(initial), [initial]);
  useEffect(() => {
    if (!session) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let inFlight = false;
    let again = false;
    let live = true;
    const refresh = async () => {
      if (inFlight) {
        again = true;
        return;
      }
      inFlight = true;
      try {
        const v = await fetchView();
        if (live) setView(v);
      } catch {
        // shown by the sync badge / the next change
      } finally {
        inFlight = false;
        if (again && live) {
          again = false;
          schedule();
        }
      }
    };
    const schedule = () => {
      clearTimeout(timer);
      timer = setTimeout(() => void refresh(), 250);
    };
    session.doc.on('update', schedule);
    return () => {
      live = false;
      clearTimeout(timer);
      session.doc.off('update', schedule);
    };
  }, [session]);
  return view;
}

function editableFrom(view: ProfileView): EditableFields {
  const tags = view.meta?.tags;
  return { name: view.name, modelId: view.modelId, parameters: view.parameters as Record<string, unknown>, tags: Array.isArray(tags) ? (tags as string[]) : [] };
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
  const [loadError, setLoadError] = useState<{ code: string; message: string; retryAt?: number } | undefined>();
  const [writable, setWritable] = useState<boolean | undefined>();
  const [session, setSession] = useState<CollabSession | undefined>();
  const [status, setStatus] = useState<CollabStatus>({ state: 'connecting', ready: false });
  const [removing, setRemoving] = useState<string | undefined>();
  const [checkpointing, setCheckpointing] = useState(false);
  const [retryNow, setRetryNow] = useState<(() => void) | undefined>();
  const user = useMemo(() => ({ name: displayName, ...randomColor() }), [displayName]);

  // the profile and its live doc: a live doc this tab kept (edits not yet sent) opens at once,
  // even with the node down; otherwise the node is asked, again and again with backoff while
  // it cannot be reached (or "Retry now")
  useEffect(() => {
    let cancelled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let doc: LiveDoc | undefined;
    // who edits (a stored copy is sent only by the same person) and which profile (only into the same one)
    const start = (v: ProfileView, w: boolean, origin: CopyOrigin | null) => {
      doc ??= acquireLiveDoc(id, { token: api.token, user, fetchView: () => api.getProfile(id), by: ownerOf(who), origin });
      doc.view = v;
      doc.writable = w;
      setView(v);
      setWritable(w);
      setSession(doc.session);
    };
    const kept = peekLiveDoc(id);
    if (kept?.view !== undefined && kept.writable !== undefined && kept.token === api.token) start(kept.view, kept.writable, kept.origin);
    const load = async (attempt: number) => {
      clearTimeout(timer);
      try {
        const [v, origin] = await Promise.all([api.getProfile(id), profileOrigin(api, id)]);
        const w = await canWrite(api, who, id);
        if (cancelled) return;
        setLoadError(undefined);
        start(v, w, origin);
      } catch (err) {
        if (cancelled) return;
        if (doc !== undefined && retryable(err)) return; // the kept doc is on screen; the sync badge tells the node's state
        const d = describeError(err);
        if (!retryable(err)) return setLoadError(d);
        const wait = retryDelay(attempt);
        setLoadError({ ...d, retryAt: Date.now() + wait });
        timer = setTimeout(() => void load(attempt + 1), wait);
      }
    };
    setRetryNow(() => () => void load(0));
    void load(0);
    return () => {
      cancelled = true;
      clearTimeout(timer);
      if (doc) releaseLiveDoc(doc);
    };
  }, [id]);

  useEffect(() => {
    if (!session) return;
    return session.subscribe(setStatus);
  }, [session]);

  const templateNames = useTemplateNames(session);
  const fetchView = useMemo(() => () => api.getProfile(id), [id]);
  const nodeView = useNodeView(session, view, fetchView);

  if (loadError && !session) {
    return (
      <section>
        <h1>{id}</h1>
        <ErrorAlert message={`${loadError.code}: ${loadError.message}`} />
        {loadError.retryAt !== undefined && (
          <RetryNotice testId="editor-retry" at={loadError.retryAt} then="The editor opens by itself once the node answers." onRetry={() => retryNow?.()} />
        )}
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
  if (!view || !nodeView || !session || writable === undefined) return <p>Loading {id}…</p>;

  const readOnly = !writable || status.state === 'closed';
  const ready = status.ready;
  const fields = editableFrom(nodeView);
  const labels = nodeView.labels;

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
          {writable && (
            <button type="button" onClick={() => setCheckpointing(true)}>
              Save version…
            </button>
          )}
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
      <Conflicts
        profileId={id}
        version={nodeView.version}
        count={nodeView.conflicts ?? 0}
        readOnly={readOnly}
        messageIndex={(mid) => {
          const i = (nodeView.messages ?? []).findIndex((m) => m.id === mid);
          return i < 0 ? undefined : i;
        }}
      />
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
          <Messages session={session} profileId={id} readOnly={readOnly} />
        </div>
      )}
      {ready && <ParamsForm profileId={id} current={fields} readOnly={readOnly} />}
      {ready && <RenderPreview profileId={id} source={{ version: nodeView.version, systemMessage: nodeView.systemMessage, messages: nodeView.messages ?? [], templates: nodeView.templates }} />}
      {checkpointing && <CheckpointDialog id={id} onClose={() => setCheckpointing(false)} />}
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
