/**
 * The log's own trouble that is not damage (damage.ts has that): what an operator must see
 * although the node keeps serving. Each is logged at warn and counted in
 * `profilesync_log_faults_total{kind}`:
 * - `seal-failed`: a background write of the commit seal failed (retried; a node that stops
 *   before one succeeds checks its WAL tail against an older seal at the next start);
 * - `reopened`: the database was reopened after a failed batch (LevelDB refuses writes after a
 *   failed sync; the batch's writers got the error);
 * - `corruption`: background work (a snapshot, a view) met a bad record and fell back to replay;
 * - `snapshot-thread-failed`: the snapshot worker thread could not start or died; snapshots are
 *   built on the main thread from then on (same bytes, more main-thread CPU).
 */
import type { Logger } from 'pino';
import { Counter } from 'prom-client';
import type { EventLog } from '@profilesync/log';
import type { ServerMetrics } from './metrics.js';

export function watchLogHealth(o: { log: EventLog; logger: Logger; metrics: ServerMetrics }): () => void {
  const { log, logger, metrics } = o;
  const faults = new Counter({ name: 'profilesync_log_faults_total', help: "the log's own faults that are not damage, by kind (seal-failed, reopened, corruption, snapshot-thread-failed)", labelNames: ['kind'], registers: [metrics.registry] });
  for (const kind of ['seal-failed', 'reopened', 'corruption', 'snapshot-thread-failed']) faults.inc({ kind }, 0);
  const offs = [
    log.on('seal-failed', (e) => {
      faults.inc({ kind: 'seal-failed' });
      logger.warn({ detail: e.message }, 'commit seal write failed (retried)');
    }),
    log.on('reopened', (e) => {
      faults.inc({ kind: 'reopened' });
      logger.warn({ durationMillis: Math.round(e.durationMillis) }, 'database reopened after a failed batch');
    }),
    log.on('corruption', (e) => {
      faults.inc({ kind: 'corruption' });
      logger.warn({ stream: e.stream, seq: e.seq, kind: e.kind, detail: e.message }, 'bad record met by background work (replayed instead)');
    }),
    log.on('snapshot-thread-failed', (e) => {
      faults.inc({ kind: 'snapshot-thread-failed' });
      logger.warn({ detail: e.message }, 'snapshot thread failed: snapshots are built on the main thread from now on');
    }),
  ];
  return () => {
    for (const off of offs) off();
  };
}
