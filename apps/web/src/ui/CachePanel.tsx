/**
 * Cache panel: per-cache hits, misses, hit rate, size, evictions (GET /api/cache/stats polled
 * every few seconds), a hit-rate chart over time (samples kept in memory for the tab's life),
 * and clear buttons (all caches or one) after a confirmation.
 */
import { useState } from 'preact/hooks';
import type { CacheStatsSnapshot } from '@profilesync/core';
import { errorText } from '../lib/api.js';
import { colorFor, percent } from '../lib/format.js';
import { roleAllows } from '../lib/session.js';
import { HitRateHistory, linePath } from '../lib/series.js';
import { useApp } from './context.js';
import { Dialog } from './Dialog.js';
import { ErrorAlert, Grid, usePolling } from './parts.js';
import { announce } from './status.js';

const POLL_MS = 3000;
/** survives leaving and re-opening the panel */
const history = new HitRateHistory();

function Chart({ tick }: { tick: number }) {
  const W = 600;
  const H = 160;
  const names = history.names();
  const samples = history.samples;
  const last = samples[samples.length - 1];
  const summary = names.map((n) => `${n} ${last?.rates[n] !== undefined ? percent(last.rates[n]!) : 'n/a'}`).join(', ');
  return (
    <figure class="chart" data-tick={tick}>
      <svg viewBox={`-40 -10 ${W + 50} ${H + 30}`} role="img" aria-label={`Hit rate over time (${samples.length} samples). Latest: ${summary || 'no data yet'}`} data-testid="hit-rate-chart">
        {[0, 0.25, 0.5, 0.75, 1].map((r) => (
          <g key={r}>
            <line x1={0} x2={W} y1={H - r * H} y2={H - r * H} class="gridline" />
            <text x={-6} y={H - r * H + 4} text-anchor="end" class="axis">
              {r * 100}%
            </text>
          </g>
        ))}
        {samples.length > 0 && (
          <>
            <text x={0} y={H + 18} class="axis">
              {new Date(samples[0]!.at).toLocaleTimeString()}
            </text>
            <text x={W} y={H + 18} text-anchor="end" class="axis">
              {new Date(samples[samples.length - 1]!.at).toLocaleTimeString()}
            </text>
          </>
        )}
        {names.map((n, i) => (
          <path key={n} d={linePath(samples, n, W, H)} fill="none" stroke={colorFor(n).color} stroke-width={2} stroke-dasharray={i % 2 === 1 ? '6 3' : undefined} />
        ))}
      </svg>
      <figcaption>
        <ul class="legend">
          {names.map((n, i) => (
            <li key={n}>
              <svg width="24" height="8" aria-hidden="true">
                <line x1="0" x2="24" y1="4" y2="4" stroke={colorFor(n).color} stroke-width="2" stroke-dasharray={i % 2 === 1 ? '6 3' : undefined} />
              </svg>{' '}
              {n}
            </li>
          ))}
        </ul>
        <span class="muted">Hit rate of each {POLL_MS / 1000} s interval (hits ÷ lookups since the previous poll; unchanged when idle), while this panel is open; kept in this tab's memory.</span>
      </figcaption>
    </figure>
  );
}

export function CachePanel() {
  const { api, session } = useApp();
  const [caches, setCaches] = useState<CacheStatsSnapshot[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [tick, setTick] = useState(0);
  const [clearing, setClearing] = useState<{ name?: string } | undefined>();
  const canClear = roleAllows(session.role, 'operate');

  const poll = async () => {
    try {
      const c = await api.cacheStats();
      history.add(Date.now(), c);
      setCaches(c);
      setError(undefined);
      setTick((t) => t + 1);
    } catch (err) {
      setError(errorText(err));
    }
  };
  usePolling(poll, POLL_MS);

  return (
    <section aria-labelledby="cache-title">
      <div class="page-head">
        <h1 id="cache-title">Caches</h1>
        <div class="actions">
          <button type="button" onClick={() => void poll()}>
            Refresh
          </button>
          {canClear && (
            <button type="button" class="danger" onClick={() => setClearing({})}>
              Clear all caches
            </button>
          )}
        </div>
      </div>
      <ErrorAlert message={error} />
      {caches && (
        <Grid testId="cache-table" class="numbers" caption="Cache statistics" columns={['Cache', 'Hits', 'Misses', 'Hit rate', 'Size', 'Evictions', 'TTL']} actions={canClear}>
          {caches.map((c) => (
            <tr key={c.name} data-cache={c.name}>
              <th scope="row">
                <code>{c.name}</code>
              </th>
              <td>{c.hits.toLocaleString()}</td>
              <td>{c.misses.toLocaleString()}</td>
              <td>{percent(c.hit_rate)}</td>
              <td>
                {c.size.toLocaleString()}
                {typeof c.bytes === 'number' ? ` (${(c.bytes / 1024).toFixed(1)} KiB${typeof c.maxBytes === 'number' ? ` of ${(c.maxBytes / 1048576).toFixed(0)} MiB` : ''})` : ''}
              </td>
              <td>{c.evictions.toLocaleString()}</td>
              <td>{c.ttl === null ? 'none' : `${c.ttl} ms`}</td>
              {canClear && (
                <td>
                  <button type="button" class="link danger" onClick={() => setClearing({ name: c.name })} aria-label={`Clear cache ${c.name}`}>
                    Clear
                  </button>
                </td>
              )}
            </tr>
          ))}
        </Grid>
      )}
      <h2>Hit rate over time</h2>
      <Chart tick={tick} />
      {clearing && (
        <Dialog
          title={clearing.name ? `Clear cache ${clearing.name}?` : 'Clear all caches?'}
          confirmLabel="Clear"
          danger
          testId="clear-dialog"
          onClose={() => setClearing(undefined)}
          onConfirm={async () => {
            const cleared = await api.clearCache(clearing.name);
            announce(`Cleared: ${cleared.join(', ') || 'nothing'}.`);
            await poll();
          }}
        >
          <p>Entries are dropped; readers refill them from disk (slower until warm again). Counters are kept. The clear is audited.</p>
        </Dialog>
      )}
    </section>
  );
}
