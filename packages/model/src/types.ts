/** Shapes of the profile model v2 (DESIGN §6 second round; docs/profile-model.md). */

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export const ROLES = ['system', 'developer', 'user', 'assistant'] as const;
export type Role = (typeof ROLES)[number];

/** A message of the profile's chat prompt; `content` merges per character like systemMessage. */
export interface Message {
  /** stable id (new messages get one); order and edits are tracked by it */
  id: string;
  role: Role;
  content: string;
}

/** A message as a caller may write it: without an id it is a new message. */
export interface MessageInput {
  id?: string;
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

/** The profile content that versions capture (the view minus computed fields and pointers). */
export interface ProfileContentV2 {
  id: string;
  modelId: string;
  name: string;
  description: string;
  systemMessage: string;
  templates: Record<string, string>;
  messages: Message[];
  parameters: ProfileParameters;
  labels: Record<string, string>;
  meta: Record<string, MetaValue>;
  deleted: boolean;
}

/** The materialized view (canonical JSON: keys sorted). */
export interface ProfileViewV2 extends ProfileContentV2 {
  /** number of open conflict records */
  conflicts: number;
  schema: 2;
  /** v2 ref of the current content state */
  version: string;
  updatedAt: string;
  updatedBy: string;
}

export type RenderVariables = Record<string, string | number | boolean>;

/**
 * RENDER_UNUSED_VARIABLE: a variable given that no rendered text uses. RENDER_MALFORMED_VARIABLE:
 * `variable` is text that looks like a variable but is none (`{{ first name }}`), sent as typed;
 * `path` is where it is (`systemMessage`, `messages.ID.content`, `templates.NAME`). RENDER_OPEN_CONFLICTS: the current state was rendered while `conflicts` merge
 * conflicts are open (its text may be a mix nobody wrote; a label or version before it is not).
 */
export type RenderWarning = { code: 'RENDER_UNUSED_VARIABLE'; variable: string } | { code: 'RENDER_MALFORMED_VARIABLE'; variable: string; path: string } | { code: 'RENDER_OPEN_CONFLICTS'; conflicts: number };

export interface RenderedMessage {
  role: Role;
  content: string;
}

/** POST /api/profiles/:id/render answer (and the SDK's render()). */
export interface RenderResult {
  id: string;
  version: string;
  modelId: string;
  messages: RenderedMessage[];
  parameters: ProfileParameters;
  warnings: RenderWarning[];
  /** the exact body of an OpenAI-compatible chat completions call: model, messages, parameters, extra keys */
  request: JsonObject;
}
