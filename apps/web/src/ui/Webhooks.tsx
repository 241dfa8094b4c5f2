/**
 * Webhooks (unscoped admins): each hook with its delivery state in words (delivering, retrying,
 * failing since, given up), its delivery log (the last attempts with the receiver's status and
 * the error, newest first), adding one (the secret is shown once, to copy into the receiver),
 * and removing one added here (hooks from the config file are removed there).
 */
import { useEffect, useState } from 'preact/hooks';
import { errorText } from '../lib/api.js';
import { href, navigate } from '../lib/router.js';
import type { DeliveryAttempt, WebhookInfo } from '../lib/types.js';
import { useApp } from './context.js';
import { Dialog } from './Dialog.js';
import { ErrorAlert, Grid, RemoveOrConfig, usePolling } from './parts.js';
import { announce } from './status.js';

const POLL_MS = 2000;
const KINDS = ['profile.created', 'profile.updated', 'profile.deleted', 'label.moved'] as const;

/** The state of a hook in words, and its tone. */
export function hookState(h: WebhookInfo): { label: string; tone: 'ok' | 'warn' | 'bad' } {
  const s = h.status;
  if (s.pending > 0 && s.lastError) return { label: `retrying: ${s.pending} pending, last error ${s.lastError.error}`, tone: 'warn' };
  if (s.pending > 0) return { label: `delivering (${s.pending} pending)`, tone: 'ok' };
  if (s.lastError && (!s.lastDeliveredAt || s.lastError.at > s.lastDeliveredAt)) return { label: `last delivery failed: ${s.lastError.error}`, tone: 'bad' };
  return { label: s.delivered > 0 ? 'delivered, up to date' : 'up to date (nothing to deliver yet)', tone: 'ok' };
}

function Deliveries({ hook }: { hook: WebhookInfo }) {
  const { api } = useApp();
  const [rows, setRows] = useState<DeliveryAttempt[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  useEffect(() => {
    let stop = false;
    const poll = async () => {
      try {
        const r = await api.webhookDeliveries(hook.id);
        if (!stop) {
          setRows(r.deliveries);
          setError(undefined);
        }
      } catch (err) {
        if (!stop) setError(errorText(err));
      }
    };
    void poll();
    const t = setInterval(() => void poll(), POLL_MS);
    return () => {
      stop = true;
      clearInterval(t);
    };
  }, [hook.id]);
  return (
    <section class="card" aria-labelledby="deliveries-title">
      <h2 id="deliveries-title">
        Deliveries of {hook.name ?? hook.id} <span class="muted">({hook.url})</span>
      </h2>
      <p class="note">The last attempts, newest first. A failed attempt is retried with growing delays; after the last one the delivery is given up. The log starts empty when the node restarts (pending deliveries do not).</p>
      <ErrorAlert message={error} />
      {rows && rows.length === 0 && <p data-testid="no-deliveries">No attempts yet: nothing changed since this hook was added (or since the node started).</p>}
      {rows && rows.length > 0 && (
        <Grid testId="deliveries-table" caption="Delivery attempts" columns={['When', 'Profile', 'Event', 'Attempt', 'Outcome', 'Answer', 'Next attempt']}>
          {rows.map((d) => (
            <tr key={`${d.id}-${d.attempt}`} data-outcome={d.outcome}>
              <td>{new Date(d.at).toLocaleString()}</td>
              <td>
                <a href={href({ name: 'editor', id: d.profile })}>{d.profile}</a>
              </td>
              <td>{d.event}</td>
              <td>{d.attempt}</td>
              <td class={d.outcome === 'delivered' ? 'state-ok' : d.outcome === 'failed' ? 'state-bad' : 'state-warn'}>{d.outcome === 'failed' ? 'given up' : d.outcome}</td>
              <td data-testid="delivery-answer">{d.error ?? (d.status !== null ? `HTTP ${d.status}` : '')} <span class="muted">({d.durationMillis} ms)</span></td>
              <td>{d.nextAttemptAt ? new Date(d.nextAttemptAt).toLocaleTimeString() : '—'}</td>
            </tr>
          ))}
        </Grid>
      )}
    </section>
  );
}

function AddWebhook({ onAdded }: { onAdded: (id: string) => Promise<void> }) {
  const { api } = useApp();
  const [f, setF] = useState({ url: '', name: '', profiles: '', kinds: [...KINDS] as string[] });
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const [secret, setSecret] = useState<{ id: string; secret: string } | undefined>();
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const globs = f.profiles.split(/[\s,]+/).filter((g) => g !== '');
      const added = await api.addWebhook({
        url: f.url.trim(),
        ...(f.name.trim() ? { name: f.name.trim() } : {}),
        ...(globs.length > 0 ? { profiles: globs } : {}),
        ...(f.kinds.length < KINDS.length ? { events: f.kinds } : {}),
      });
      setSecret({ id: added.id, secret: added.secret });
      setF({ url: '', name: '', profiles: '', kinds: [...KINDS] });
      await onAdded(added.id);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="card" aria-labelledby="add-hook-title">
      <h2 id="add-hook-title">Add a webhook</h2>
      <form onSubmit={submit} class="form-grid">
        <label for="hook-url">URL</label>
        <input id="hook-url" required value={f.url} placeholder="https://app.example.com/hooks/profilesync" onInput={(e) => setF({ ...f, url: e.currentTarget.value })} />
        <label for="hook-name">Name (optional)</label>
        <input id="hook-name" value={f.name} placeholder="deploys" onInput={(e) => setF({ ...f, name: e.currentTarget.value })} />
        <label for="hook-profiles">Profiles (optional)</label>
        <input id="hook-profiles" value={f.profiles} placeholder="support* sales-*" onInput={(e) => setF({ ...f, profiles: e.currentTarget.value })} />
        <span id="hook-events-label">Events</span>
        <fieldset aria-labelledby="hook-events-label" class="checks">
          {KINDS.map((k) => (
            <label key={k}>
              <input
                type="checkbox"
                checked={f.kinds.includes(k)}
                onChange={(e) => setF({ ...f, kinds: e.currentTarget.checked ? [...f.kinds, k] : f.kinds.filter((x) => x !== k) })}
              />{' '}
              {k}
            </label>
          ))}
        </fieldset>
        <span />
        <div class="actions">
          <button type="submit" class="primary" disabled={busy || f.kinds.length === 0}>
            {busy ? 'Adding…' : 'Add webhook'}
          </button>
        </div>
      </form>
      <ErrorAlert message={error} />
      {secret && (
        <Dialog title="Copy the webhook secret now" confirmLabel="Done" noCancel testId="hook-secret-dialog" onClose={() => setSecret(undefined)} onConfirm={async () => setSecret(undefined)}>
          <p>The receiver checks the <code>x-profilesync-signature</code> header (HMAC-SHA256 of the body) with this secret. It is shown only now.</p>
          <p>
            <code data-testid="hook-secret">{secret.secret}</code>
          </p>
        </Dialog>
      )}
    </section>
  );
}

