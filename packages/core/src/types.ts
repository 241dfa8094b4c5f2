/**
 * Public contract of @profilesync/core. The server, the CLI and the sync package
 * code against these types; extend them freely, rename nothing without updating
 * callers. Shapes follow ../../shared/DESIGN.md §4 and §6.
 */

/** A profile id: matches ^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$ */
export type ProfileId = string & { readonly __brand: 'ProfileId' };

/**
 * A portable version reference: names the same content on every peer.
 * Encoding is core's business (documented in docs/profile-model.md §5); callers treat
 * it as an opaque URL-safe string.
 */
export type VersionRef = string;

export type { JsonValue, JsonObject, Message, MessageInput, Role, Tool, ProfileParameters, MetaValue, RenderResult, RenderWarning, RenderVariables } from '@profilesync/model';
import type { Message, MessageInput, MetaValue, ProfileParameters } from '@profilesync/model';

/** @deprecated schema-1 name of a parameter value; parameters are JSON now */
export type ParamValue = string | number | boolean | null | string[];

/** The materialized view (canonical JSON: keys sorted), frozen when handed out by the store. */
export interface ProfileView {
  /** number of open conflict records (issue 13; 0 until conflicts are recorded in the doc) */
  conflicts: number;
  deleted: boolean;
  description: string;
  id: string;
  labels: Record<string, VersionRef>;
  messages: Message[];
  meta: Record<string, MetaValue>;
  modelId: string;
  name: string;
  parameters: ProfileParameters;
  /** the profile's stored schema: 2, or 1 for a profile not yet migrated (read up-converted) */
  schema: 1 | 2;
  systemMessage: string;
  templates: Record<string, string>;
  /** ISO-8601 time of the last change */
  updatedAt: string;
  /** actor of the last change */
  updatedBy: string;
  /** the portable v2 ref of the current content state (equal on converged nodes) */
  version: VersionRef;
}

/** POST body: the view minus computed fields; id optional (generated when absent). */
export interface ProfileInput {
  id?: string;
  modelId: string;
  name: string;
  description?: string;
  systemMessage?: string;
  templates?: Record<string, string>;
  /** messages without an id are new (the store assigns one) */
  messages?: MessageInput[];
  parameters?: ProfileParameters;
  meta?: Record<string, MetaValue>;
}

/** JSON Merge Patch (RFC 7396) over the view; text fields are applied as minimal character diffs. */
export type ProfilePatch = Record<string, unknown>;

export interface ProfileSummary {
  id: string;
  modelId: string;
  name: string;
  version: VersionRef;
  updatedAt: string;
  labels: string[];
  tags: string[];
  deleted: boolean;
  /** open conflict records (issue 13; the view's `conflicts`) */
  conflicts: number;
}

export interface ListFilter {
  modelId?: string;
  label?: string;
  tag?: string;
  includeDeleted?: boolean;
  /** only profiles with at least one open conflict */
  withConflicts?: boolean;
}

/** Orders of the list: name (A-Z), updated (newest first), model (then name), id. Ties: by id. */
export type ListSort = 'name' | 'updated' | 'model' | 'id';

/**
 * One page of the list (`ProfileStore.search`): the ListFilter, a text search over the
 * profile's id, name, model and prompt text (description, system message, templates,
 * messages; every word must occur, case-insensitive), a sort, and keyset pagination.
 */
export interface ListQuery extends ListFilter {
  /** words; a profile matches when each occurs in one of its fields */
  q?: string;
  /** default `id` (the order of list()) */
  sort?: ListSort;
  /** default: desc for `updated`, asc otherwise */
  order?: 'asc' | 'desc';
  /** page size 1..1000; absent = every match */
  limit?: number;
  /** `nextCursor` of the previous page (same sort and order) */
  cursor?: string;
  /** only ids this returns true for are listed and counted (a token's grants) */
  allow?: (id: string) => boolean;
  /** also answer `facets`: the distinct models, labels and tags of every listed profile (ignoring the other filters and q) */
  facets?: boolean;
}

export interface ListFacets {
  models: string[];
  labels: string[];
  tags: string[];
}

/** Where a search matched first: the dotted field and a one-line snippet around the match. */
export interface ListMatch {
  /** 'name' | 'id' | 'modelId' | 'description' | 'systemMessage' | 'templates.NAME' | 'messages.N' */
  field: string;
  snippet: string;
}

export interface ListPage {
  profiles: (ProfileSummary & { match?: ListMatch })[];
  /** how many profiles match (every page, not only this one) */
  total: number;
  /** pass as `cursor` for the next page; null on the last page */
  nextCursor: string | null;
  /** with `facets: true` */
  facets?: ListFacets;
}

