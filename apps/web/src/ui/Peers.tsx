/** Peers panel: connected peers, key fingerprints, last seen, pending updates; one-shot sync. */
import { useState } from 'preact/hooks';
import { errorText } from '../lib/api.js';
import { when } from '../lib/format.js';
import type { PeerInfo } from '../lib/types.js';
import { useApp } from './context.js';
import { ErrorAlert, Grid, usePolling } from './parts.js';
import { announce, announceError } from './status.js';

const POLL_MS = 5000;

export function Peers() {
  const { api } = useApp();
  const [data, setData] = useState<{ sync?: string; peers: PeerInfo[] } | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [syncing, setSyncing] = useState(false);

  const poll = async () => {
    try {
      setData(await api.peers());
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
      const failed = r.peers.filter((p) => !p.ok);
      announce(r.converged ? `Sync converged with ${r.peers.length} peer(s) in ${Math.round(r.durationMillis)} ms.` : `Sync did not converge: ${failed.map((p) => `${p.id} ${p.code ?? ''}`).join(', ')}`, r.converged ? 'info' : 'error');
      await poll();
    } catch (err) {
      announceError(err, 'Sync');
    } finally {
      setSyncing(false);
    }
  };

  return (
    <section aria-labelledby="peers-title">
      <div class="page-head">
        <h1 id="peers-title">Peers</h1>
        <div class="actions">
          <button type="button" onClick={() => void poll()}>
            Refresh
          </button>
          <button type="button" class="primary" onClick={syncNow} disabled={syncing || data?.sync === 'unavailable'}>
            {syncing ? 'Syncing…' : 'Sync now'}
          </button>
        </div>
      </div>
      <ErrorAlert message={error} />
      {data?.sync === 'unavailable' && <p class="note">Peer sync is not running on this node (SYNC_UNAVAILABLE): peers are listed from its configuration only.</p>}
      {data && data.peers.length === 0 && <p>No peers configured. Add one with <code>profilesync peer add URL --key PUBKEY</code>.</p>}
      {data && data.peers.length > 0 && (
        <Grid testId="peers-table" caption="Peers" columns={['Peer', 'State', 'Fingerprint', 'URL', 'Last seen', 'Pending']}>
          {data.peers.map((p) => (
            <tr key={p.id}>
              <th scope="row">
                {p.name ?? p.id} <span class="muted">({p.id})</span>
              </th>
              <td>
                <span class={p.connected ? 'state-ok' : 'state-off'}>
                  <span aria-hidden="true">{p.connected ? '● ' : '○ '}</span>
                  {p.connected ? 'connected' : 'disconnected'}
                </span>
              </td>
              <td>
                <code>{p.fingerprint}</code>
              </td>
              <td>
                <code>{p.url}</code>
              </td>
              <td>{when(p.lastSeen)}</td>
              <td>
                {p.pending}
                {p.lagMillis !== undefined && p.lagMillis > 0 ? ` (${Math.round(p.lagMillis)} ms behind)` : ''}
              </td>
            </tr>
          ))}
        </Grid>
      )}
    </section>
  );
}
