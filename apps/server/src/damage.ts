/**
 * What an operator sees of damaged data (issue 11.2/11.3): every finding is logged once (error
 * level, with the profile and what was found), `/readyz` lists a degraded reason while anything
 * is damaged (code STORAGE_DAMAGED; it stays 200 `{ ready: true, degraded: true, reasons }`: the
 * node still serves every intact profile, and taking a single node out of rotation for one bad
 * profile would take every good one with it; damaged ones answer 503 PROFILE_DAMAGED), and `/metrics` has
 * `profilesync_damaged_profiles`, `profilesync_damage_findings_total{kind}` and
 * `profilesync_profile_repairs_total{source}`. A repair (from a peer over /sync, or from a backup
 * with `verify --repair --from`) clears the profile's entry.
 */
import type { Logger } from 'pino';
import { Counter, Gauge } from 'prom-client';
import type { ProfileStoreImpl } from '@profilesync/core';
import type { EventLog } from '@profilesync/log';
import type { Readiness } from './readiness.js';
import type { ServerMetrics } from './metrics.js';

export function watchDamage(o: { log: EventLog; store: ProfileStoreImpl; readiness: Readiness; logger: Logger; metrics: ServerMetrics }): () => void {
  const { log, store, readiness, logger, metrics } = o;
  const registers = [metrics.registry];
  new Gauge({
    name: 'profilesync_damaged_profiles',
    help: 'profiles whose stored data is known to be damaged (answered with PROFILE_DAMAGED until repaired)',
    registers,
    collect(this: Gauge) {
      this.set(store.damaged().profiles.length);
    },
  });
  new Gauge({
    name: 'profilesync_damage_node_findings',
    help: 'damage findings that belong to no profile (seal, write-ahead log, audit stream, unnamed streams)',
    registers,
    collect(this: Gauge) {
      this.set(store.damaged().node.length);
    },
  });
  const findings = new Counter({ name: 'profilesync_damage_findings_total', help: 'damage found (at open, by reads, by verify) by kind', labelNames: ['kind'], registers });
  const repairs = new Counter({ name: 'profilesync_profile_repairs_total', help: 'damaged profiles rebuilt as a new chain segment, by source (peer:<id>, backup)', labelNames: ['source'], registers });

  // what the open found (before anyone could subscribe)
  const initial = store.damaged();
  for (const p of initial.profiles) {
    for (const f of p.findings) findings.inc({ kind: f.kind });
    logger.error({ profile: p.id, findings: p.findings }, 'profile damaged: answered with PROFILE_DAMAGED until repaired');
  }
  for (const f of initial.node) {
    findings.inc({ kind: f.kind });
    logger.error({ stream: f.stream || undefined, kind: f.kind, detail: f.message }, 'storage damage found');
  }
  // what the open repaired itself (a rebuilt MANIFEST): counted and logged, not a lasting degradation
  for (const f of initial.repaired) {
    findings.inc({ kind: f.kind });
    logger.warn({ kind: f.kind, detail: f.message }, 'storage damage found and repaired at open');
  }
  const offs = [
    log.on('damaged', (d) => {
      findings.inc({ kind: d.kind });
      if (d.stream === '' || d.stream.startsWith('#')) logger.error({ stream: d.stream || undefined, kind: d.kind, detail: d.message }, 'storage damage found');
      else logger.error({ profile: d.stream, kind: d.kind, seq: d.seq, detail: d.message }, 'profile damaged: answered with PROFILE_DAMAGED until repaired');
    }),
    store.on('audit-restarted', (e) => {
      logger.warn({ kept: e.kept, lost: e.lost }, "the '#audit' stream was damaged and is written again as a new segment");
    }),
    store.on('profile-repaired', (e) => {
      const source = e.source.startsWith('peer:') ? 'peer' : e.source;
      repairs.inc({ source });
      logger.warn({ profile: e.id, source: e.source, durationMillis: Math.round(e.durationMillis) }, 'damaged profile repaired (new chain segment)');
    }),
    readiness.register('storage', () => {
      let d: ReturnType<ProfileStoreImpl['damaged']>;
      try {
        d = store.damaged();
      } catch {
        return undefined; // closed: the store check says so
      }
      if (d.profiles.length === 0 && d.node.length === 0) return undefined;
      const ids = d.profiles.map((p) => p.id);
      const parts: string[] = [];
      if (ids.length > 0) parts.push(`${ids.length} damaged profile(s): ${ids.slice(0, 10).join(', ')}${ids.length > 10 ? ', ...' : ''}`);
      if (d.node.length > 0) parts.push(`${d.node.length} node-level finding(s): ${d.node.slice(0, 3).map((f) => f.kind).join(', ')}`);
      return { code: 'STORAGE_DAMAGED', degraded: true, message: `${parts.join('; ')} (GET /api/damage; repaired from a peer, or with profilesync verify --repair --from BACKUP)` };
    }),
  ];
  return () => {
    for (const off of offs) off();
  };
}