/** Who is writing and from where; recorded in the log and the audit. */
export interface WriteContext {
  actor: string;
  /** 'local' | 'api:<tokenId>' | 'peer:<peerId>' | 'yjs:<tokenId>' | 'cli' ... */
  origin: string;
  /**
   * Only on applyRemoteUpdate, only when the update merges a DIVERGED state (issue 13): the
   * step 2 of a /sync digest exchange or of a /yjs client (re)connecting, a whole state from
   * the bus, an imported log export. Live updates carry none and are never checked for
   * conflicts (people editing together see each other's changes as they type).
   */
  merge?: MergeContext;
}

/** Hooks of one applyRemoteUpdate call (issue 17.1). */
export interface RemoteHooks {
  /**
   * Called once the update is applied to the profile's live doc and passed every check, before
   * it is durable (a live update, no merge context, of an existing profile; not called for an
   * update that changes nothing or is refused). The /yjs endpoint relays the update to the
   * other editors of the room here; the returned promise still resolves only when it is
   * durable. If the append then fails, the promise rejects (what the editors saw is not stored).
   */
  accepted?(): void;
}

/** What the receiver of a merging update knows about the sender's state (docs/profile-model.md, conflicts). */
export interface MergeContext {
  /**
   * The sender's state vector when it computed the update, or an older one of it (the
   * receiver takes the per-client maximum with the update's own clocks; the sender's delete
   * set travels in the update). The empty state vector (`Uint8Array [0]`) when the update is
   * the sender's whole state.
   */
  remoteStateVector: Uint8Array;
}

/** One version of history(): a closed version (or the open run, newest, with open: true). */
export interface VersionInfo {
  /** the portable v2 ref of the version's content */
  version: VersionRef;
  /** N: the version number (`@N`), 1-based in history order */
  seq: number;
  /** `@N` */
  ref: string;
  /** ISO-8601 time of the version's last change */
  at: string;
  /** the first actor of the run (see actors) */
  actor: string;
  actors: string[];
  /** display form of the actors */
  by: string;
  /** the node that closed the version */
  origin: string;
  node: string;
  /**
   * how the version was closed; 'open' for the entry of changes no version covers yet (open: true);
   * a record from a newer node may carry a reason this release does not know (one lowercase word)
   */
  reason: VersionReason | 'open' | NewerReason;
  message?: string;
  /** dotted paths the version changed */
  fields: string[];
  /** "reason: field, field" */
  summary: string;
  /** true for the open run (changes not yet closed into a version) */
  open?: boolean;
}

export type VersionReason = 'idle' | 'checkpoint' | 'actor' | 'create' | 'revert' | 'delete' | 'import' | 'label' | 'startup' | 'migrate' | 'resolve' | 'merge';
/** A version reason a newer release added (`/^[a-z][a-z0-9-]{0,31}$/`), kept and listed as it is. */
export type NewerReason = string & { readonly newerReason?: never };

/** One log entry of history(id, { entries: 'raw' }). */
export interface EntryInfo {
  /** v2 ref of the content state after the entry */
  version: VersionRef;
  /** the entry's log sequence number */
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
  /** dotted path: 'systemMessage', 'parameters.temperature', 'templates.greeting' */
  path: string;
  kind: 'added' | 'removed' | 'changed';
  before?: unknown;
  after?: unknown;
  /** for text fields: a character diff */
  text?: TextDiffPart[];
}

export interface ProfileDiff {
  from: VersionRef;
  to: VersionRef;
  changes: FieldChange[];
}

export interface AuditRecord {
  /** ISO-8601 */
  at: string;
  actor: string;
  origin: string;
  /** 'profile.create' | 'profile.update' | 'profile.delete' | 'profile.revert' | 'label.set' | 'label.remove'
   *  | 'auth.denied' | 'token.create' | 'token.revoke' | 'key.rotate' | 'sync.rejected' | ... */
  action: string;
  profile?: string;
  fields?: string[];
  /** outcome: 'ok' or 'denied' / 'rejected' */
  outcome: 'ok' | 'denied' | 'rejected';
  details?: Record<string, unknown>;
}

export interface AuditQuery {
  profile?: string;
  actor?: string;
  /** ISO-8601 or ms */
  since?: string | number;
  until?: string | number;
  action?: string;
  limit?: number;
  /** only records of profiles this accepts (records without a profile are left out): a scoped reader's grants */
  profiles?: (id: string) => boolean;
}

export interface ConflictRecord {
  profile: string;
  /** dotted path of the scalar field, e.g. 'parameters.temperature' */
  path: string;
  /** ISO-8601 time the conflict was observed */
  at: string;
  winner: { value: unknown; actor: string; origin: string };
  dropped: { value: unknown; actor: string; origin: string };
}

