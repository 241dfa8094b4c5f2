/**
 * Open conflicts of a profile (issue 13), in the editor: for each, the field, when it was
 * recorded, and side by side what each side wrote and what the merge made of it (text runs
 * the merge dropped struck through, text it added underlined), then a choice: keep the merged
 * text, keep ours, keep theirs, or write the value. A resolution is a new version on the node
 * and converges on every peer. Resolved conflicts stay listed below, folded.
 */
import { useEffect, useState } from 'preact/hooks';
import { errorText } from '../lib/api.js';
import { compareToMerged, conflictField, valueText, type Conflict, type Keep, type Run } from '../lib/conflicts.js';
import { when } from '../lib/format.js';
import { useApp } from './context.js';
import { Dialog } from './Dialog.js';
import { ErrorAlert } from './parts.js';
import { announce } from './status.js';
import { MarkedText } from './MarkedText.js';

/** The side's text against the merged one: what the merge dropped (struck out) and what it added from the other side. */
const Runs = ({ runs }: { runs: Run[] }) => (
  <MarkedText runs={runs.map((r) => ({ text: r.text, mark: r.mark === 'gone' ? 'del' : r.mark === 'added' ? 'ins' : 'same' }))} titles={{ del: 'not in the merged text', ins: 'in the merged text, not written by this side' }} />
);

function Side({ title, value, merged, text }: { title: string; value: unknown; merged: unknown; text: boolean }) {
  return (
    <div class="conflict-side">
      <h4>{title}</h4>
      {text && typeof value === 'string' && typeof merged === 'string' ? <Runs runs={compareToMerged(value, merged)} /> : <pre class="diff-text">{text && typeof value === 'string' ? value : valueText(value)}</pre>}
    </div>
  );
}

function OneConflict({ c, profileId, readOnly, label, onResolved }: { c: Conflict; profileId: string; readOnly: boolean; label: string; onResolved: () => Promise<void> }) {
  const { api } = useApp();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const [editing, setEditing] = useState(false);
  const isText = c.kind === 'text' || (typeof c.merged === 'string' && typeof c.ours === 'string' && typeof c.theirs === 'string');
  const [value, setValue] = useState(() => (isText && typeof c.merged === 'string' ? c.merged : valueText(c.merged)));
  const keep = async (k: Keep, v?: unknown) => {
    setBusy(true);
    setError(undefined);
    try {
      await api.resolveConflict(profileId, c.id, k, v);
      announce(`Conflict in ${label} resolved: kept ${k === 'value' ? 'your value' : k}.`);
      await onResolved();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <li class="conflict" data-conflict={c.id} data-field={c.field}>
      <h3>
        {label} <span class="kind">({c.kind} conflict, {when(c.at)})</span>
      </h3>
      <p class="muted">
        {c.kind === 'create'
          ? 'Two nodes created this profile independently with different content; both sides are kept below.'
          : 'Two sides changed this while apart; the profile holds the merged value until you choose.'}
      </p>
      <div class="conflict-sides">
        <Side title="Ours (this node)" value={c.ours} merged={c.merged} text={isText} />
        <Side title="Theirs (the other side)" value={c.theirs} merged={c.merged} text={isText} />
        <div class="conflict-side merged">
          <h4>Merged (now in the profile)</h4>
          <pre class="diff-text">{isText && typeof c.merged === 'string' ? c.merged : valueText(c.merged)}</pre>
        </div>
      </div>
      <ErrorAlert message={error} />
      {!readOnly && (
        <div class="actions">
          <button type="button" disabled={busy} onClick={() => void keep('merged')} aria-label={`Keep the merged ${label}`}>
            Keep merged
          </button>
          <button type="button" disabled={busy} onClick={() => void keep('ours')} aria-label={`Keep our ${label}`}>
            Keep ours
          </button>
          <button type="button" disabled={busy} onClick={() => void keep('theirs')} aria-label={`Keep their ${label}`}>
            Keep theirs
          </button>
          <button type="button" disabled={busy} onClick={() => setEditing(true)} aria-label={`Write the ${label} yourself`}>
            Write it…
          </button>
        </div>
      )}
      {editing && (
        <Dialog
          title={`Resolve ${label} with your own ${isText ? 'text' : 'value'}`}
          confirmLabel="Keep this"
          testId="resolve-dialog"
          onClose={() => setEditing(false)}
          onConfirm={async () => {
            let v: unknown = value;
            if (!isText) v = JSON.parse(value); // a SyntaxError is shown in the dialog
            await api.resolveConflict(profileId, c.id, 'value', v);
            announce(`Conflict in ${label} resolved with your ${isText ? 'text' : 'value'}.`);
            await onResolved();
          }}
        >
          <label for={`resolve-${c.id}`}>{isText ? 'Text' : 'Value (JSON)'}</label>
          <textarea id={`resolve-${c.id}`} rows={8} class="json" value={value} onInput={(e) => setValue(e.currentTarget.value)} />
        </Dialog>
      )}
    </li>
  );
}

export function Conflicts({ profileId, version, count, readOnly, messageIndex }: { profileId: string; version: string; count: number; readOnly: boolean; messageIndex: (id: string) => number | undefined }) {
  const { api } = useApp();
  const [list, setList] = useState<Conflict[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const load = async () => {
    try {
      setList(await api.conflicts(profileId));
      setError(undefined);
    } catch (err) {
      setError(errorText(err));
    }
  };
  // re-read when the profile changes (a new conflict, or one resolved elsewhere)
  useEffect(() => {
    if (count > 0 || list !== undefined) void load();
  }, [version, count]);
  const open = (list ?? []).filter((c) => c.status === 'open');
  const resolved = (list ?? []).filter((c) => c.status === 'resolved');
  if (count === 0 && open.length === 0 && resolved.length === 0 && !error) return null;
  return (
    <section class="conflicts card" aria-labelledby="conflicts-title" data-testid="conflicts">
      <h2 id="conflicts-title">
        {open.length > 0 ? `⚠ ${open.length} open conflict${open.length === 1 ? '' : 's'}` : 'Conflicts'}
      </h2>
      <ErrorAlert message={error} />
      {open.length === 0 && list && <p>No open conflicts.</p>}
      <ol class="conflict-list">
        {open.map((c) => (
          <OneConflict key={c.id} c={c} profileId={profileId} readOnly={readOnly} label={conflictField(c.field, messageIndex)} onResolved={load} />
        ))}
      </ol>
      {resolved.length > 0 && (
        <details>
          <summary>Resolved ({resolved.length})</summary>
          <ul>
            {resolved.map((c) => (
              <li key={c.id}>
                {conflictField(c.field, messageIndex)} — resolved {c.resolvedAt ? when(c.resolvedAt) : ''}
                {c.resolvedBy ? ` by ${c.resolvedBy}` : ''}
              </li>
            ))}
          </ul>
        </details>
      )}
    </section>
  );
}
