/**
 * Shapes only the dashboard has. The node's own shapes (ProfileView, ProfileSummary,
 * VersionInfo, ProfileDiff, AuditRecord, CacheStatsSnapshot, ParamValue, ...) come from
 * @profilesync/core as `import type`: esbuild erases type imports, so no core code enters
 * the browser bundle.
 */

/** One row of GET /api/peers: the server joins a configured peer with its live sync status. */
export interface PeerInfo {
  id: string;
  url: string;
  fingerprint: string;
  name: string | null;
  source: 'config' | 'added';
  connected: boolean;
  lastSeen: string | null;
  pending: number;
  lagMillis?: number;
  /** the sync service's dial state (nodes since round 2) */
  state?: 'connected' | 'connecting' | 'backoff' | 'idle' | 'unavailable';
  /** code of the last failure, e.g. CRYPTO_PEER_UNKNOWN (it refused our key) */
  lastError?: string | null;
  /** with SYNC_CONNECTION_LOST: the socket error of the last dial (ECONNREFUSED, ..., HTTP_<status>) */
  lastErrno?: string | null;
  /** while backing off: when the next dial happens (ISO-8601) */
  nextRetryAt?: string | null;
}

export interface PeersResponse {
  sync?: string;
  /** this node's key, for `peer add` on the other side */
  self?: { publicKey: string; fingerprint: string };
  peers: PeerInfo[];
}

export interface SyncReport {
  converged: boolean;
  peers: { id: string; ok: boolean; code?: string; message?: string }[];
  durationMillis: number;
}

/** GET /api/tokens rows (never the secret). displayName / email: nodes that record the person. */
export interface TokenInfo {
  id: string;
  name: string;
  role: Role;
  profiles: string[] | null;
  createdAt: string;
  createdBy: string;
  lastUsedAt: string | null;
  displayName?: string | null;
  email?: string | null;
}

export interface TokenCreate {
  name: string;
  role: Role;
  profiles?: string[];
  displayName?: string;
  email?: string;
}

export type Role = 'admin' | 'editor' | 'viewer';

/** Who the signed-in token is. `role` is undefined when the node cannot tell us. */
export interface SessionInfo {
  name: string;
  role: Role | undefined;
  actor?: string;
  profiles?: string[] | null;
  /** the token's id (to mark "this session" among the tokens) */
  tokenId?: string;
}

/** GET /api/webhooks rows (never the secret). */
export interface WebhookInfo {
  id: string;
  name: string | null;
  url: string;
  events: string[] | null;
  profiles: string[] | null;
  source: 'config' | 'added';
  createdAt: string | null;
  status: {
    pending: number;
    inflight: number;
    delivered: number;
    failed: number;
    attempts: number;
    cursor: string;
    lastDeliveredAt: string | null;
    lastError: { at: string; id: string; error: string } | null;
  };
}

/** One attempt of the webhook delivery log (GET /api/webhooks/:id/deliveries). */
export interface DeliveryAttempt {
  id: string;
  profile: string;
  event: string;
  attempt: number;
  at: string;
  outcome: 'delivered' | 'retrying' | 'failed';
  status: number | null;
  error: string | null;
  durationMillis: number;
  nextAttemptAt: string | null;
}
