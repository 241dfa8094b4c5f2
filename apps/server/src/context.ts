/**
 * What the HTTP routes need from the node, in one object. Built by node.ts from the real
 * store, token store, peer store, caches and sync mount; routes never open anything.
 */
import type { FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { CacheStatsSnapshot, ProfileStore } from '@profilesync/core';
import type { ServerConfig } from './config.js';
import type { Principal, TokenStore } from './auth/tokens.js';
import type { Permission } from './auth/policy.js';
import type { LiveConnections } from './auth/live.js';
import type { PeerStore } from './peers.js';
import type { ServerMetrics } from './metrics.js';
import type { SyncMount } from './sync-mount.js';
import type { ViewJsonCache } from './view-cache.js';
import type { Readiness } from './readiness.js';
import type { BackupService } from './backup.js';
import type { ChangeFeed } from './changes/feed.js';
import type { Webhooks } from './webhooks/service.js';

/** Every cache in the process (core's, the cache registry's, the server's own). */
export interface CacheDirectory {
  stats(): Promise<CacheStatsSnapshot[]>;
  /** clears one cache (or all): names cleared; CACHE_NOT_FOUND for an unknown name */
  clear(name?: string): Promise<string[]>;
}

export interface SecurityEvent {
  action: string;
  actor: string;
  origin: string;
  outcome: 'ok' | 'denied' | 'rejected';
  profile?: string;
  details?: Record<string, unknown>;
}

export interface AppContext {
  config: ServerConfig;
  store: ProfileStore;
  tokens: TokenStore;
  /** token-authenticated live connections (yjs, sse, ...): register them, revocation closes them (auth/live.ts) */
  live: LiveConnections;
  peers: PeerStore;
  caches: CacheDirectory;
  metrics: ServerMetrics;
  /** serialized views for GET responses */
  viewJson: ViewJsonCache;
  logger: Logger;
  /** this node's identity, shown to operators for the other side's `peer add` */
  self?: { publicKey: string; fingerprint: string };
  /** the sync mount, once the sync package is wired in */
  sync(): SyncMount | undefined;
  /** the change feed (GET /api/changes); undefined once shutdown began */
  changes(): ChangeFeed | undefined;
  /** webhooks (admin routes); undefined once shutdown began */
  webhooks(): Webhooks | undefined;
  /** writes a security event to the audit chain */
  audit(event: SecurityEvent): Promise<void>;
  /** whether /metrics needs a token under the configured policy and bind address */
  metricsNeedToken: boolean;
  clock: () => number;
  /** true once shutdown began */
  isClosing(): boolean;
  /** readiness checks behind /readyz (register yours with ctx.readiness.register) */
  readiness: Readiness;
  /** online and scheduled backups (one at a time) */
  backups: BackupService;
}

/** Per-route access rule, set in each route's `config`. */
export interface RouteAccess {
  /** null = public (no token) */
  permission: Permission | null;
  /** the route's :id param is a profile id that the token's grants must allow */
  profileParam?: boolean;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: RouteAccess;
  }
  interface FastifyRequest {
    principal?: Principal;
  }
}

export function principalOf(req: FastifyRequest): Principal {
  const p = req.principal;
  if (!p) throw new Error('route without authentication reached a handler that needs a principal');
  return p;
}
