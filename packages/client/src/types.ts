/**
 * Public shapes of @profilesync/client. They mirror the node's HTTP API (DESIGN §6, profile
 * model v2) and are declared here, not imported, so the published types stand alone; a test
 * checks they stay assignable to the model package's own types.
 */

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export type Role = 'system' | 'developer' | 'user' | 'assistant';

export interface Message {
  id: string;
  role: Role;
  content: string;
}

export interface FunctionTool {
  type: 'function';
  function: { name: string; description?: string; parameters?: JsonObject; strict?: boolean | null };
}

export interface CustomTool {
  type: 'custom';
  custom: { name: string; description?: string; format?: JsonObject };
}

export type Tool = FunctionTool | CustomTool;

/** Parameters: known OpenAI-compatible keys keep their types and ranges; anything else lives under `extra`. */
export interface ProfileParameters {
  temperature?: number;
  top_p?: number;
  max_tokens?: number;
  max_completion_tokens?: number;
  stop?: string | string[];
  seed?: number;
  presence_penalty?: number;
  frequency_penalty?: number;
  logit_bias?: Record<string, number>;
  response_format?: JsonObject;
  tools?: Tool[];
  tool_choice?: string | JsonObject;
  parallel_tool_calls?: boolean;
  reasoning_effort?: string;
  verbosity?: string;
  n?: number;
  user?: string;
  logprobs?: boolean;
  top_logprobs?: number;
  modalities?: string[];
  audio?: JsonObject;
  service_tier?: string;
  store?: boolean;
  metadata?: Record<string, string>;
  prediction?: JsonObject;
  prompt_cache_key?: string;
  safety_identifier?: string;
  web_search_options?: JsonObject;
  /** keys the node does not know (model- or provider-specific), any JSON */
  extra?: JsonObject;
  [key: string]: JsonValue | Tool[] | undefined;
}

export type MetaValue = string | number | boolean | null | string[];

/** A profile as the node serves it (GET /api/profiles/:id). */
export interface ProfileView {
  id: string;
  modelId: string;
  name: string;
  description: string;
  systemMessage: string;
  /** chat prompt messages (empty for profiles without any) */
  messages: Message[];
  templates: Record<string, string>;
  parameters: ProfileParameters;
  labels: Record<string, string>;
  meta: Record<string, MetaValue>;
  deleted: boolean;
  /** portable version reference of this content */
  version: string;
  updatedAt: string;
  updatedBy: string;
  /** open conflict records: apart edits merged into a value neither side wrote alone (GET /api/profiles/:id/conflicts) */
  conflicts: number;
  /** the stored profile schema: 2, or 1 for a profile written by older code and not migrated yet */
  schema: number;
}

/** A fallback profile: what `get` serves when the node cannot be reached and nothing was cached. */
export type FallbackProfile = Partial<ProfileView> & { modelId: string };

export type RenderVariables = Record<string, string | number | boolean>;

export interface RenderedMessage {
  role: Role;
  content: string;
}

/**
 * RENDER_UNUSED_VARIABLE: a variable given that no rendered text uses. RENDER_MALFORMED_VARIABLE:
 * `variable` is text that looks like a variable but is none (`{{ first name }}`, `{{#if x}}`,
 * `{{name}`), sent to the model as typed; `path` is where (`systemMessage`, `messages.ID.content`,
 * `templates.NAME`). RENDER_OPEN_CONFLICTS: the current state was rendered while `conflicts` merge
 * conflicts are open (its text may be a mix nobody wrote; a label or version before it is not).
 */
export type RenderWarning = { code: 'RENDER_UNUSED_VARIABLE'; variable: string } | { code: 'RENDER_MALFORMED_VARIABLE'; variable: string; path: string } | { code: 'RENDER_OPEN_CONFLICTS'; conflicts: number };

/** What render() returns: the filled prompt, and the exact body of an OpenAI-compatible chat call. */
export interface RenderResult {
  id: string;
  version: string;
  modelId: string;
  messages: RenderedMessage[];
  parameters: ProfileParameters;
  warnings: RenderWarning[];
  /** `{ model, messages, ...parameters, ...parameters.extra }` */
  request: JsonObject;
}

/** Which state of a profile to read: the current one (default), a label's, or a version's. */
export interface Selector {
  label?: string;
  /** a version reference: `@N`, `v2.…` / `v1.…` (immutable content), or a label name */
  version?: string;
}

/** Data of one change event of the node's change feed (and of a webhook delivery): the profile's state after the change. */
export interface ChangeData {
  id: string;
  version: string;
  labels: Record<string, string>;
  deleted: boolean;
  /** open conflict records of the profile after the change (a merge that opens one, or a resolution, is a change) */
  conflicts: number;
}

/** The kinds of change a webhook delivery stands for (`event`, `events`). */
export type WebhookEvent = 'profile.created' | 'profile.updated' | 'profile.deleted' | 'label.moved' | 'conflict.opened' | 'conflict.resolved';

/** Where a served value came from. */
export type ValueSource = 'node' | 'persisted' | 'fallback';

/** Stats of a cache (the cache package's CacheStats). */
export interface CacheStats {
  backend: string;
  hits: number;
  misses: number;
  sets: number;
  deletes: number;
  evictions: number;
  expirations: number;
  size: number;
  defaultTtl: number | null;
  [extra: string]: unknown;
}

/** A key-value cache with ttls and glob invalidation: the cache package's CacheInterface (memory, Redis, tiered, fallback). */
export interface CacheLike {
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown, options?: { ttl?: number }): Promise<void>;
  delete(key: string): Promise<boolean>;
  exists(key: string): Promise<boolean>;
  getTtl(key: string): Promise<number | null | undefined>;
  clear(): Promise<void>;
  keys(pattern?: string): Promise<string[]>;
  invalidatePattern(pattern: string): Promise<number>;
  stats(): Promise<CacheStats>;
  close(): Promise<void>;
}
