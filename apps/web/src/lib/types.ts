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
}

export type Role = 'admin' | 'editor' | 'viewer';

/** Who the signed-in token is. `role` is undefined when the node cannot tell us. */
export interface SessionInfo {
  name: string;
  role: Role | undefined;
  actor?: string;
  profiles?: string[] | null;
}
