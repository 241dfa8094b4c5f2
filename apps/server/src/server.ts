/**
 * startServer(config): listens, opens the node, builds the app, mounts WebSockets, and
 * returns { url, close() }. The port is bound first: while the data dir opens (a passphrase
 * prompt, a long log open) the node answers /readyz 503 STORE_OPENING, /healthz 200
 * `starting`, and every other request 503 SERVER_STARTING, so a probe never sees a refused
 * connection or a half-built app. close() is the graceful shutdown: stop accepting, let in-flight
 * requests (and so in-flight writes) finish, close WebSockets with 1001 (sync mount), close
 * the store and the log, zero the keys.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino, { type Logger } from 'pino';
import { ProfileSyncError } from '@profilesync/errors';
import { fingerprint as keyFingerprint, parsePublicKey } from '@profilesync/crypto';
import { CacheRegistry, type CacheLogger, type ResponseCache } from '@profilesync/cache';
import type { CacheStatsSnapshot } from '@profilesync/core';
import { buildApp, routesOf, type RouteInfo } from './app.js';
import { isLoopbackHost, type ServerConfig } from './config.js';
import type { AppContext, CacheDirectory, SecurityEvent } from './context.js';
import { ensureAdminToken, type AdminTokenResult } from './auth/admin-token.js';
import { grantAllows, newBucket, roleAllows, takeAuditSlot, type BucketState } from './auth/policy.js';
import { TokenStore, type Principal } from './auth/tokens.js';
import { LiveConnections } from './auth/live.js';
import { ServerMetrics } from './metrics.js';
import { openNode, type NodeHandle, type PassphraseProvider } from './node.js';
import { PeerStore } from './peers.js';
import { ViewJsonCache } from './view-cache.js';
import { Readiness } from './readiness.js';
import { watchDamage } from './damage.js';
import { watchLogHealth } from './log-health.js';
import { errorBody } from './http-errors.js';
import { logSerializers } from './log-serializers.js';
import { clientErrorHandler } from './client-errors.js';
import { removeServerFile, writeServerFile } from './server-file.js';
import { BackupService } from './backup.js';
import { classifyUpgradePath, rejectUpgrade, type SyncFactory, type SyncMount } from './sync-mount.js';
import type { FleetAttachOptions } from '@profilesync/sync';
import { ChangeHub } from './changes/hub.js';
import { ChangeFeed } from './changes/feed.js';
import { openResponseCache, type NodeResponses } from './responses.js';
import { Webhooks } from './webhooks/service.js';

/** Caches registered by other packages: the cache package's CacheRegistry fits. */
export interface CacheRegistryLike {
  names(): string[];
  stats(): CacheStatsSnapshot[] | Promise<CacheStatsSnapshot[]>;
  clear(name?: string): string[] | Promise<string[]>;
}

export interface StartServerOptions {
  /** passphrase for encrypted dirs; default: PROFILESYNC_PASSPHRASE */
  passphrase?: PassphraseProvider;
  /** preset admin token; default: PROFILESYNC_ADMIN_TOKEN */
  adminToken?: string;
  /** called once when the first admin token was generated (default: printed on stdout) */
  onAdminToken?: (result: AdminTokenResult) => void;
  logger?: Logger;
  /** the /sync + /yjs mount; default: the sync package's createSyncMount; false: none (503 SYNC_UNAVAILABLE) */
  sync?: SyncFactory | false;
  /** caches to list and clear beside core's (default: a new, empty CacheRegistry, see RunningServer.cacheRegistry) */
  cacheRegistry?: CacheRegistry;
  clock?: () => number;
  env?: Record<string, string | undefined>;
  /** scrypt cost when creating an encrypted dir (tests) */
  scrypt?: { N?: number; r?: number; p?: number };
  /** audit at most `burst` denials at once, refilled at `perSecond` */
  denialAudit?: { perSecond: number; burst: number };
  /** readiness registry behind /readyz: pass one to register checks before the node listens (default: a new one) */
  readiness?: Readiness;
  /** called once the port is bound, before the data dir is opened (probes get 503 until startServer resolves) */
  onListening?: (info: { url: string; port: number }) => void;
}

