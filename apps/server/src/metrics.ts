/**
 * Prometheus metrics (prom-client), one Registry per server instance. The server observes
 * HTTP requests; everything else is read at scrape time (cache stats, sync status) or
 * counted from the log's typed events (batch-committed, batch-failed). Nothing here is
 * imported by core or the log.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CacheStatsSnapshot } from '@profilesync/core';
import type { PeerStatus, SyncMount } from './sync-mount.js';

/** The slice of the event log the metrics subscribe to. */
export interface LogEventSource {
  on(event: 'batch-committed', listener: (e: { entries: number; streams: number; bytes: number; durationMillis: number }) => void): () => void;
  on(event: 'batch-failed', listener: (e: { entries: number; code: string; durationMillis: number }) => void): () => void;
  on(event: 'snapshot-written' | 'rest-written', listener: (e: { bytes: number; durationMillis: number }) => void): () => void;
  info?(): { openedFrom: string; openMillis: number };
}

/** The slice of the store's typed events the metrics subscribe to. */
export interface StoreEventSource {
  on(event: 'profile-written', listener: (e: { action: string; durationMillis: number }) => void): () => void;
  on(event: 'write-rejected', listener: (e: { code: string }) => void): () => void;
  on(event: 'document-loaded', listener: (e: { durationMillis: number }) => void): () => void;
  on(event: 'view-loaded', listener: (e: { source: string; durationMillis: number }) => void): () => void;
  on(event: 'conflict-recorded', listener: (e: { path: string }) => void): () => void;
  on(event: 'version-closed', listener: (e: { reason: string; actors: number; fields: number; durationMillis: number }) => void): () => void;
  on(event: 'version-close-failed', listener: (e: { code: string }) => void): () => void;
  on(event: 'profile-migrated', listener: (e: { durationMillis: number }) => void): () => void;
  on(event: 'rendered', listener: (e: { ok: boolean; missing: number; durationMillis: number }) => void): () => void;
  on(event: 'conflict-detected', listener: (e: { kind: string }) => void): () => void;
  on(event: 'conflict-resolved', listener: (e: { keep: string }) => void): () => void;
  /** open conflict records over every profile (read at scrape) */
  openConflicts?(): { records: number; profiles: number };
}

/** What webhooks expose to metrics. */
export interface WebhookSource {
  list(): { id: string; status: { pending: number } }[];
  onAttempt(listener: (a: { outcome: string; durationMillis: number }, hook: { id: string }) => void): () => void;
}

/** What the change feed exposes to metrics. */
export interface ChangeFeedSource {
  stats(): { connections: number; opened: number; events: number; dropped: number } | undefined;
  pending(): number;
}

/** The slice of the live-connection registry the metrics read and subscribe to. */
export interface LiveSource {
  count(): Map<string, number>;
  on(listener: (e: { type: 'revoked' | 'changed'; kind: string; outcome: 'closed' | 'kept' }) => void): () => void;
  onRefused(listener: (e: { kind: string }) => void): () => void;
}

export interface MetricsSources {
  caches: () => Promise<CacheStatsSnapshot[]>;
  peers: () => PeerStatus[] | undefined;
}

/** Buckets of durable-write latencies (an fsync batch, one profile change). */
const WRITE_SECONDS_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

/**
 * The `collect` of a metric read at scrape time: fetch the data, reset the metric, then
 * `fill` it (nothing is filled while `read` gives undefined, e.g. sync not available).
 */
function atScrape<M extends { reset(): void }, D>(read: () => D | undefined | Promise<D | undefined>, fill: (metric: M, data: D) => void) {
  return async function collect(this: M): Promise<void> {
    const data = await read();
    this.reset();
    if (data !== undefined) fill(this, data);
  };
}

