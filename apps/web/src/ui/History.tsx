/**
 * History of one profile: a timeline of versions (profile model v2: a version is one run of
 * changes closed by an idle gap, another person's change or a "Save version" checkpoint, not
 * one per keystroke) with who made it (the person's display name), when, why it closed, its
 * message and the fields it touched; the open run (changes not yet closed) on top. A
 * side-by-side diff of any two (GET /diff), "Save version", and revert / move a label to a
 * closed version, each after a confirmation.
 */
import { useEffect, useState } from 'preact/hooks';
import type { ProfileDiff, ProfileView, VersionInfo } from '@profilesync/core';
import { ApiError, errorText } from '../lib/api.js';
import { shortRef, when } from '../lib/format.js';
import { href } from '../lib/router.js';
import { roleAllows } from '../lib/session.js';
import { useApp } from './context.js';
import { Dialog } from './Dialog.js';
import { DiffView } from './DiffView.js';
import { CheckpointDialog } from './CheckpointDialog.js';
import { ErrorAlert } from './parts.js';
import { announce } from './status.js';
import { REASON } from '../lib/reasons.js';

const LABEL_RE = /^[a-z0-9][a-z0-9_.-]{0,63}$/;

/** Touched fields as a person reads them: one "messages" for any message (their ids mean nothing to people). */
export function fieldNames(fields: readonly string[]): string[] {
  return [...new Set(fields.map((f) => (f.startsWith('messages.') ? 'messages' : f)))];
}

/** Why a version closed, in words. */
const LABEL_RULE = 'label names use a-z, 0-9, _ . - (not "latest")';

function LabelDialog({ id, version, labels, onClose, onDone }: { id: string; version: VersionInfo; labels: Record<string, string>; onClose: () => void; onDone: () => Promise<void> }) {
  const { api } = useApp();
  const [choice, setChoice] = useState('production');
  const [custom, setCustom] = useState('');
  const label = choice === 'custom' ? custom.trim() : choice;
  const current = labels[label];
  // an invalid name says only why (no preview of a label that cannot exist)
  const invalid = label !== '' && (!LABEL_RE.test(label) || label === 'latest');
  return (
    <Dialog
      title={`Move a label to version @${version.seq}`}
      confirmLabel="Move label"
      testId="label-dialog"
      onClose={onClose}
      confirmDisabled={label === '' || invalid}
      onConfirm={async () => {
        if (invalid || label === '') throw new ApiError(0, 'LABEL_INVALID', LABEL_RULE);
        await api.setLabel(id, label, version.version);
        announce(`Label ${label} now points at version @${version.seq}.`);
        await onDone();
      }}
    >
      <fieldset>
        <legend>Label</legend>
        {['production', 'staging', 'custom'].map((l) => (
          <label class="radio" key={l}>
            <input type="radio" name="label-choice" value={l} checked={choice === l} onChange={() => setChoice(l)} /> {l === 'custom' ? 'Other:' : l}
          </label>
        ))}
        <label for="custom-label" class="sr-only">
          Other label name
        </label>
        <input id="custom-label" value={custom} disabled={choice !== 'custom'} onInput={(e) => setCustom(e.currentTarget.value)} placeholder="e.g. canary" />
      </fieldset>
      {invalid ? (
        <p role="alert" class="error" data-testid="label-invalid">
          LABEL_INVALID: {LABEL_RULE}
        </p>
      ) : (
        <p>
          {label === '' ? (
            <>Type the label's name.</>
          ) : current === undefined ? (
            <>
              <code>{label}</code> is not set yet; it will point at version @{version.seq} ({when(version.at)}).
            </>
          ) : current === version.version ? (
            <>
              <code>{label}</code> already points at this version.
            </>
          ) : (
            <>
              <code>{label}</code> moves from <code>{shortRef(current)}</code> to version @{version.seq} ({when(version.at)}). Readers of <code>?label={label}</code> get this content from now on.
            </>
          )}
        </p>
      )}
    </Dialog>
  );
}