export interface RunningServer {
  url: string;
  host: string;
  port: number;
  node: NodeHandle;
  /** this node's public key (base64url) and fingerprint */
  publicKey: string;
  fingerprint: string;
  adminToken: AdminTokenResult;
  /** register in-process caches here to have them listed, cleared and exported as metrics */
  cacheRegistry: CacheRegistry;
  /** every HTTP route served (method + pattern) */
  routes: RouteInfo[];
  /** the checks behind /readyz: `readiness.register(name, check)` */
  readiness: Readiness;
  /** the `responses` cache (LLM answers by profile version) when `cache.redis.url` is set */
  responses: ResponseCache<unknown> | undefined;
  /** online and scheduled backups (`backups.runScheduled()` takes one now) */
  backups: BackupService;
  /** ordered profile changes with log positions (the change feed and webhooks read it) */
  changes: ChangeHub;
  /** replaces the sync mount (the lead wires the sync package in through this or `sync`) */
  mountSync(mount: SyncMount | undefined): void;
  close(): Promise<void>;
}

const DENIAL_AUDIT = { perSecond: 5, burst: 50 };

/** Peer sync (/sync) and live editing (/yjs/:profileId) are on by default. */
const defaultSyncFactory: SyncFactory = async (ctx) => {
  const { createSyncMount } = await import('@profilesync/sync');
  return createSyncMount(ctx);
};

function defaultPassphrase(env: Record<string, string | undefined>): PassphraseProvider {
  return async () => {
    const p = env.PROFILESYNC_PASSPHRASE;
    if (p === undefined || p === '') throw new ProfileSyncError('CRYPTO_PASSPHRASE_REQUIRED', 'this data dir is encrypted: set PROFILESYNC_PASSPHRASE');
    return p;
  };
}

function cacheDirectory(node: NodeHandle, registry: CacheRegistryLike, viewJsonCache: ViewJsonCache): CacheDirectory {
  return {
    async stats() {
      return [...node.store.cacheStats(), ...(await registry.stats()), viewJsonCache.stats()];
    },
    async clear(name) {
      if (name === undefined) {
        const cleared = node.store.clearCache();
        const fromRegistry = await registry.clear();
        viewJsonCache.clear();
        return [...cleared, ...fromRegistry, viewJsonCache.name];
      }
      if (node.store.cacheStats().some((c) => c.name === name)) return node.store.clearCache(name);
      if (registry.names().includes(name)) return registry.clear(name);
      if (name === viewJsonCache.name) {
        viewJsonCache.clear();
        return [name];
      }
      throw new ProfileSyncError('CACHE_NOT_FOUND', `no cache named ${name}`, { details: { name } });
    },
  };
}

/** Keep-alive idle timeout (Fastify's default, which applies to servers it creates itself). */
const KEEP_ALIVE_TIMEOUT_MS = 72_000;

function listenOn(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      if (err.code === 'EADDRINUSE') reject(new ProfileSyncError('SERVER_ADDRESS_IN_USE', `${host}:${port} is already in use (another node?); pick another --port`, { details: { key: 'port' }, cause: err }));
      else reject(new ProfileSyncError('SERVER_LISTEN_FAILED', `cannot listen on ${host}:${port}: ${err.code ?? err.message}`, { details: { key: 'host' }, cause: err }));
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ host, port });
  });
}

