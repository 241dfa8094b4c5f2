/**
 * The mount point for the sync package. The server listens for HTTP `upgrade` on its own
 * port and hands `/sync` and `/yjs/:profileId` to a SyncMount; every other upgrade path is
 * answered 404. startServer mounts the sync package by default; with `sync: false`, /sync and
 * /yjs answer 503 and GET /api/peers and POST /api/sync report SYNC_UNAVAILABLE.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ProfileStore } from '@profilesync/core';
import type { FleetAttachOptions, FleetStatus, SyncEvents } from '@profilesync/sync';
import type { Principal } from './auth/tokens.js';
import type { LiveConnection } from './auth/live.js';
import type { PeerRecord } from './peers.js';

export interface PeerStatus {
  id: string;
  connected: boolean;
  /** ISO-8601, null when never seen */
  lastSeen: string | null;
  /** updates queued for this peer */
  pending: number;
  /** how far behind the peer is, ms (when known) */
  lagMillis?: number;
  [extra: string]: unknown;
}

export interface SyncNowResult {
  converged: boolean;
  peers: { id: string; ok: boolean; code?: string; message?: string }[];
  durationMillis: number;
  [extra: string]: unknown;
}

export interface SyncMount {
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, path: string): void;
  status(): PeerStatus[];
  syncNow(opts: { timeoutMs: number }): Promise<SyncNowResult>;
  addPeer(peer: PeerRecord): void;
  removePeer(id: string): void;
  /** closes every socket with a proper close frame (1001 going away) */
  close(): Promise<void>;
  /** the node listens at `url` (its HTTP base URL): a fleet, if any, starts */
  started?(info: { url: string }): Promise<void>;
  /** GET /api/cluster: the fleet's view, null without a fleet */
  cluster?(): FleetStatus | null;
  /** typed sync and fleet events (metrics, logs) */
  on?<E extends keyof SyncEvents>(event: E, listener: (payload: SyncEvents[E]) => void): () => void;
}

/** What the server hands a sync factory. */
export interface SyncMountContext {
  store: ProfileStore;
  /** this node's identity (crypto package's type; opaque here) */
  identity: unknown;
  /** the unlocked keyring when the data dir is encrypted */
  keyring?: unknown;
  peers: PeerRecord[];
  /** WebSocket auth for /yjs: `?token=TOKEN` -> principal, or undefined (the mount answers 401) */
  authenticate(token: string | undefined): Principal | undefined;
  /** whether `principal`'s token may read / write profile `id` now (its current role and grants; false once revoked) */
  authorize(principal: Principal, id: string, access: 'read' | 'write'): boolean;
  /** registers an open token-authenticated connection (a /yjs socket): revocation closes it, grant changes re-check it */
  watch(principal: Principal, conn: LiveConnection): () => void;
  /** security events (e.g. a peer with an unknown key) */
  audit(record: { action: string; actor: string; origin: string; outcome: 'ok' | 'denied' | 'rejected'; profile?: string; details?: Record<string, unknown> }): void;
  /** join a fleet: the bus, the fleet key, the node's log as its storage (bus.url configured) */
  fleet?: FleetAttachOptions;
  /** pino-compatible logger for sync and fleet lines */
  logger?: { warn(obj: Record<string, unknown>, msg?: string): void; error(obj: Record<string, unknown>, msg?: string): void; info?(obj: Record<string, unknown>, msg?: string): void; debug?(obj: Record<string, unknown>, msg?: string): void };
}

export type SyncFactory = (ctx: SyncMountContext) => SyncMount | Promise<SyncMount>;

/** Which mount a WebSocket path belongs to. */
export function classifyUpgradePath(url: string | undefined): { kind: 'sync' | 'yjs' | 'unknown'; path: string } {
  const path = (url ?? '/').split('?')[0]!;
  if (path === '/sync') return { kind: 'sync', path };
  if (/^\/yjs\/[^/]+$/.test(path)) return { kind: 'yjs', path };
  return { kind: 'unknown', path };
}

/** Writes a minimal HTTP error response on a raw upgrade socket and closes it. */
export function rejectUpgrade(socket: Duplex, status: number, code: string, message: string): void {
  const body = JSON.stringify({ error: { code, message } });
  const reason = status === 404 ? 'Not Found' : status === 401 ? 'Unauthorized' : status === 503 ? 'Service Unavailable' : 'Error';
  try {
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  } catch {
    socket.destroy();
  }
}
