/**
 * Adapter for apps/server's SyncFactory: builds the sync service from the server's mount
 * context (peer records, token authentication + authorization, security audit). Typed
 * structurally so this package does not import the server (dependencies point one way).
 */
import { NodeIdentity } from '@profilesync/crypto';
import type { ProfileStore } from '@profilesync/core';
import { SyncErrorCode, syncError } from './errors.js';
import { createSyncService, type FleetAttachOptions, type SyncService, type SyncServiceOptions } from './service.js';
import type { AuditFn, YjsLiveHandle, YjsPrincipal } from './yjs-endpoint.js';

export interface MountPrincipal {
  tokenId: string;
  role: 'admin' | 'editor' | 'viewer';
  actor: string;
  /** the person an admin named for the token, if any (presence shows it) */
  person?: string;
}

export interface SyncMountContextLike<P extends MountPrincipal> {
  store: ProfileStore;
  identity: unknown;
  peers: { id: string; url: string; key: string; name?: string | null }[];
  authenticate(token: string | undefined): P | undefined;
  /** must answer for the token's current access (the /yjs endpoint asks again before every write) */
  authorize(principal: P, id: string, access: 'read' | 'write'): boolean;
  audit: AuditFn;
  /** the server's live-connection registry: open /yjs sockets register, revocations close them */
  watch?(principal: P, conn: YjsLiveHandle): () => void;
  /** join a fleet (a bus is configured) */
  fleet?: FleetAttachOptions;
  logger?: SyncServiceOptions['logger'];
}

/** Use as the server's `sync` factory: `startServer(config, { sync: (ctx) => createSyncMount(ctx) })`. */
export function createSyncMount<P extends MountPrincipal>(ctx: SyncMountContextLike<P>, extra: Partial<SyncServiceOptions> = {}): SyncService {
  if (!(ctx.identity instanceof NodeIdentity)) throw syncError(SyncErrorCode.INVALID_ARGUMENT, 'the mount context needs the node identity (NodeIdentity)', { field: 'identity' });
  const authenticate = (token: string | undefined): YjsPrincipal | undefined => {
    const p = ctx.authenticate(token);
    if (!p) return undefined;
    const watch = ctx.watch;
    return {
      actor: p.actor,
      role: p.role,
      tokenId: p.tokenId,
      ...(p.person !== undefined ? { person: p.person } : {}),
      canRead: (id) => ctx.authorize(p, id, 'read'),
      canWrite: (id) => ctx.authorize(p, id, 'write'),
      ...(watch ? { watch: (conn: YjsLiveHandle) => watch(p, conn) } : {}),
    };
  };
  const service = createSyncService({
    store: ctx.store,
    identity: ctx.identity,
    peers: ctx.peers.map((p) => ({ id: p.id, url: p.url, publicKey: p.key, name: p.name ?? null })),
    authenticate,
    audit: ctx.audit,
    ...(ctx.logger ? { logger: ctx.logger } : {}),
    ...extra,
  });
  if (ctx.fleet) service.attachFleet(ctx.fleet);
  return service;
}