/** POST /api/profiles/:id/conflicts/:cid/resolve body (DESIGN §6). */
export interface ConflictResolution {
  keep: Keep;
  /** with keep: value only (null removes a template, a message or a key) */
  value?: unknown;
}

/** How a conflict is resolved. */
export type Keep = 'merged' | 'ours' | 'theirs' | 'value';

/** One conflict as the API shows it (DESIGN §6 "Conflicts"). */
export interface ConflictInfo {
  id: string;
  field: string;
  kind: 'text' | 'scalar' | 'create';
  status: 'open' | 'resolved';
  base: unknown;
  ours: unknown;
  theirs: unknown;
  merged: unknown;
  /** ISO-8601 */
  at: string;
  node: string;
  origin: string;
  resolvedAt?: string;
  resolvedBy?: string;
  /** how it was resolved, and the value that was kept */
  resolution?: { keep: Keep; value: unknown; node: string };
}


/** One change notification: the exact Yjs update that was made durable. */
export interface ChangeEvent {
  id: string;
  update: Uint8Array;
  origin: string;
  actor: string;
  /** the view after the change; for live remote updates appended together, the view after the group */
  view: ProfileView;
  seq: number;
  /** the entry's log sequence number (global, increasing in commit order) */
  lsn: number;
  /** true when the profile was created by this change */
  created: boolean;
  /** the writer's `accepted` hook ran for this change (applyRemoteUpdate): live editors have it already */
  relayed?: boolean;
  /**
   * A remote update's entry that also holds structs this node wrote itself (the conflict records
   * a merge found): replication that skips what it received must still pass these on.
   */
  authored?: boolean;
}

/** Stats of one cache, in the shape /api/cache/stats uses. */
export interface CacheStatsSnapshot {
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

export interface ImportReport {
  created: string[];
  updated: string[];
  unchanged: string[];
  rejected: { id: string | null; code: string; message: string }[];
}

/** Typed store events (each with durationMillis); metrics and logs subscribe with `store.on`. */
export interface StoreEvents {
  /** a live Y.Doc was loaded from the log */
  'document-loaded': { id: string; bytes: number; snapshotSeq: number; tailEntries: number; durationMillis: number };
  /** a cold get() read a persisted view into the hot cache */
  'view-loaded': { id: string; bytes: number; source: 'view' | 'replay'; durationMillis: number };
  /** a change was made durable (local write, remote update, label move, revert, import) */
  'profile-written': { id: string; seq: number; bytes: number; action: string; origin: string; durationMillis: number };
  /** a write or remote update was refused (validation or append failure); nothing changed */
  'write-rejected': { id: string; code: string; origin: string; durationMillis: number };
  /** a remote update was applied (or found to add nothing) */
  'remote-applied': { id: string; applied: boolean; bytes: number; durationMillis: number };
  /** a live update overwrote a scalar another writer had set concurrently (audit action `conflict`) */
  'conflict-recorded': { id: string; path: string; durationMillis: number };
  /** a merge of a diverged state recorded a new conflict (issue 13) */
  'conflict-detected': { id: string; conflict: string; field: string; kind: 'text' | 'scalar' | 'create'; origin: string };
  /** a conflict was resolved on this node (keep: merged | ours | theirs | value) */
  'conflict-resolved': { id: string; conflict: string; field: string; keep: string; durationMillis: number };
  /** a version was closed on this node (reason idle, checkpoint, actor, create, ...) */
  'version-closed': { id: string; version: string; reason: string; actors: number; fields: number; durationMillis: number };
  /** closing a version failed (the run stays open and is retried after the idle gap) */
  'version-close-failed': { id: string; code: string };
  /** a schema-1 profile was migrated to schema 2 on its first write here */
  'profile-migrated': { id: string; legacyVersions: number; durationMillis: number };
  /** a render was served */
  rendered: { id: string; ok: boolean; messages: number; missing: number; durationMillis: number };
  'doc-evicted': { id: string };
  'store-opened': { profiles: number; durationMillis: number };
  /** a profile's stored data was found damaged: reads answer PROFILE_DAMAGED until it is repaired */
  'profile-damaged': { id: string; kind: string; message: string };
  /** a damaged profile was rebuilt as a new chain segment (from a peer's full state, or a backup) */
  'profile-repaired': { id: string; source: string; durationMillis: number };
  /** a damaged '#audit' was written again as a new segment: `kept` records of its verified prefix, `lost` not */
  'audit-restarted': { kept: number; lost: number };
}

/** What the store knows to be damaged (ProfileStoreImpl.damaged()). */
export interface DamageSummary {
  profiles: { id: string; findings: { kind: string; seq: number; message: string; at: string }[] }[];
  /** findings that belong to no profile (a damaged seal, WAL, '#audit', an unnamed stream) */
  node: { stream: string; kind: string; message: string; at: string }[];
  /** damage the open found and repaired itself (e.g. kind 'manifest': LevelDB's MANIFEST rebuilt) */
  repaired: { kind: string; message: string; at: string }[];
}

export type StoreEventName = keyof StoreEvents;

export interface ProfileStore {
  create(input: ProfileInput, ctx: WriteContext): Promise<ProfileView>;
  /** Hot path: returns the frozen view synchronously on an LRU hit (no I/O, no Yjs); a promise on a miss. */
  get(id: string): ProfileView | Promise<ProfileView>;
  list(filter?: ListFilter): Promise<ProfileSummary[]>;
  /** A page of the list: filters, text search over prompt text, sort, keyset pagination (in memory, no I/O). */
  search(query?: ListQuery): Promise<ListPage>;
  update(id: string, patch: ProfilePatch, ctx: WriteContext): Promise<ProfileView>;
  /** Tombstone; history stays. */
  delete(id: string, ctx: WriteContext): Promise<void>;

