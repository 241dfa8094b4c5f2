/**
 * Peers (admin): this node's key (for the other side), add a peer (paste its URL and key, then
 * confirm its fingerprint before anything is stored), remove one, each peer's state in words
 * (connected; refused our key; unreachable; backing off until ...), lag in human units, "never"
 * for a peer never seen, and "Sync now" with a message that says what happened.
 */
import { useState } from 'preact/hooks';
import { errorText } from '../lib/api.js';
import { lagText, peerState, seenText, syncMessage } from '../lib/peers.js';
import type { PeerInfo, PeersResponse } from '../lib/types.js';
import { useApp } from './context.js';
import { Dialog } from './Dialog.js';
import { ErrorAlert, Grid, RemoveOrConfig, usePolling } from './parts.js';
import { ClusterPanel } from './ClusterPanel.js';
import { announce, announceError } from './status.js';

const POLL_MS = 2000;

async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false; // not a secure context, or denied: the text stays selectable
  }
}

function ThisNode({ self }: { self: NonNullable<PeersResponse['self']> }) {
  const syncUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/sync`;
  return (
    <section class="card this-node" aria-labelledby="self-title">
      <h2 id="self-title">This node</h2>
      <p>
        Give the other node this URL and key (on its Peers page, or <code>profilesync peer add {syncUrl} --key KEY</code>). Its fingerprint here must match what the other side shows.
      </p>
      <dl class="facts">
        <dt>Sync URL</dt>
        <dd>
          <code data-testid="self-url">{syncUrl}</code>
        </dd>
        <dt>Public key</dt>
        <dd>
          <code data-testid="self-key">{self.publicKey}</code>{' '}
          <button type="button" class="link" onClick={async () => announce((await copyText(self.publicKey)) ? 'Copied the public key.' : 'Select the key and copy it (the clipboard is not available here).')}>
            Copy key
          </button>
        </dd>
        <dt>Fingerprint</dt>
        <dd>
          <code data-testid="self-fingerprint">{self.fingerprint}</code>
        </dd>
      </dl>
    </section>
  );
}

type Candidate = PeerInfo & { key: string };

function AddPeer({ onAdded }: { onAdded: () => Promise<void> }) {
  const { api } = useApp();
  const [f, setF] = useState({ url: '', key: '', name: '' });
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const [candidate, setCandidate] = useState<Candidate | undefined>();
  const input = () => ({ url: f.url.trim(), key: f.key.trim(), ...(f.name.trim() ? { name: f.name.trim() } : {}) });
  const check = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      setCandidate(await api.previewPeer(input()));
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="card" aria-labelledby="add-peer-title">
      <h2 id="add-peer-title">Add a peer</h2>
      <form onSubmit={check} class="form-grid" aria-describedby="add-peer-help">
        <p id="add-peer-help" class="span">
          Paste the other node's sync URL and public key (<code>profilesync keys show</code> on it, or "This node" on its Peers page). You confirm its fingerprint before it is added.
        </p>
        <label for="peer-url">Peer URL</label>
        <input id="peer-url" required value={f.url} placeholder="ws://10.0.0.2:7878/sync" onInput={(e) => setF({ ...f, url: e.currentTarget.value })} />
        <label for="peer-key">Public key</label>
        <input id="peer-key" required value={f.key} placeholder="43 characters" spellcheck={false} autocomplete="off" onInput={(e) => setF({ ...f, key: e.currentTarget.value })} />
        <label for="peer-name">Name (optional)</label>
        <input id="peer-name" value={f.name} placeholder="edge-eu" onInput={(e) => setF({ ...f, name: e.currentTarget.value })} />
        <span />
        <div class="actions">
          <button type="submit" class="primary" disabled={busy}>
            {busy ? 'Checking…' : 'Check and add…'}
          </button>
        </div>
      </form>
      <ErrorAlert message={error} />
      {candidate && (
        <Dialog
          title="Add this peer?"
          confirmLabel="Add peer"
          testId="add-peer-dialog"
          onClose={() => setCandidate(undefined)}
          onConfirm={async () => {
            const added = await api.addPeer(input());
            announce(`Added peer ${added.name ?? added.id} (fingerprint ${added.fingerprint}).`);
            setF({ url: '', key: '', name: '' });
            await onAdded();
          }}
        >
          <p>Compare this fingerprint with the one the other node shows for itself. Add the peer only if they are the same.</p>
          <dl class="facts">
            <dt>Fingerprint</dt>
            <dd>
              <code class="fingerprint" data-testid="candidate-fingerprint">
                {candidate.fingerprint}
              </code>
            </dd>
            <dt>URL</dt>
            <dd>
              <code>{candidate.url}</code>
            </dd>
            <dt>Peer id</dt>
            <dd>
              <code>{candidate.id}</code>
            </dd>
          </dl>
        </Dialog>
      )}
    </section>
  );
}

export function Peers() {
  const { api } = useApp();
  const [data, setData] = useState<PeersResponse | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [syncing, setSyncing] = useState(false);
  const [removing, setRemoving] = useState<PeerInfo | undefined>();
  const [now, setNow] = useState(Date.now());

  const poll = async () => {
    try {
      setData(await api.peers());
      setNow(Date.now());
      setError(undefined);
    } catch (err) {
      setError(errorText(err));
    }
  };
  usePolling(poll, POLL_MS);

  const syncNow = async () => {
    setSyncing(true);
    try {
      const r = await api.syncNow();
      const fresh = await api.peers().catch(() => data);
      if (fresh) setData(fresh);
      const m = syncMessage(r, fresh?.peers ?? data?.peers ?? []);
      announce(m.text, m.kind);
    } catch (err) {
      announceError(err, 'Sync');
    } finally {
      setSyncing(false);
    }
  };

  const available = data?.sync !== 'unavailable';
  return (
    <section aria-labelledby="peers-title">
      <div class="page-head">
        <h1 id="peers-title">Peers</h1>
        <div class="actions">
          <button type="button" onClick={() => void poll()}>
            Refresh
          </button>
          <button type="button" class="primary" onClick={syncNow} disabled={syncing || !available}>
            {syncing ? 'Syncing…' : 'Sync now'}
          </button>
        </div>
      </div>
      <ErrorAlert message={error} />
      <ClusterPanel />
      {data && !available && <p class="note">Peer sync is not running on this node (SYNC_UNAVAILABLE): peers are listed from its configuration only and nothing is dialed.</p>}
      {data && data.peers.length === 0 && <p data-testid="no-peers">No peers yet. Add one below; this node then dials it and keeps both in sync.</p>}
      {data && data.peers.length > 0 && (
        <Grid testId="peers-table" caption="Peers" columns={['Peer', 'State', 'Fingerprint', 'URL', 'Last seen', 'Behind']} actions>
          {data.peers.map((p) => {
            const st = peerState(p, available, now);
            return (
              <tr key={p.id} data-peer={p.id} data-tone={st.tone}>
                <th scope="row">
                  {p.name ?? p.id} <span class="muted">({p.id})</span>
                </th>
                <td>
                  <span class={`state-${st.tone}`} data-testid="peer-state">
                    <span aria-hidden="true">{st.tone === 'ok' ? '● ' : st.tone === 'bad' ? '✖ ' : '○ '}</span>
                    {st.label}
                  </span>
                  <div class="detail" data-testid="peer-detail">
                    {st.detail}
                  </div>
                </td>
                <td>
                  <code>{p.fingerprint}</code>
                </td>
                <td>
                  <code>{p.url}</code>
                </td>
                <td data-testid="peer-seen">{seenText(p.lastSeen, now)}</td>
                <td data-testid="peer-lag">
                  {p.connected || p.lastSeen !== null || (p.lagMillis ?? 0) > 0 ? lagText(p.lagMillis) : '—'}
                  {p.pending > 0 ? ` · ${p.pending} pending` : ''}
                </td>
                <td class="row-actions">
                  <RemoveOrConfig source={p.source} label={`peer ${p.name ?? p.id}`} onRemove={() => setRemoving(p)} />
                </td>
              </tr>
            );
          })}
        </Grid>
      )}
      {data?.self && <ThisNode self={data.self} />}
      <AddPeer onAdded={poll} />
      {removing && (
        <Dialog
          title={`Remove peer ${removing.name ?? removing.id}?`}
          confirmLabel="Remove"
          danger
          testId="remove-peer-dialog"
          onClose={() => setRemoving(undefined)}
          onConfirm={async () => {
            await api.removePeer(removing.id);
            announce(`Removed peer ${removing.name ?? removing.id}. Profiles stay; this node stops syncing with it.`);
            await poll();
          }}
        >
          <p>
            This node stops dialing <code>{removing.url}</code> and refuses its key. Profiles already exchanged stay on both nodes.
          </p>
        </Dialog>
      )}
    </section>
  );
}
