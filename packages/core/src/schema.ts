/**
 * Validation of profile content (zod 4), applied at the edge of every write: create, patch,
 * remote update, import. One schema for every path, so a remote peer cannot store what a
 * local caller could not. A conservative pre-check (fast-valid.ts) skips zod for values it
 * surely accepts; zod still decides (and words the error) for everything else.
 */
import { z } from 'zod';
import { CoreErrorCode, coreError } from './errors.js';
import { PROFILE_ID_PATTERN } from './ids.js';
import type { ProfileContent } from './model.js';
import { DEFAULT_MAX_PROFILE_BYTES, FIELD_LIMITS, KEY_PATTERN, LABEL_PATTERN, RESERVED_LABELS, TEMPLATE_NAME_PATTERN } from './schema-limits.js';
import { fastContent, fastField } from './fast-valid.js';

export { DEFAULT_MAX_PROFILE_BYTES, FIELD_LIMITS, KEY_PATTERN, LABEL_PATTERN, RESERVED_LABELS, TEMPLATE_NAME_PATTERN };

const L = FIELD_LIMITS;

const primitive = z.union([
  z.string().max(L.paramStringChars),
  z.number().refine(Number.isFinite, { message: 'must be a finite number' }),
  z.boolean(),
  z.null(),
  z.array(z.string().max(L.paramStringChars)).max(L.paramArrayItems),
]);

const keyed = (max: number, what: string) => (value: Record<string, unknown>, ctx: z.RefinementCtx) => {
  const keys = Object.keys(value);
  if (keys.length > max) ctx.addIssue({ code: 'custom', message: `at most ${max} ${what}`, params: { rule: 'max-keys' } });
  for (const k of keys) {
    if (!KEY_PATTERN.test(k)) ctx.addIssue({ code: 'custom', path: [k], message: `key must match ${KEY_PATTERN.source}`, params: { rule: 'key-name' } });
  }
};

export const parametersSchema = z
  .object({
    temperature: z.number().min(0).max(2).optional(),
    top_p: z.number().min(0).max(1).optional(),
    max_tokens: z.int().min(1).max(L.maxTokens).optional(),
    stop: z.array(z.string().max(L.stopChars)).max(L.stopItems).optional(),
    seed: z.int().optional(),
    presence_penalty: z.number().min(-2).max(2).optional(),
    frequency_penalty: z.number().min(-2).max(2).optional(),
  })
  .catchall(primitive)
  .superRefine(keyed(L.parameters, 'parameters'));

export const metaSchema = z
  .record(z.string(), primitive)
  .superRefine(keyed(L.metaKeys, 'meta keys'))
  .refine((m) => m['tags'] === undefined || (Array.isArray(m['tags']) && m['tags'].every((t) => t.length > 0 && t.length <= 64)), {
    message: 'meta.tags must be an array of 1..64 character strings',
    path: ['tags'],
    params: { rule: 'tags' },
  });

export const templatesSchema = z
  .record(z.string(), z.string().max(L.templateChars))
  .superRefine((value, ctx) => {
    const keys = Object.keys(value);
    if (keys.length > L.templates) ctx.addIssue({ code: 'custom', message: `at most ${L.templates} templates`, params: { rule: 'max-keys' } });
    for (const k of keys) {
      if (!TEMPLATE_NAME_PATTERN.test(k)) ctx.addIssue({ code: 'custom', path: [k], message: `template name must match ${TEMPLATE_NAME_PATTERN.source}`, params: { rule: 'key-name' } });
    }
  });

export const labelsSchema = z.record(z.string(), z.string().min(1).max(4096)).superRefine((value, ctx) => {
  const keys = Object.keys(value);
  if (keys.length > L.labels) ctx.addIssue({ code: 'custom', message: `at most ${L.labels} labels`, params: { rule: 'max-keys' } });
  for (const k of keys) {
    if (!LABEL_PATTERN.test(k) || RESERVED_LABELS.has(k)) ctx.addIssue({ code: 'custom', path: [k], message: 'invalid label name', params: { rule: 'label-name' } });
  }
});

export const contentSchema = z.strictObject({
  id: z.string().regex(PROFILE_ID_PATTERN),
  modelId: z.string().min(1).max(L.modelIdChars),
  name: z.string().min(1).max(L.nameChars),
  description: z.string().max(L.descriptionChars),
  systemMessage: z.string().max(L.systemMessageChars),
  templates: templatesSchema,
  parameters: parametersSchema,
  labels: labelsSchema,
  meta: metaSchema,
  deleted: z.boolean(),
});

/** The create body (ProfileInput), strict: computed fields are rejected before this runs. */
export const inputSchema = z.strictObject({
  id: z.string().optional(),
  modelId: z.string(),
  name: z.string(),
  description: z.string().optional(),
  systemMessage: z.string().optional(),
  templates: z.record(z.string(), z.unknown()).optional(),
  parameters: z.record(z.string(), z.unknown()).optional(),
  meta: z.record(z.string(), z.unknown()).optional(),
});

export interface ValidationIssue {
  path: string;
  rule: string;
  message: string;
}

function issueRule(issue: z.core.$ZodIssue): string {
  if (issue.code === 'custom') {
    const rule = (issue.params as { rule?: unknown } | undefined)?.rule;
    return typeof rule === 'string' ? rule : 'custom';
  }
  return issue.code;
}

/** Whether an issue is a size limit (PROFILE_TOO_LARGE) rather than a shape/range rule. */
export function isSizeIssue(issue: z.core.$ZodIssue): boolean {
  if (issue.code === 'too_big' && issue.origin === 'string') return true;
  return issue.code === 'custom' && issueRule(issue) === 'max-keys';
}

/** Turns a zod failure into PROFILE_TOO_LARGE or PROFILE_INVALID with {path, rule, issues}. */
export function validationError(error: z.ZodError, prefix = ''): Error {
  const issues: ValidationIssue[] = error.issues.slice(0, 10).map((i) => ({
    path: [prefix, ...i.path.map(String)].filter((x) => x !== '').join('.'),
    rule: issueRule(i),
    message: i.message,
  }));
  const size = error.issues.find(isSizeIssue);
  const first = size ?? error.issues[0];
  const head = issues[error.issues.indexOf(first as z.core.$ZodIssue)] ?? issues[0];
  const code = size ? CoreErrorCode.TOO_LARGE : CoreErrorCode.INVALID;
  return coreError(code, `invalid profile: ${head?.path || '(root)'}: ${head?.message ?? 'invalid'}`, {
    path: head?.path ?? '',
    rule: head?.rule ?? 'invalid',
    issues,
  });
}

/** Validates full content; throws the coded error. */
export function validateContent(content: unknown): ProfileContent {
  if (fastContent(content)) return content as ProfileContent;
  const r = contentSchema.safeParse(content);
  if (!r.success) throw validationError(r.error);
  return content as ProfileContent;
}

const FIELD_SCHEMAS = contentSchema.shape;

/**
 * Validates only the listed top-level fields of content whose other fields are known valid
 * (the fields are independent: no rule spans two fields). Same codes and details as
 * validateContent; used on the local write path where a patch touches a few fields.
 */
export function validateFields(content: ProfileContent, keys: Iterable<keyof ProfileContent>): ProfileContent {
  for (const k of keys) {
    if (fastField(k, content[k])) continue;
    const r = FIELD_SCHEMAS[k].safeParse(content[k]);
    if (!r.success) throw validationError(r.error, k);
  }
  return content;
}
