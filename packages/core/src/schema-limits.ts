/** Field limits and name patterns of profile content (shared by the zod schema and its fast pre-check). */

/** Per-field limits (fixed) and the whole-profile limit (configurable, see StoreLimits). */
export const FIELD_LIMITS = {
  modelIdChars: 256,
  nameChars: 256,
  descriptionChars: 64 * 1024,
  systemMessageChars: 512 * 1024,
  templateChars: 512 * 1024,
  templates: 100,
  parameters: 64,
  paramStringChars: 4096,
  paramArrayItems: 64,
  stopItems: 16,
  stopChars: 256,
  maxTokens: 10_000_000,
  metaKeys: 64,
  labels: 64,
} as const;

export const DEFAULT_MAX_PROFILE_BYTES = 1024 * 1024;

export const TEMPLATE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
export const KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;
/** Label names, Langfuse-like: lower-case; 'latest' is reserved (automatic). */
export const LABEL_PATTERN = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
export const RESERVED_LABELS: ReadonlySet<string> = new Set(['latest']);