export class ServerMetrics {
  readonly registry = new Registry();
  readonly contentType: string;
  #http: Histogram<'route' | 'method' | 'status'>;
  #appends: Counter;
  #batchEntries: Histogram;
  #batchSeconds: Histogram;
  #batchFailures: Counter<'code'>;
  #derived: Counter<'kind'>;
  #logOpen: Gauge<'from'>;
  #denials: Counter<'reason' | 'endpoint'>;
  #backups: Counter<'kind' | 'outcome'>;
  #backupSeconds: Gauge<'kind'>;
  #backupBytes: Gauge<'kind'>;
  #backupLastSuccess: Gauge<'kind'>;
  #unsubscribe: (() => void)[] = [];

  constructor(sources: MetricsSources, opts: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.contentType = this.registry.contentType;
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'profilesync_' });

    this.#http = new Histogram({
      name: 'profilesync_http_request_duration_seconds',
      help: 'HTTP request latency by route pattern, method and status',
      labelNames: ['route', 'method', 'status'],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });

    const cacheCounter = (name: string, help: string, pick: (c: CacheStatsSnapshot) => number) =>
      new Counter({
        name,
        help,
        labelNames: ['cache'],
        registers,
        collect: atScrape(sources.caches, (m: Counter<'cache'>, caches) => {
          for (const c of caches) m.inc({ cache: c.name }, Math.max(0, pick(c)));
        }),
      });
    const cacheGauge = (name: string, help: string, pick: (c: CacheStatsSnapshot) => number | undefined) =>
      new Gauge({
        name,
        help,
        labelNames: ['cache'],
        registers,
        collect: atScrape(sources.caches, (m: Gauge<'cache'>, caches) => {
          for (const c of caches) {
            const v = pick(c);
            if (v !== undefined && Number.isFinite(v)) m.set({ cache: c.name }, v);
          }
        }),
      });
    cacheCounter('profilesync_cache_hits_total', 'cache hits', (c) => c.hits);
    cacheCounter('profilesync_cache_misses_total', 'cache misses', (c) => c.misses);
    cacheCounter('profilesync_cache_evictions_total', 'cache evictions', (c) => c.evictions);
    cacheGauge('profilesync_cache_entries', 'entries held by the cache', (c) => c.size);
    cacheGauge('profilesync_cache_bytes', 'bytes held by the cache (where known)', (c) => c.bytes);
    cacheGauge('profilesync_cache_hit_ratio', 'hits / (hits + misses)', (c) => c.hit_rate);

    this.#appends = new Counter({ name: 'profilesync_log_appends_total', help: 'entries made durable by the log', registers });
    this.#batchEntries = new Histogram({
      name: 'profilesync_log_batch_entries',
      help: 'entries per fsync batch (group commit size)',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
      registers,
    });
    this.#batchSeconds = new Histogram({
      name: 'profilesync_log_batch_duration_seconds',
      help: 'time to write and fsync one batch',
      buckets: WRITE_SECONDS_BUCKETS,
      registers,
    });
    this.#batchFailures = new Counter({ name: 'profilesync_log_batch_failures_total', help: 'batches the log failed to write', labelNames: ['code'], registers });
    this.#derived = new Counter({
      name: 'profilesync_log_states_written_total',
      help: 'merged profile states the log wrote in the background: kind="snapshot" (snapshot policy points), kind="rest" (rest states of quiet streams and at a clean stop)',
      labelNames: ['kind'],
      registers,
    });
    for (const kind of ['snapshot', 'rest']) this.#derived.inc({ kind }, 0);
    this.#logOpen = new Gauge({ name: 'profilesync_log_open_seconds', help: 'how long the log took to open at start; from: open-index (a clean stop wrote it) or scan (every catalog and head record read)', labelNames: ['from'], registers });

    this.#denials = new Counter({
      name: 'profilesync_auth_denied_total',
      help: 'requests and connections refused for authentication or authorization (every one, also those whose audit record was rate-limited)',
      labelNames: ['reason', 'endpoint'],
      registers,
    });

    this.#backups = new Counter({ name: 'profilesync_backups_total', help: 'backups by kind (online: POST /api/backup; scheduled) and outcome (ok, failed)', labelNames: ['kind', 'outcome'], registers });
    this.#backupSeconds = new Gauge({ name: 'profilesync_backup_last_duration_seconds', help: 'duration of the last successful backup by kind', labelNames: ['kind'], registers });
    this.#backupBytes = new Gauge({ name: 'profilesync_backup_last_bytes', help: 'size of the last successful backup by kind', labelNames: ['kind'], registers });
    this.#backupLastSuccess = new Gauge({ name: 'profilesync_backup_last_success_timestamp_seconds', help: 'when the last successful backup of each kind finished (unix seconds); alert when it gets old', labelNames: ['kind'], registers });

    const peerGauge = (name: string, help: string, labelNames: 'peer'[], fill: (g: Gauge<'peer'>, peers: PeerStatus[]) => void) =>
      new Gauge({ name, help, labelNames, registers, collect: atScrape(sources.peers, fill) });
    peerGauge('profilesync_sync_peers_connected', 'peers with an open sync session (absent until sync is available)', [], (g, peers) => g.set(peers.filter((p) => p.connected).length));
    peerGauge('profilesync_sync_peers_configured', 'peers this node syncs with', [], (g, peers) => g.set(peers.length));
    peerGauge('profilesync_sync_peer_pending_updates', 'updates queued for a peer', ['peer'], (g, peers) => {
      for (const p of peers) g.set({ peer: p.id }, p.pending);
    });
    peerGauge('profilesync_sync_peer_lag_seconds', 'how far behind a peer is (when known)', ['peer'], (g, peers) => {
      for (const p of peers) if (typeof p.lagMillis === 'number') g.set({ peer: p.id }, p.lagMillis / 1000);
    });
  }

  /** Subscribes to the store's typed events (writes, rejections, cold loads, conflicts). */
  attachStore(store: StoreEventSource): void {
    const registers = [this.registry];
    const writes = new Counter({ name: 'profilesync_profile_writes_total', help: 'durable profile changes by action', labelNames: ['action'], registers });
    const writeSeconds = new Histogram({ name: 'profilesync_profile_write_duration_seconds', help: 'validate + apply + durable append of one change', buckets: WRITE_SECONDS_BUCKETS, registers });
    const rejected = new Counter({ name: 'profilesync_profile_writes_rejected_total', help: 'changes refused (nothing written) by code', labelNames: ['code'], registers });
    const loads = new Histogram({ name: 'profilesync_profile_cold_load_seconds', help: 'cold loads: a view into the hot cache (kind=view) or a live Y.Doc (kind=doc)', labelNames: ['kind'], buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25], registers });
    const conflicts = new Counter({ name: 'profilesync_profile_conflicts_total', help: 'live updates that overwrote a scalar another writer set concurrently (audit action conflict)', registers });
    const detected = new Counter({ name: 'profilesync_conflicts_detected_total', help: 'conflicts found when a diverged state was merged (sync step 2, /yjs reconnect, bus republish, log import), by kind', labelNames: ['kind'], registers });
    const resolved = new Counter({ name: 'profilesync_conflicts_resolved_total', help: 'conflicts resolved on this node, by what was kept', labelNames: ['keep'], registers });
    const openSource = store.openConflicts?.bind(store);
    if (openSource !== undefined) {
      new Gauge({ name: 'profilesync_conflicts_open', help: 'open conflict records over every profile (the same on converged nodes)', registers, collect() { this.set(openSource().records); } });
      new Gauge({ name: 'profilesync_conflicts_open_profiles', help: 'profiles with at least one open conflict', registers, collect() { this.set(openSource().profiles); } });
    }
    this.#unsubscribe.push(
      store.on('profile-written', (e) => {
        writes.inc({ action: e.action });
        writeSeconds.observe(e.durationMillis / 1000);
      }),
      store.on('write-rejected', (e) => rejected.inc({ code: e.code })),
      store.on('document-loaded', (e) => loads.observe({ kind: 'doc' }, e.durationMillis / 1000)),
      store.on('view-loaded', (e) => loads.observe({ kind: 'view' }, e.durationMillis / 1000)),
      store.on('conflict-recorded', () => conflicts.inc()),
      store.on('conflict-detected', (e) => detected.inc({ kind: e.kind })),
      store.on('conflict-resolved', (e) => resolved.inc({ keep: e.keep })),
    );
    const versions = new Counter({ name: 'profilesync_versions_closed_total', help: 'versions closed on this node by reason (idle, checkpoint, actor, label, startup, create, revert, delete, import, migrate)', labelNames: ['reason'], registers });
    const versionFailures = new Counter({ name: 'profilesync_version_close_failures_total', help: 'version closes that failed (the run stays open and is retried after the idle gap)', labelNames: ['code'], registers });
    const migrated = new Counter({ name: 'profilesync_profiles_migrated_total', help: 'schema-1 profiles migrated to schema 2 on their first write here', registers });
    const renders = new Counter({ name: 'profilesync_render_total', help: 'renders by outcome (ok, missing: a variable was not given, error)', labelNames: ['outcome'], registers });
    const renderSeconds = new Histogram({ name: 'profilesync_render_duration_seconds', help: 'one render: resolve the view (hot: a lookup) + fill the variables', buckets: [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.001, 0.005, 0.025], registers });
    this.#unsubscribe.push(
      store.on('version-closed', (e) => versions.inc({ reason: e.reason })),
      store.on('version-close-failed', (e) => versionFailures.inc({ code: e.code })),
      store.on('profile-migrated', () => migrated.inc()),
      store.on('rendered', (e) => {
        renders.inc({ outcome: e.ok ? 'ok' : e.missing > 0 ? 'missing' : 'error' });
        renderSeconds.observe(e.durationMillis / 1000);
      }),
    );
  }

  /** One backup finished (ok or failed). */
  observeBackup(kind: string, outcome: 'ok' | 'failed', seconds: number, bytes: number, at: number): void {
    this.#backups.inc({ kind, outcome });
    if (outcome !== 'ok') return;
    this.#backupSeconds.set({ kind }, seconds);
    this.#backupBytes.set({ kind }, bytes);
    this.#backupLastSuccess.set({ kind }, at / 1000);
  }

  /** Counts one denial (reason: missing-token, bad-token, role, grant, scope, AUTH_FORBIDDEN, ...; endpoint: http, /yjs, /sync). */
  countDenial(reason: string, endpoint: string): void {
    this.#denials.inc({ reason, endpoint });
  }

  /** Open token-authenticated live connections, and those closed by revocations and grant changes. */
  attachLive(live: LiveSource): void {
    const registers = [this.registry];
    new Gauge({
      name: 'profilesync_live_connections',
      help: 'open token-authenticated live connections (/yjs sockets, SSE streams) by kind',
      labelNames: ['kind'],
      registers,
      collect: atScrape(
        () => live.count(),
        (g: Gauge<'kind'>, counts) => {
          for (const [kind, n] of counts) g.set({ kind }, n);
        },
      ),
    });
    const changed = new Counter({
      name: 'profilesync_live_connections_revoked_total',
      help: 'live connections reached by a token change: closed (token revoked, profile no longer granted) or kept with the new access (e.g. downgraded to read-only)',
      labelNames: ['kind', 'change', 'outcome'],
      registers,
    });
    this.#unsubscribe.push(live.on((e) => changed.inc({ kind: e.kind, change: e.type, outcome: e.outcome })));
    const refused = new Counter({
      name: 'profilesync_live_connections_refused_total',
      help: 'live connections refused because their token already held tokens.max_connections (TOKEN_TOO_MANY_CONNECTIONS), by kind',
      labelNames: ['kind'],
      registers,
    });
    for (const kind of ['yjs', 'sse']) refused.inc({ kind }, 0);
    this.#unsubscribe.push(live.onRefused((e) => refused.inc({ kind: e.kind })));
  }

  #httpChildren = new Map<string, { observe(v: number): void }>();

  observeRequest(route: string, method: string, status: number, seconds: number): void {
    const key = `${method} ${status} ${route}`;
    let child = this.#httpChildren.get(key);
    if (!child) {
      child = this.#http.labels({ route, method, status: String(status) });
      this.#httpChildren.set(key, child);
    }
    child.observe(seconds);
  }

  /** Change feed series, read at scrape time (GET /api/changes). */
  attachChangeFeed(source: ChangeFeedSource): void {
    const registers = [this.registry];
    const read = () => source.stats();
    new Gauge({ name: 'profilesync_changes_connections', help: 'open change feed streams (GET /api/changes)', registers, collect: atScrape(read, (g: Gauge, s) => g.set(s.connections)) });
    new Counter({ name: 'profilesync_changes_events_total', help: 'change events written to change feed streams (catch-up and live)', registers, collect: atScrape(read, (c: Counter, s) => c.inc(s.events)) });
    new Counter({ name: 'profilesync_changes_streams_opened_total', help: 'change feed streams opened', registers, collect: atScrape(read, (c: Counter, s) => c.inc(s.opened)) });
    new Counter({ name: 'profilesync_changes_slow_disconnects_total', help: 'change feed streams closed because the client did not keep up (it resumes)', registers, collect: atScrape(read, (c: Counter, s) => c.inc(s.dropped)) });
    new Gauge({ name: 'profilesync_changes_pending', help: 'committed changes waiting for an earlier one before release', registers, collect: atScrape(() => source.pending(), (g: Gauge, n) => g.set(n)) });
  }

  /**
   * Fleet metrics: the bus and membership state read at scrape time from `cluster()`, and
   * counters from the fleet's typed events (publishes, failures, applies, shard resets, repairs).
   */
  attachFleet(source: Pick<SyncMount, 'cluster' | 'on'>): void {
    const registers = [this.registry];
    const read = () => source.cluster?.() ?? undefined;
    new Gauge({ name: 'profilesync_bus_connected', help: 'the fleet bus (Redis) is reachable (1) or not (0)', registers, collect: atScrape(read, (g: Gauge, c) => g.set(c.bus.connected ? 1 : 0)) });
    new Gauge({ name: 'profilesync_bus_lag_seconds', help: 'how far this node is behind the bus: 0 when every shard was read to its end, else the age of the newest entry applied', registers, collect: atScrape(read, (g: Gauge, c) => g.set(c.bus.lagMillis / 1000)) });
    new Gauge({ name: 'profilesync_bus_repair_pending', help: 'a shard could not deliver everything and a repair over /sync is owed (1)', registers, collect: atScrape(read, (g: Gauge, c) => g.set(c.bus.repairPending ? 1 : 0)) });
    new Gauge({ name: 'profilesync_bus_unpublished_profiles', help: 'profiles whose changes wait to be republished (the bus was away or a publish failed)', registers, collect: atScrape(read, (g: Gauge, c) => g.set(c.bus.unpublished)) });
    new Gauge({ name: 'profilesync_fleet_ready', help: 'this node caught up with the fleet (1)', registers, collect: atScrape(read, (g: Gauge, c) => g.set(c.ready ? 1 : 0)) });
    new Gauge({ name: 'profilesync_fleet_members', help: 'members by state (alive: heartbeat within the TTL; known: every record)', labelNames: ['state'], registers, collect: atScrape(read, (g: Gauge<'state'>, c) => {
      g.set({ state: 'alive' }, c.members.filter((m) => m.alive).length);
      g.set({ state: 'known' }, c.members.length);
    }) });
    new Gauge({ name: 'profilesync_fleet_key_mismatch_members', help: 'live member records on the bus sealed under another fleet key (a member with a different bus.key: no changes cross)', registers, collect: atScrape(read, (g: Gauge, c) => g.set(c.bus.keyMismatch.members.length)) });
    new Gauge({ name: 'profilesync_fleet_fallback_sessions', help: 'standing /sync sessions with seed members while the bus is away', registers, collect: atScrape(read, (g: Gauge, c) => g.set(c.bus.fallback.length)) });
    if (!source.on) return;
    const published = new Counter({ name: 'profilesync_bus_published_total', help: 'entries this node put on the bus (kind=change: one change; kind=state: a whole profile, republished)', labelNames: ['kind'], registers });
    const publishFailures = new Counter({ name: 'profilesync_bus_publish_failures_total', help: 'publishes that failed (the profile is republished when the bus is back); writes never fail for it', labelNames: ['code'], registers });
    const applied = new Counter({ name: 'profilesync_bus_applied_total', help: 'entries of other members applied (result=applied) or found to add nothing (result=duplicate)', labelNames: ['result'], registers });
    const rejected = new Counter({ name: 'profilesync_bus_rejected_total', help: 'entries refused by validation (audited)', labelNames: ['code'], registers });
    const lag = new Histogram({ name: 'profilesync_bus_apply_lag_seconds', help: 'from the bus accepting an entry to this node having applied it durably', buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 30], registers });
    const resets = new Counter({ name: 'profilesync_bus_shard_resets_total', help: 'a shard could not deliver everything after this node\'s cursor (epoch, trimmed, bad-entry, key-mismatch, apply-failed); it read on and a repair ran', labelNames: ['reason'], registers });
    const repairs = new Counter({ name: 'profilesync_fleet_repairs_total', help: 'digest repairs over /sync (outcome ok or failed)', labelNames: ['outcome'], registers });
    const on = source.on.bind(source);
    this.#unsubscribe.push(
      on('fleet-published', (e) => published.inc({ kind: e.state ? 'state' : 'change' })),
      on('fleet-publish-failed', (e) => publishFailures.inc({ code: e.code })),
      on('fleet-applied', (e) => {
        applied.inc({ result: e.applied ? 'applied' : 'duplicate' });
        if (e.applied) lag.observe((e.lagMillis + e.durationMillis) / 1000);
      }),
      on('fleet-rejected', (e) => rejected.inc({ code: e.code })),
      on('fleet-shard-reset', (e) => resets.inc({ reason: e.reason })),
      on('fleet-repair', (e) => repairs.inc({ outcome: e.failed === 0 ? 'ok' : 'failed' })),
    );
  }

  /** Webhook series: attempts by outcome (counted as they finish), delivery time, pending per hook (at scrape). */
  attachWebhooks(source: WebhookSource): void {
    const registers = [this.registry];
    const attempts = new Counter({ name: 'profilesync_webhook_attempts_total', help: 'webhook delivery attempts by hook and outcome (delivered, retrying, failed = given up)', labelNames: ['hook', 'outcome'], registers });
    const seconds = new Histogram({ name: 'profilesync_webhook_attempt_duration_seconds', help: 'time from sending a webhook request to its answer (or failure)', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10], registers });
    new Gauge({
      name: 'profilesync_webhook_pending',
      help: 'changes waiting to be delivered (or retried) per hook',
      labelNames: ['hook'],
      registers,
      collect: atScrape(() => source.list(), (g: Gauge<'hook'>, hooks) => {
        for (const h of hooks) g.set({ hook: h.id }, h.status.pending);
      }),
    });
    this.#unsubscribe.push(
      source.onAttempt((a, hook) => {
        attempts.inc({ hook: hook.id, outcome: a.outcome });
        seconds.observe(a.durationMillis / 1000);
      }),
    );
  }

  /** Subscribes to the log's typed events; detach() undoes it. */
  attachLog(log: LogEventSource): void {
    const info = log.info?.();
    if (info !== undefined) this.#logOpen.set({ from: info.openedFrom }, info.openMillis / 1000);
    this.#unsubscribe.push(
      log.on('batch-committed', (e) => {
        this.#appends.inc(e.entries);
        this.#batchEntries.observe(e.entries);
        this.#batchSeconds.observe(e.durationMillis / 1000);
      }),
      log.on('batch-failed', (e) => this.#batchFailures.inc({ code: e.code })),
      log.on('snapshot-written', () => this.#derived.inc({ kind: 'snapshot' })),
      log.on('rest-written', () => this.#derived.inc({ kind: 'rest' })),
    );
  }

  detach(): void {
    for (const u of this.#unsubscribe.splice(0)) u();
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