  history(id: string, opts?: { limit?: number }): Promise<VersionInfo[]>;
  /** raw log entries, newest first (`?entries=raw`) */
  entries(id: string, opts?: { limit?: number }): Promise<EntryInfo[]>;
  /** closes the open run into a version with a message (a named checkpoint) */
  checkpoint(id: string, message: string, ctx: WriteContext): Promise<{ version: VersionInfo; created: boolean }>;
  /** render the profile (current, or at a REF) with variables */
  render(id: string, variables: unknown, opts?: { version?: string; label?: string; template?: string }): Promise<import('@profilesync/model').RenderResult>;
  getAt(id: string, ref: VersionRef): Promise<ProfileView>;
  getByLabel(id: string, label: string): Promise<ProfileView>;
  diff(id: string, from: VersionRef, to: VersionRef): Promise<ProfileDiff>;
  revert(id: string, ref: VersionRef, ctx: WriteContext): Promise<ProfileView>;
  setLabel(id: string, label: string, ref: VersionRef, ctx: WriteContext): Promise<ProfileView>;
  removeLabel(id: string, label: string, ctx: WriteContext): Promise<ProfileView>;
  /** Conflict records of a profile (issue 13), open and resolved, newest first. */
  conflicts(id: string): Promise<ConflictInfo[]>;
  /** Resolves one: writes the kept value as a new version (replacing the field) and closes the record everywhere. */
  resolveConflict(id: string, conflictId: string, resolution: ConflictResolution, ctx: WriteContext): Promise<{ view: ProfileView; conflict: ConflictInfo }>;

  audit(query?: AuditQuery): Promise<AuditRecord[]>;
  /** Security events (denied requests, token and key events); appended to the audit chain. */
  recordAudit(record: Omit<AuditRecord, 'at'>): Promise<void>;

  exportJson(ids?: string[]): Promise<ProfileView[]>;
  importJson(data: unknown, ctx: WriteContext): Promise<ImportReport>;

  // --- sync support -------------------------------------------------------
  /** Applies a Yjs update from a peer or a Yjs client: validated, appended with ctx.origin, audited.
   *  Returns applied: false when it added nothing new (not appended again). Creates the profile when unknown. */
  applyRemoteUpdate(id: string, update: Uint8Array, ctx: WriteContext, hooks?: RemoteHooks): Promise<{ applied: boolean; view?: ProfileView }>;
  /** Yjs state vector of a profile (for sync step 1). */
  stateVector(id: string): Promise<Uint8Array>;
  /** Yjs update with everything the holder of `stateVector` lacks (sync step 2). */
  encodeStateAsUpdate(id: string, stateVector?: Uint8Array): Promise<Uint8Array>;
  /** Cheap digest input for fast reconnect: profile id -> hash of its current version (no doc loads). */
  versionHashes(): ReadonlyMap<string, string>;
  /** Open conflict records over every profile and how many profiles have one (the /metrics gauge; no I/O). */
  openConflicts(): { records: number; profiles: number };

  subscribe(listener: (event: ChangeEvent) => void): () => void;
  /** Typed events with durations (document-loaded, profile-written, ...). */
  on<E extends StoreEventName>(event: E, listener: (payload: StoreEvents[E]) => void): () => void;

  /** Exact binary export of one profile's log entries (checksummed; see docs/profile-model.md). */
  exportLog(id: string): Promise<Uint8Array>;
  /** Verifies a binary export and applies it as one remote update with ctx.origin. */
  importLog(data: Uint8Array, ctx: WriteContext): Promise<{ id: string; entries: number; applied: boolean }>;

  cacheStats(): CacheStatsSnapshot[];
  clearCache(name?: string): string[];
  /** Profiles (and node-level findings) known to be damaged: they answer PROFILE_DAMAGED until repaired. */
  damaged(): DamageSummary;
  close(): Promise<void>;
}
