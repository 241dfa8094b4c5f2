/**
 * The fleet this node belongs to (GET /api/cluster), on the Peers page: one line about the bus
 * and this node, and the members with their URLs, state and last heartbeat. Renders nothing for
 * a node without a bus (and for tokens that may not read it).
 */
import { useState } from 'preact/hooks';
import { clusterSummary, memberState, type ClusterResponse } from '../lib/cluster.js';
import { seenText } from '../lib/peers.js';
import { useApp } from './context.js';
import { Grid, usePolling } from './parts.js';

const POLL_MS = 2000;

export function ClusterPanel() {
  const { api } = useApp();
  const [data, setData] = useState<ClusterResponse | undefined>();
  const [now, setNow] = useState(Date.now());
  usePolling(async () => {
    try {
      setData(await api.cluster());
      setNow(Date.now());
    } catch {
      setData(undefined); // an older node, or no access: no panel
    }
  }, POLL_MS);
  const summary = data && clusterSummary(data);
  if (!data || !summary) return null;
  return (
    <section class="card cluster" aria-labelledby="cluster-title" data-testid="cluster-panel">
      <h2 id="cluster-title">Fleet</h2>
      <p class={`state-${summary.tone}`} data-testid="cluster-summary">
        <span aria-hidden="true">{summary.tone === 'ok' ? '● ' : summary.tone === 'bad' ? '✖ ' : '○ '}</span>
        {summary.headline}
      </p>
      <p class="detail">{summary.detail}</p>
      <Grid testId="cluster-members" caption="Fleet members" columns={['Member', 'State', 'URL', 'Fingerprint', 'Heartbeat']}>
        {data.members.map((m) => {
          const st = memberState(m);
          return (
            <tr key={m.id} data-member={m.id} data-tone={st.tone}>
              <th scope="row">
                <code>{m.id}</code> {m.self && <span class="muted">(this node)</span>}
              </th>
              <td class={`state-${st.tone}`}>{st.label}</td>
              <td>
                <code>{m.url}</code>
              </td>
              <td>
                <code>{m.fingerprint ?? ''}</code>
              </td>
              <td>{m.self ? '—' : seenText(m.lastSeen, now)}</td>
            </tr>
          );
        })}
      </Grid>
    </section>
  );
}