export function Webhooks({ selected }: { selected?: string | undefined }) {
  const { api } = useApp();
  const [hooks, setHooks] = useState<WebhookInfo[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [removing, setRemoving] = useState<WebhookInfo | undefined>();
  const poll = async () => {
    try {
      setHooks((await api.webhooks()).webhooks);
      setError(undefined);
    } catch (err) {
      setError(errorText(err));
    }
  };
  usePolling(poll, POLL_MS);
  const current = hooks?.find((h) => h.id === selected);
  return (
    <section aria-labelledby="hooks-title">
      <div class="page-head">
        <h1 id="hooks-title">Webhooks</h1>
        <div class="actions">
          <button type="button" onClick={() => void poll()}>
            Refresh
          </button>
        </div>
      </div>
      <ErrorAlert message={error} />
      {hooks && hooks.length === 0 && <p data-testid="no-hooks">No webhooks. Add one below: the node then POSTs every profile change to it, signed, and retries until it answers.</p>}
      {hooks && hooks.length > 0 && (
        <Grid testId="hooks-table" caption="Webhooks" columns={['Webhook', 'State', 'Events', 'Delivered', 'Given up', 'Pending']} actions>
          {hooks.map((h) => {
            const st = hookState(h);
            return (
              <tr key={h.id} data-hook={h.id} data-tone={st.tone} aria-current={h.id === selected ? 'true' : undefined}>
                <th scope="row">
                  <a href={href({ name: 'webhooks', id: h.id })}>{h.name ?? h.id}</a>
                  <div class="detail">
                    <code>{h.url}</code>
                  </div>
                </th>
                <td class={`state-${st.tone}`} data-testid="hook-state">
                  {st.label}
                </td>
                <td>{h.events?.join(', ') ?? 'all'}</td>
                <td data-testid="hook-delivered">{h.status.delivered}</td>
                <td data-testid="hook-failed">{h.status.failed}</td>
                <td>{h.status.pending}</td>
                <td class="row-actions">
                  <a href={href({ name: 'webhooks', id: h.id })} class="link" aria-label={`Deliveries of ${h.name ?? h.id}`}>
                    Deliveries
                  </a>{' '}
                  <RemoveOrConfig source={h.source} label={`webhook ${h.name ?? h.id}`} onRemove={() => setRemoving(h)} />
                </td>
              </tr>
            );
          })}
        </Grid>
      )}
      {current && <Deliveries hook={current} />}
      <AddWebhook
        onAdded={async (id) => {
          await poll();
          navigate({ name: 'webhooks', id });
        }}
      />
      {removing && (
        <Dialog
          title={`Remove webhook ${removing.name ?? removing.id}?`}
          confirmLabel="Remove"
          danger
          testId="remove-hook-dialog"
          onClose={() => setRemoving(undefined)}
          onConfirm={async () => {
            await api.removeWebhook(removing.id);
            announce(`Removed webhook ${removing.name ?? removing.id}. Its pending deliveries are dropped.`);
            if (selected === removing.id) navigate({ name: 'webhooks' });
            await poll();
          }}
        >
          <p>
            The node stops POSTing changes to <code>{removing.url}</code>; deliveries still pending for it are dropped.
          </p>
        </Dialog>
      )}
    </section>
  );
}