export function History({ id }: { id: string }) {
  const { api, session } = useApp();
  const [versions, setVersions] = useState<VersionInfo[] | undefined>();
  const [view, setView] = useState<ProfileView | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [from, setFrom] = useState<string | undefined>();
  const [to, setTo] = useState<string | undefined>();
  const [diff, setDiff] = useState<ProfileDiff | undefined>();
  const [diffError, setDiffError] = useState<string | undefined>();
  const [reverting, setReverting] = useState<VersionInfo | undefined>();
  const [labelling, setLabelling] = useState<VersionInfo | undefined>();
  const [checkpointing, setCheckpointing] = useState(false);
  const canWrite = roleAllows(session.role, 'write');

  const load = async (keepSelection = false) => {
    try {
      const [h, v] = await Promise.all([api.history(id, 500), api.getProfile(id).catch((err: unknown) => (err instanceof ApiError && err.code === 'PROFILE_DELETED' ? undefined : Promise.reject(err)))]);
      setVersions(h);
      setView(v);
      if (!keepSelection || !h.some((x) => x.version === to)) {
        setTo(h[0]?.version);
        setFrom(h[1]?.version ?? h[0]?.version);
      }
    } catch (err) {
      setError(errorText(err));
    }
  };
  useEffect(() => void load(), [id]);

  useEffect(() => {
    if (!from || !to) return;
    let cancelled = false;
    setDiffError(undefined);
    api
      .diff(id, from, to)
      .then((d) => !cancelled && setDiff(d))
      .catch((err: unknown) => {
        if (cancelled) return;
        setDiff(undefined);
        setDiffError(errorText(err));
      });
    return () => {
      cancelled = true;
    };
  }, [id, from, to]);

  const seqOf = (ref: string | undefined) => versions?.find((v) => v.version === ref)?.seq;
  const labels = view?.labels ?? {};
  const labelsAt = (ref: string) => Object.entries(labels).filter(([, r]) => r === ref).map(([l]) => l);

  return (
    <section class="history" aria-labelledby="history-title">
      <div class="page-head">
        <h1 id="history-title">
          History of <code>{id}</code>
        </h1>
        <div class="actions">
          {view && canWrite && (
            <button type="button" onClick={() => setCheckpointing(true)}>
              Save version…
            </button>
          )}
          {view && (
            <a class="button" href={href({ name: 'editor', id })}>
              Open editor
            </a>
          )}
        </div>
      </div>
      {!view && versions && <p class="note">This profile is deleted; reverting to a live version restores it.</p>}
      <ErrorAlert message={error} />
      {!versions && !error && <p>Loading…</p>}
      {versions && (
        <div class="history-grid">
          <div>
            <h2>Versions ({versions.length})</h2>
            <p class="muted" id="pick-help">
              Pick a "from" and a "to" version to compare them.
            </p>
            <ol class="timeline" data-testid="timeline" aria-describedby="pick-help">
              {versions.map((v, i) => (
                <li key={`${v.seq}-${v.version}`} data-seq={v.seq} data-open={v.open ? 'true' : undefined} class={[v.version === to || v.version === from ? 'picked' : '', v.open ? 'open-run' : ''].join(' ').trim() || undefined}>
                  <div class="t-head">
                    <strong>{v.ref ?? `@${v.seq}`}</strong>{' '}
                    {v.open ? <span class="chip open">open: not yet a closed version</span> : <span class="reason">{REASON[v.reason] ?? v.reason}</span>}
                    {i === 0 && <span class="chip">current</span>}
                    {labelsAt(v.version).map((l) => (
                      <span class="chip label" key={l}>
                        {l}
                      </span>
                    ))}
                  </div>
                  {v.message && <div class="t-message">“{v.message}”</div>}
                  <div class="t-fields">{v.fields && v.fields.length > 0 ? <>changed: {fieldNames(v.fields).map((f) => <code key={f}>{f}</code>)}</> : <span class="muted">{v.summary}</span>}</div>
                  <div class="muted">
                    <span class="t-by">{v.by ?? v.actor}</span> · {when(v.at)}
                    {v.node ? (
                      <>
                        {' '}
                        · on <code>{v.node}</code>
                      </>
                    ) : null}
                  </div>
                  <div class="t-actions">
                    <label>
                      <input type="radio" name="diff-from" aria-label={`Compare from version ${v.seq}`} checked={from === v.version} onChange={() => setFrom(v.version)} /> from
                    </label>
                    <label>
                      <input type="radio" name="diff-to" aria-label={`Compare to version ${v.seq}`} checked={to === v.version} onChange={() => setTo(v.version)} /> to
                    </label>
                    {canWrite && i > 0 && !v.open && (
                      <button type="button" class="link" onClick={() => setReverting(v)} aria-label={`Revert to version ${v.seq}`}>
                        Revert to this
                      </button>
                    )}
                    {canWrite && !v.open && (
                      <button type="button" class="link" onClick={() => setLabelling(v)} aria-label={`Move a label to version ${v.seq}`}>
                        Move label here
                      </button>
                    )}
                  </div>
                </li>
              ))}
            </ol>
          </div>
          <div>
            <h2>
              Diff @{seqOf(from) ?? '?'} → @{seqOf(to) ?? '?'}
            </h2>
            <ErrorAlert message={diffError} />
            {diff && <DiffView diff={diff} fromLabel={`@${seqOf(from) ?? '?'}`} toLabel={`@${seqOf(to) ?? '?'}`} />}
          </div>
        </div>
      )}
      {reverting && (
        <Dialog
          title={`Revert to version @${reverting.seq}?`}
          confirmLabel="Revert"
          danger
          testId="revert-dialog"
          onClose={() => setReverting(undefined)}
          onConfirm={async () => {
            await api.revert(id, reverting.version);
            announce(`Reverted to version @${reverting.seq} (as a new version).`);
            await load();
          }}
        >
          <p>
            The content of version @{reverting.seq} ({reverting.message ? `“${reverting.message}”, ` : ''}by {reverting.by ?? reverting.actor}, {when(reverting.at)}) becomes a new version. Nothing is erased; labels stay where they are.
          </p>
        </Dialog>
      )}
      {checkpointing && (
        <CheckpointDialog
          id={id}
          onClose={() => {
            setCheckpointing(false);
            void load();
          }}
        />
      )}
      {labelling && <LabelDialog id={id} version={labelling} labels={labels} onClose={() => setLabelling(undefined)} onDone={() => load(true)} />}
    </section>
  );
}