/** The bus and what the fleet needs from the node (bus.url is set). */
async function fleetOptions(config: ServerConfig, node: NodeHandle, logger: Logger): Promise<FleetAttachOptions> {
  const [{ RedisStreamsBus }, { parseFleetKey, logFleetStorage }] = await Promise.all([import('@profilesync/bus'), import('@profilesync/sync')]);
  const bus = new RedisStreamsBus({ url: config.bus.url, prefix: config.bus.prefix, maxLen: config.bus.maxLen, maxAgeMs: config.bus.maxAgeMs, logger: logger.child({ component: 'bus' }) });
  logger.info({ bus: redactBusUrl(config.bus.url), prefix: config.bus.prefix, shards: bus.shards, maxLen: config.bus.maxLen }, 'fleet: joining through the bus');
  return {
    bus,
    key: parseFleetKey(config.bus.key),
    storage: logFleetStorage(node.log),
    limits: { seeds: config.bus.seeds, antiEntropyMs: config.bus.antiEntropyMs },
  };
}

function redactBusUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(text)), 'cache-control': 'no-store', ...headers });
  res.end(text);
}

export async function startServer(config: ServerConfig, opts: StartServerOptions = {}): Promise<RunningServer> {
  const env = opts.env ?? process.env;
  const clock = opts.clock ?? Date.now;
  // every error is logged once: the serializer does not repeat a cause the message already quotes
  const logger = (opts.logger ?? pino({ level: config.logLevel, base: { svc: 'profilesync' } }, pino.destination({ fd: 2, sync: false }))).child({}, { serializers: logSerializers });
  let node: NodeHandle | undefined;
  let closeRequested = false;
  const cleanups: (() => void)[] = [];
  const cleanupsAsync: (() => Promise<void>)[] = [];
  let storeClosed = false;
  const readiness = opts.readiness ?? new Readiness();
  const offChecks = [
    readiness.register('shutdown', () => (closeRequested ? { code: 'SERVER_SHUTTING_DOWN', message: 'the node is shutting down' } : undefined)),
    readiness.register('store', () => {
      if (!node) return { code: 'STORE_OPENING', message: 'the node is opening its data dir' };
      if (storeClosed) return { code: 'STORE_CLOSED', message: 'the profile store is closed' };
      // the store is open but the API is not serving yet (tokens, caches, sync, the fleet start)
      if (!appHandler) return { code: 'SERVER_STARTING', message: 'the node is starting: its data dir is open, the API is not serving yet' };
      return undefined;
    }),
  ];

  // Bind first: until the app is ready, a small handler answers probes and refuses the rest.
  let appHandler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  let upgradeHandler: ((req: IncomingMessage, socket: import('node:stream').Duplex, head: Buffer) => void) | undefined;
  const httpServer = createServer();
  httpServer.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  // Change feed streams that arrive while starting wait for the app instead of getting a 503: an
  // EventSource gives up for good on a non-200 answer (it only retries after network errors),
  // so a client resuming across a restart must not see one. Failed starts close them (a network
  // error: the client retries).
  const parked: { req: IncomingMessage; res: ServerResponse }[] = [];
  httpServer.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (appHandler) return appHandler(req, res);
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/api/changes' && req.method === 'GET' && !closeRequested && parked.length < config.changes.maxConnections) {
      parked.push({ req, res });
      return;
    }
    res.setHeader('connection', 'close');
    if (path === '/readyz') return sendJson(res, 503, { ready: false, reasons: readiness.status().reasons });
    if (path === '/healthz') return sendJson(res, closeRequested ? 503 : 200, { status: closeRequested ? 'shutting-down' : 'starting' });
    sendJson(res, 503, errorBody({ status: 503, code: 'SERVER_STARTING', message: 'the node is starting (opening its data dir); retry shortly' }), { 'retry-after': '1' });
  });
  // what the HTTP parser refuses while starting (the app's own handler answers once it is built)
  let appBuilt = false;
  const answerClientError = clientErrorHandler(logger);
  httpServer.on('clientError', (err: Error & { code?: string }, socket) => {
    if (!appBuilt) answerClientError(err, socket);
  });
  httpServer.on('upgrade', (req, socket, head) => {
    if (upgradeHandler) return upgradeHandler(req, socket, head);
    rejectUpgrade(socket, 503, 'SERVER_STARTING', 'the node is starting; retry shortly');
  });
  const dropChecks = () => {
    for (const off of offChecks) off();
  };
  try {
    await listenOn(httpServer, config.host, config.port);
  } catch (err) {
    dropChecks();
    throw err;
  }
  const addr = httpServer.address() as AddressInfo;
  const host = config.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${addr.port}`;
  const stopListening = () => new Promise<void>((resolve) => httpServer.close(() => resolve()));
  logger.debug({ url }, 'bound; opening the data dir');
  opts.onListening?.({ url, port: addr.port });

  try {
    node = await openNode({
      dataDir: config.dataDir,
      create: true,
      encrypt: config.encryption,
      passphrase: opts.passphrase ?? defaultPassphrase(env),
      hotCacheBytes: config.cache.hotBytes,
      maxDocs: config.cache.maxDocs,
      maxProfileBytes: config.maxProfileBytes,
      versionsIdleMs: config.versions.idleMs,
      clock,
      scrypt: opts.scrypt ?? { N: 2 ** config.scryptLogN },
    });
  } catch (err) {
    closeRequested = true;
    httpServer.closeAllConnections();
    await stopListening();
    dropChecks();
    throw err;
  }
  const opened = node;
  if (opened.tightened.length > 0) {
    logger.warn({ count: opened.tightened.length, paths: opened.tightened.slice(0, 10) }, 'file modes tightened to owner-only (the data dir and its files were readable by others)');
  }
  try {
    if (config.encryption && !opened.encrypted) {
      throw new ProfileSyncError('CONFIG_INVALID', `config encryption (true): the data dir ${config.dataDir} was created without encryption; encryption applies when a dir is created (init --encrypt, then restore a backup into it)`, { details: { key: 'encryption' } });
    }
    const tokens = await TokenStore.open(opened.log, clock);
    const peers = await PeerStore.open(opened.log, config.peers, { fingerprint: (k) => keyFingerprint(parsePublicKey(k)), clock });
    const preset = opts.adminToken ?? (env.PROFILESYNC_ADMIN_TOKEN || undefined);
    const adminToken = await ensureAdminToken(tokens, config.dataDir, opened.keyring, preset);
    if (adminToken.created) {
      await opened.store.recordAudit({ action: 'token.create', actor: 'bootstrap', origin: 'local', outcome: 'ok', details: { id: adminToken.tokenId, name: 'admin', role: 'admin', preset: preset !== undefined } });
      if (adminToken.token) (opts.onAdminToken ?? ((r) => process.stdout.write(`admin token (shown once, also in ${r.file}):\n  ${r.token}\n`)))(adminToken);
    }

    const live = new LiveConnections({ maxPerToken: config.tokens.maxConnections });
    // revocations and grant changes reach open connections in the same tick as the token table
    tokens.onChange((change) => {
      const { closed, kept } = live.apply(change);
      if (closed + kept > 0) logger.info({ tokenId: change.id, change: change.type, closed, kept }, 'token change applied to live connections');
    });

    let sync: SyncMount | undefined;
    const viewJson = new ViewJsonCache();
    const cacheRegistry = opts.cacheRegistry ?? new CacheRegistry();
    const caches = cacheDirectory(opened, cacheRegistry, viewJson);
    const metrics = new ServerMetrics({ caches: () => caches.stats(), peers: () => sync?.status() });
    metrics.attachLog(opened.log);
    metrics.attachStore(opened.store);
    const unwatchDamage = watchDamage({ log: opened.log, store: opened.store, readiness, logger, metrics });
    cleanups.push(unwatchDamage);
    cleanups.push(watchLogHealth({ log: opened.log, logger, metrics }));
    // conflicts (issue 13): found when a diverged state merges, closed by a resolution
    cleanups.push(
      opened.store.on('conflict-detected', (e) => logger.warn({ profile: e.id, conflict: e.conflict, field: e.field, kind: e.kind, origin: e.origin }, 'conflict: apart edits of one field merged; the merged value stays, resolve with POST /api/profiles/:id/conflicts/:cid/resolve')),
      opened.store.on('conflict-resolved', (e) => logger.info({ profile: e.id, conflict: e.conflict, field: e.field, keep: e.keep }, 'conflict resolved')),
    );
    // before anything can write (the app, sync): the hub sees every change with its log position
    const hub = await ChangeHub.open(opened.log, opened.store, { clock });
    cleanups.push(() => hub.close());
    hub.events.on('stalled-change', (e) => logger.warn(e, 'change feed: a committed change had no notification; read from the store'));
    // versions and migrations: one line per version closed (not per keystroke), warnings when a close fails
    opened.store.on('version-closed', (e) => logger.info({ profile: e.id, version: e.version, reason: e.reason, actors: e.actors, fields: e.fields }, 'version closed'));
    opened.store.on('version-close-failed', (e) => logger.warn({ profile: e.id, code: e.code }, 'closing a version failed; retried after the idle gap'));
    opened.store.on('profile-migrated', (e) => logger.info({ profile: e.id, legacyVersions: e.legacyVersions, durationMillis: e.durationMillis }, 'profile migrated to schema 2'));
    let feed: ChangeFeed | undefined = new ChangeFeed(hub, { heartbeatMs: config.changes.heartbeatMs, retryMs: 1000, maxConnections: config.changes.maxConnections, maxBufferedBytes: 1024 * 1024 }, logger, clock);
    metrics.attachChangeFeed({ stats: () => feed?.stats(), pending: () => hub.pending });
    metrics.attachLive(live);
    // one line per token and minute while it is over its limit (a client in a reconnect loop would flood the log)
    const refusedLogged = new Map<string, number>();
    cleanups.push(
      live.onRefused((e) => {
        const now = Date.now();
        if ((refusedLogged.get(e.tokenId) ?? 0) > now - 60_000) return;
        if (refusedLogged.size > 1000) refusedLogged.clear();
        refusedLogged.set(e.tokenId, now);
        logger.warn({ tokenId: e.tokenId, kind: e.kind, limit: e.limit }, 'token connection limit reached: connection refused (TOKEN_TOO_MANY_CONNECTIONS)');
      }),
    );
    let webhooks: Webhooks | undefined = await Webhooks.open({
      aux: opened.log,
      hub,
      configured: config.webhooks.map((e) => ({ ...e, secret: env[e.secretEnv] ?? '' })),
      tuning: config.webhook,
      logger,
      clock,
    });
    const hooks = webhooks;
    cleanupsAsync.push(() => hooks.close());
    hooks.onAttempt((a, hook) => {
      const fields = { hook: hook.id, delivery: a.id, profile: a.profile, event: a.event, attempt: a.attempt, status: a.status, error: a.error, durationMillis: a.durationMillis };
      if (a.outcome === 'failed') logger.error(fields, 'webhook delivery given up');
      else if (a.outcome === 'retrying') logger.warn({ ...fields, nextAttemptAt: a.nextAttemptAt }, 'webhook delivery failed; retrying');
      else logger.debug(fields, 'webhook delivered');
    });
    metrics.attachWebhooks(hooks);
    let responses: NodeResponses | undefined;
    if (config.cache.redisUrl !== '') {
      responses = await openResponseCache(config.cache.redisUrl, cacheRegistry, hub, logger as unknown as CacheLogger);
      const r = responses;
      cleanupsAsync.push(() => r.close());
    }

    const denial = opts.denialAudit ?? DENIAL_AUDIT;
    let bucket: BucketState = newBucket(denial.burst, clock());
    const audit = async (e: SecurityEvent): Promise<void> => {
      let details = e.details;
      if (e.action === 'auth.denied') {
        const endpoint = typeof e.details?.['endpoint'] === 'string' ? (e.details['endpoint'] as string) : 'http';
        metrics.countDenial(String(e.details?.['reason'] ?? 'unknown'), endpoint);
        const slot = takeAuditSlot(bucket, clock(), denial.perSecond, denial.burst);
        const suppressed = bucket.suppressed;
        bucket = slot.state;
        if (!slot.allowed) return;
        if (suppressed > 0) details = { ...details, suppressedBefore: suppressed };
        logger.info({ actor: e.actor, origin: e.origin, reason: e.details?.['reason'], endpoint, profile: e.profile, suppressedBefore: suppressed || undefined }, 'auth denied');
      }
      await opened.store.recordAudit({ ...e, ...(details ? { details } : {}) });
    };

    const backups = new BackupService({ log: opened.log, dataDir: config.dataDir, encrypted: opened.encrypted, config: config.backup, logger, metrics, audit, clock });

    const ctx: AppContext = {
      config,
      backups,
      store: opened.store,
      tokens,
      live,
      peers,
      caches,
      metrics,
      viewJson,
      logger,
      self: { publicKey: node.identity.publicKeyText, fingerprint: node.identity.fingerprint },
      sync: () => sync,
      changes: () => feed,
      webhooks: () => webhooks,
      audit,
      metricsNeedToken: config.metrics.auth === 'token' || (config.metrics.auth === 'auto' && !isLoopbackHost(config.host)),
      clock,
      isClosing: () => closeRequested,
      readiness,
    };
    let fastifyHandler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
    const app = buildApp(ctx, {
      serverFactory: (handler) => {
        fastifyHandler = handler;
        return httpServer;
      },
    });
    appBuilt = true;

    const syncFactory = opts.sync === undefined ? defaultSyncFactory : opts.sync;
    const fleet = syncFactory && config.bus.url !== '' ? await fleetOptions(config, opened, logger) : undefined;
    if (syncFactory) {
      sync = await syncFactory({
        ...(fleet ? { fleet } : {}),
        logger: logger.child({ component: 'sync' }),
        store: opened.store,
        identity: opened.identity,
        ...(opened.keyring ? { keyring: opened.keyring } : {}),
        peers: peers.list(),
        authenticate: (t) => tokens.authenticate(t),
        authorize: (p, id, access) => {
          // the token's current access, not the copy taken at connect time
          const now: Principal | undefined = tokens.principal(p.tokenId);
          return now !== undefined && roleAllows(now.role, access === 'read' ? 'profile:read' : 'profile:write') && grantAllows(now.grants, id);
        },
        watch: (p, conn) => {
          // one token holds at most tokens.max_connections live connections (4429 above)
          live.admit(p, conn.kind);
          return live.register(p, conn);
        },
        audit: (e) => void audit(e).catch((err: unknown) => logger.warn({ err }, 'audit failed')),
      });
    }

    const fleetMount = fleet ? sync : undefined;
    if (fleetMount) {
      // /readyz waits for the fleet's catch-up (registered before the app serves anything)
      offChecks.push(
        readiness.register('fleet', () => {
          const c = fleetMount.cluster?.();
          if (!c || c.ready) return undefined;
          const why = !c.bus.connected ? 'the bus is unreachable and no member answered yet' : c.bus.repairPending ? 'repairing over /sync with the members' : 'reading the bus';
          return { code: 'FLEET_CATCHING_UP', message: `catching up with the fleet: ${why}` };
        }),
        // a member with another bus.key: this node serves, but changes do not cross between them
        readiness.register('fleet-key', () => {
          const k = fleetMount.cluster?.()?.bus.keyMismatch;
          if (!k?.active) return undefined;
          const who = k.members.length > 0 ? `member(s) ${k.members.join(', ')} seal their records` : `${k.entries} bus entr${k.entries === 1 ? 'y' : 'ies'} (the last at ${k.lastEntryAt}) are sealed`;
          return { code: 'FLEET_KEY_MISMATCH', degraded: true, message: `${who} under another fleet key: changes do not cross between them and this node; give every member the same bus.key` };
        }),
      );
      metrics.attachFleet(fleetMount);
    }

    try {
      await app.ready();
    } catch (err) {
      await sync?.close().catch(() => undefined);
      await app.close().catch(() => undefined);
      throw err;
    }
    upgradeHandler = (req, socket, head) => {
      const { kind, path } = classifyUpgradePath(req.url);
      if (closeRequested) return rejectUpgrade(socket, 503, 'SERVER_SHUTTING_DOWN', 'the node is shutting down');
      if (kind === 'unknown') return rejectUpgrade(socket, 404, 'ROUTE_NOT_FOUND', `no WebSocket endpoint at ${path}`);
      if (!sync) return rejectUpgrade(socket, 503, 'SYNC_UNAVAILABLE', 'peer sync is not available on this node');
      try {
        sync.handleUpgrade(req, socket, head, path);
      } catch (err) {
        logger.error({ err }, 'upgrade failed');
        rejectUpgrade(socket, 500, 'INTERNAL', 'internal error');
      }
    };
    appHandler = fastifyHandler;
    for (const p of parked.splice(0)) if (!p.res.destroyed) appHandler?.(p.req, p.res);
    try {
      writeServerFile(config.dataDir, { url, host, port: addr.port, pid: process.pid, startedAt: new Date(clock()).toISOString() });
    } catch (err) {
      logger.warn({ err, dataDir: config.dataDir }, 'cannot write server.json: the CLI will not find this node from --data alone');
    }
    const logInfo = opened.log.info();
    logger.info({ url, dataDir: config.dataDir, encrypted: opened.encrypted, fingerprint: opened.identity.fingerprint, streams: logInfo.streams, logOpenedFrom: logInfo.openedFrom, logOpenMs: logInfo.openMillis }, 'listening');
    if (fleet && fleetMount?.started) {
      // the fleet joins once /sync answers (members dial it to repair)
      await fleetMount.started({ url: config.bus.advertiseUrl !== '' ? config.bus.advertiseUrl.replace(/\/+$/, '') : url });
    }
    backups.start();

    let closing: Promise<void> | undefined;
    const close = (): Promise<void> => {
      closing ??= (async () => {
        closeRequested = true;
        const started = clock();
        // stop accepting; idle keep-alive sockets go now, busy ones after their response (onSend sets Connection: close)
        const stopped = stopListening();
        httpServer.closeIdleConnections();
        const force = setTimeout(() => {
          logger.warn({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown timeout: closing remaining connections');
          httpServer.closeAllConnections();
        }, config.shutdownTimeoutMs);
        force.unref();
        try {
          if (sync) await sync.close().catch((err: unknown) => logger.error({ err }, 'sync close failed'));
          feed?.close();
          feed = undefined;
          await app.close();
          await stopped;
        } finally {
          clearTimeout(force);
        }
        await backups.stop();
        await webhooks?.close().catch((err: unknown) => logger.warn({ err }, 'webhooks close failed'));
        webhooks = undefined;
        metrics.detach();
        await responses?.close().catch((err: unknown) => logger.warn({ err }, 'responses cache close failed'));
        hub.close();
        try {
          removeServerFile(config.dataDir);
        } catch (err) {
          logger.warn({ err }, 'cannot remove server.json');
        }
        storeClosed = true;
        unwatchDamage();
        await opened.close();
        dropChecks();
        logger.info({ durationMillis: clock() - started }, 'closed');
        logger.flush?.();
      })();
      return closing;
    };

    return {
      url,
      host,
      port: addr.port,
      node: opened,
      publicKey: opened.identity.publicKeyText,
      fingerprint: opened.identity.fingerprint,
      adminToken,
      cacheRegistry,
      routes: routesOf(app),
      readiness,
      backups,
      changes: hub,
      responses: responses?.cache,
      mountSync(m) {
        sync = m;
      },
      close,
    };
  } catch (err) {
    closeRequested = true;
    for (const c of cleanups.splice(0)) c();
    for (const c of cleanupsAsync.splice(0)) await c().catch(() => undefined);
    httpServer.closeAllConnections();
    await stopListening();
    await opened.close().catch(() => undefined);
    dropChecks();
    throw err;
  }
}
