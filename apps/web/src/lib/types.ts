/**
 * The shapes the dashboard reads from the node (DESIGN §6). They mirror
 * @profilesync/core's public types; the UI keeps its own copy so the browser bundle
 * never pulls server code in.
 */
export type ParamValue = string | number | boolean | null | string[];

export interface ProfileView {
  id: string;
  modelId: string;
  name: string;
  description: string;
  systemMessage: string;
  templates: Record<string, string>;
  parameters: Record<string, ParamValue>;
  labels: Record<string, string>;
  meta: Record<string, ParamValue>;
  deleted?: boolean;
  version: string;
  updatedAt: string;
  updatedBy: string;
}

export interface ProfileSummary {
  id: string;
  modelId: string;
  name: string;
  version: string;
  updatedAt: string;
  labels?: string[];
  tags?: string[];
  deleted?: boolean;
}

export interface ProfileInput {
  id?: string;
  modelId: string;
  name: string;
  description?: string;
  systemMessage?: string;
  templates?: Record<string, string>;
  parameters?: Record<string, ParamValue>;
  meta?: Record<string, ParamValue>;
}

export interface VersionInfo {
  version: string;
  seq: number;
  at: string;
  actor: string;
  origin: string;
  summary: string;
}

export interface TextDiffPart {
  op: 'equal' | 'insert' | 'delete';
  text: string;
}

export interface FieldChange {
  path: string;
  kind: 'added' | 'removed' | 'changed';
  before?: unknown;
  after?: unknown;
  text?: TextDiffPart[];
}

export interface ProfileDiff {
  from: string;
  to: string;
  changes: FieldChange[];
}

export interface AuditRecord {
  at: string;
  actor: string;
  origin: string;
  action: string;
  profile?: string;
  fields?: string[];
  outcome: 'ok' | 'denied' | 'rejected';
  details?: Record<string, unknown>;
}

export interface CacheStats {
  name: string;
  hits: number;
  misses: number;
  size: number;
  hit_rate: number;
  ttl: number | null;
  evictions: number;
  bytes?: number;
  maxBytes?: number;
  [extra: string]: unknown;
}

export interface PeerInfo {
  id: string;
  url: string;
  fingerprint: string;
  name?: string;
  source?: string;
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
