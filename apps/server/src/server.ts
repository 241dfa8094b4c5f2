/**
 * startServer(config): opens the node, builds the app, listens, mounts WebSockets, and
 * returns { url, close() }. close() is the graceful shutdown: stop accepting, let in-flight
 * requests (and so in-flight writes) finish, close WebSockets with 1001 (sync mount), close
 * the store and the log, zero the keys.
 */
import type { AddressInfo } from 'node:net';
import pino, { type Logger } from 'pino';
import { ProfileSyncError } from '@profilesync/errors';
import { fingerprint as keyFingerprint, parsePublicKey } from '@profilesync/crypto';
import { CacheRegistry } from '@profilesync/cache';
import type { CacheStatsSnapshot } from '@profilesync/core';
import { buildApp, routesOf, type RouteInfo } from './app.js';
import { isLoopbackHost, type ServerConfig } from './config.js';
import type { AppContext, CacheDirectory, SecurityEvent } from './context.js';
import { ensureAdminToken, type AdminTokenResult } from './auth/admin-token.js';
import { grantAllows, newBucket, roleAllows, takeAuditSlot, type BucketState } from './auth/policy.js';
import { TokenStore } from './auth/tokens.js';
import { ServerMetrics } from './metrics.js';
import { openNode, type NodeHandle, type PassphraseProvider } from './node.js';
import { PeerStore } from './peers.js';
import { ViewJsonCache } from './view-cache.js';
import { classifyUpgradePath, rejectUpgrade, type SyncFactory, type SyncMount } from './sync-mount.js';

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

export async function startServer(config: ServerConfig, opts: StartServerOptions = {}): Promise<RunningServer> {
  const env = opts.env ?? process.env;
  const clock = opts.clock ?? Date.now;
  const logger = opts.logger ?? pino({ level: config.logLevel, base: { svc: 'profilesync' } }, pino.destination({ fd: 2, sync: false }));
  const node = await openNode({
    dataDir: config.dataDir,
    create: true,
    encrypt: config.encryption,
    passphrase: opts.passphrase ?? defaultPassphrase(env),
    hotCacheBytes: config.cache.hotBytes,
    maxDocs: config.cache.maxDocs,
    maxProfileBytes: config.maxProfileBytes,
    clock,
    scrypt: opts.scrypt ?? { N: 2 ** config.scryptLogN },
  });
  let closeRequested = false;
  try {
    if (config.encryption && !node.encrypted) {
      throw new ProfileSyncError('CONFIG_INVALID', `config encryption (true): the data dir ${config.dataDir} was created without encryption; encryption applies when a dir is created (init --encrypt, then restore a backup into it)`, { details: { key: 'encryption' } });
    }
    const tokens = await TokenStore.open(node.log, clock);
    const peers = await PeerStore.open(node.log, config.peers, { fingerprint: (k) => keyFingerprint(parsePublicKey(k)), clock });
    const preset = opts.adminToken ?? (env.PROFILESYNC_ADMIN_TOKEN || undefined);
    const adminToken = await ensureAdminToken(tokens, config.dataDir, node.keyring, preset);
    if (adminToken.created) {
      await node.store.recordAudit({ action: 'token.create', actor: 'bootstrap', origin: 'local', outcome: 'ok', details: { id: adminToken.tokenId, name: 'admin', role: 'admin', preset: preset !== undefined } });
      if (adminToken.token) (opts.onAdminToken ?? ((r) => process.stdout.write(`admin token (shown once, also in ${r.file}):\n  ${r.token}\n`)))(adminToken);
    }

    let sync: SyncMount | undefined;
    const viewJson = new ViewJsonCache();
    const cacheRegistry = opts.cacheRegistry ?? new CacheRegistry();
    const caches = cacheDirectory(node, cacheRegistry, viewJson);
    const metrics = new ServerMetrics({ caches: () => caches.stats(), peers: () => sync?.status() });
    metrics.attachLog(node.log);
    metrics.attachStore(node.store);

    const denial = opts.denialAudit ?? DENIAL_AUDIT;
    let bucket: BucketState = newBucket(denial.burst, clock());
    const audit = async (e: SecurityEvent): Promise<void> => {
      let details = e.details;
      if (e.action === 'auth.denied') {
        const slot = takeAuditSlot(bucket, clock(), denial.perSecond, denial.burst);
        const suppressed = bucket.suppressed;
        bucket = slot.state;
        if (!slot.allowed) return;
        if (suppressed > 0) details = { ...details, suppressedBefore: suppressed };
      }
      await node.store.recordAudit({ ...e, ...(details ? { details } : {}) });
    };

    const ctx: AppContext = {
      config,
      store: node.store,
      tokens,
      peers,
      caches,
      metrics,
      viewJson,
      logger,
      sync: () => sync,
      audit,
      metricsNeedToken: config.metrics.auth === 'token' || (config.metrics.auth === 'auto' && !isLoopbackHost(config.host)),
      clock,
      isClosing: () => closeRequested,
    };
    const app = buildApp(ctx);

    const syncFactory = opts.sync === undefined ? defaultSyncFactory : opts.sync;
    if (syncFactory) {
      sync = await syncFactory({
        store: node.store,
        identity: node.identity,
        ...(node.keyring ? { keyring: node.keyring } : {}),
        peers: peers.list(),
        authenticate: (t) => tokens.authenticate(t),
        authorize: (p, id, access) => roleAllows(p.role, access === 'read' ? 'profile:read' : 'profile:write') && grantAllows(p.grants, id),
        audit: (e) => void audit(e).catch((err: unknown) => logger.warn({ err }, 'audit failed')),
      });
    }

    app.server.on('upgrade', (req, socket, head) => {
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
    });

    try {
      await app.listen({ host: config.host, port: config.port });
    } catch (err) {
      await sync?.close().catch(() => undefined);
      await app.close().catch(() => undefined);
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE') throw new ProfileSyncError('SERVER_ADDRESS_IN_USE', `${config.host}:${config.port} is already in use (another node?); pick another --port`, { details: { key: 'port' }, cause: err });
      throw new ProfileSyncError('SERVER_LISTEN_FAILED', `cannot listen on ${config.host}:${config.port}: ${code ?? (err as Error).message}`, { details: { key: 'host' }, cause: err });
    }
    const addr = app.server.address() as AddressInfo;
    const host = config.host;
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${addr.port}`;
    logger.info({ url, dataDir: config.dataDir, encrypted: node.encrypted, fingerprint: node.identity.fingerprint }, 'listening');

    let closing: Promise<void> | undefined;
    const close = (): Promise<void> => {
      closing ??= (async () => {
        closeRequested = true;
        const started = clock();
        const force = setTimeout(() => {
          logger.warn({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown timeout: closing remaining connections');
          app.server.closeAllConnections();
        }, config.shutdownTimeoutMs);
        force.unref();
        try {
          if (sync) await sync.close().catch((err: unknown) => logger.error({ err }, 'sync close failed'));
          await app.close();
        } finally {
          clearTimeout(force);
        }
        metrics.detach();
        await node.close();
        logger.info({ durationMillis: clock() - started }, 'closed');
        logger.flush?.();
      })();
      return closing;
    };

    return {
      url,
      host,
      port: addr.port,
      node,
      publicKey: node.identity.publicKeyText,
      fingerprint: node.identity.fingerprint,
      adminToken,
      cacheRegistry,
      routes: routesOf(app),
      mountSync(m) {
        sync = m;
      },
      close,
    };
  } catch (err) {
    await node.close().catch(() => undefined);
    throw err;
  }
}
