/**
 * Audit view: filter by profile, actor, action and time; denied and rejected attempts stand
 * out by text ("DENIED"), an icon and style, not by color alone.
 */
import { useEffect, useState } from 'preact/hooks';
import type { AuditRecord } from '@profilesync/core';
import { errorText } from '../lib/api.js';
import { when } from '../lib/format.js';
import { useApp } from './context.js';
import { ErrorAlert, Grid } from './parts.js';

interface Filter {
  profile: string;
  actor: string;
  action: string;
  since: string;
  until: string;
  onlyDenied: boolean;
}

/** A datetime-local value (local time) -> ISO-8601, or undefined when empty. */
export function localToIso(v: string): string | undefined {
  if (v === '') return undefined;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

function detailsText(r: AuditRecord): string {
  const parts: string[] = [];
  if (r.fields?.length) parts.push(`fields: ${r.fields.join(', ')}`);
  if (r.details) {
    for (const [k, v] of Object.entries(r.details)) {
      if (k === 'requestId') continue;
      parts.push(`${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
    }
  }
  return parts.join(' · ');
}

export function Audit({ initialProfile }: { initialProfile?: string | undefined }) {
  const { api } = useApp();
  const [filter, setFilter] = useState<Filter>({ profile: initialProfile ?? '', actor: '', action: '', since: '', until: '', onlyDenied: false });
  const [applied, setApplied] = useState(filter);
  const [records, setRecords] = useState<AuditRecord[] | undefined>();
  const [error, setError] = useState<string | undefined>();

  useEffect(() => {
    let cancelled = false;
    setError(undefined);
    api
      .audit({
        profile: applied.profile.trim() || undefined,
        actor: applied.actor.trim() || undefined,
        action: applied.action.trim() || undefined,
        since: localToIso(applied.since),
        until: localToIso(applied.until),
        limit: 500,
      })
      .then((r) => !cancelled && setRecords(r))
      .catch((err: unknown) => {
        if (!cancelled) setError(errorText(err));
      });
    return () => {
      cancelled = true;
    };
  }, [applied]);

  const set = (k: keyof Filter) => (e: Event) => setFilter({ ...filter, [k]: (e.currentTarget as HTMLInputElement).value });
  const shown = (records ?? []).filter((r) => !applied.onlyDenied || r.outcome !== 'ok');
  const deniedCount = (records ?? []).filter((r) => r.outcome !== 'ok').length;

  return (
    <section aria-labelledby="audit-title">
      <h1 id="audit-title">Audit</h1>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setApplied(filter);
        }}
      >
        <div>
          <label for="a-profile">Profile id</label>
          <input id="a-profile" value={filter.profile} onInput={set('profile')} />
        </div>
        <div>
          <label for="a-actor">Actor</label>
          <input id="a-actor" value={filter.actor} onInput={set('actor')} />
        </div>
        <div>
          <label for="a-action">Action</label>
          <input id="a-action" value={filter.action} onInput={set('action')} placeholder="e.g. auth.denied" />
        </div>
        <div>
          <label for="a-since">Since</label>
          <input id="a-since" type="datetime-local" value={filter.since} onInput={set('since')} />
        </div>
        <div>
          <label for="a-until">Until</label>
          <input id="a-until" type="datetime-local" value={filter.until} onInput={set('until')} />
        </div>
        <div class="checkbox">
          <input id="a-denied" type="checkbox" checked={filter.onlyDenied} onChange={(e) => setFilter({ ...filter, onlyDenied: e.currentTarget.checked })} />
          <label for="a-denied">Only denied / rejected</label>
        </div>
        <div>
          <button type="submit" class="primary">
            Apply filters
          </button>
        </div>
      </form>
      <ErrorAlert message={error} />
      {records && (
        <p class="muted" role="status">
          {shown.length} records{deniedCount > 0 ? `, ${deniedCount} denied or rejected` : ''}.
        </p>
      )}
      {records && (
        <Grid testId="audit-table" class="audit" caption="Audit records, newest first" columns={['Outcome', 'When', 'Action', 'Profile', 'Actor', 'Origin', 'Details']}>
          {shown.map((r, i) => (
            <tr key={`${r.at}-${i}`} class={r.outcome === 'ok' ? undefined : 'denied'} data-outcome={r.outcome}>
              <td>
                {r.outcome === 'ok' ? (
                  'ok'
                ) : (
                  <strong class="badge-denied">
                    <span aria-hidden="true">✖ </span>
                    {r.outcome.toUpperCase()}
                  </strong>
                )}
              </td>
              <td>{when(r.at)}</td>
              <td>
                <code>{r.action}</code>
              </td>
              <td>{r.profile ? <code>{r.profile}</code> : ''}</td>
              <td>{r.actor}</td>
              <td>
                <code>{r.origin}</code>
              </td>
              <td class="details">{detailsText(r)}</td>
            </tr>
          ))}
        </Grid>
      )}
    </section>
  );
}
