/**
 * Edge validation of every body, param and query (zod 4). A request of the wrong SHAPE gets
 * 400 REQUEST_INVALID naming the field; the CONTENT of a profile (ranges, sizes, ids in a
 * POST body) is core's business and gets its PROFILE_* codes.
 */
import { z } from 'zod';
import { ProfileSyncError } from '@profilesync/errors';
import { GLOB_RE, ROLES } from './auth/policy.js';

export const PROFILE_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
/** Label names in paths: bounded and free of separators; core applies its own rules on top. */
const LABEL_PARAM_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
const VERSION_MAX = 16_384;

const profileId = z.string().regex(PROFILE_ID_RE, 'must match ^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$');
const versionRef = z.string().min(1).max(VERSION_MAX);
const boolString = z.enum(['true', 'false']).transform((v) => v === 'true');
const intString = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,9}$/, 'must be an integer')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
const shortText = z.string().min(1).max(256);

export const schemas = {
  idParams: z.strictObject({ id: profileId }),
  labelParams: z.strictObject({ id: profileId, label: z.string().regex(LABEL_PARAM_RE, 'must match ^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$') }),
  // any bounded id: one that cannot exist is CONFLICT_NOT_FOUND from the store, like an unknown one
  conflictParams: z.strictObject({ id: profileId, cid: z.string().min(1).max(64) }),
  // any bounded id: one that cannot exist is TOKEN_NOT_FOUND / PEER_NOT_FOUND from the store, like an unknown one
  tokenParams: z.strictObject({ id: z.string().min(1).max(128) }),
  peerParams: z.strictObject({ id: z.string().min(1).max(128) }),
  cacheParams: z.strictObject({ name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, 'must be a cache name') }),

  listQuery: z.strictObject({
    modelId: shortText.optional(),
    label: shortText.optional(),
    tag: shortText.optional(),
    includeDeleted: boolString.optional(),
    q: z.string().max(256).optional(),
    sort: z.enum(['name', 'updated', 'model', 'id']).optional(),
    order: z.enum(['asc', 'desc']).optional(),
    limit: intString(1, 1000).optional(),
    cursor: z.string().min(1).max(2048).optional(),
    facets: boolString.optional(),
    conflicts: z.enum(['open']).optional(),
  }),
  getQuery: z
    .strictObject({ version: versionRef.optional(), label: z.string().min(1).max(64).optional() })
    .refine((q) => !(q.version !== undefined && q.label !== undefined), { message: 'must not be given together with "version" (give one of them)', path: ['label'] }),
  historyQuery: z.strictObject({ limit: intString(1, 100_000).optional(), entries: z.enum(['raw', 'versions']).optional() }),
  diffQuery: z.strictObject({ from: versionRef, to: versionRef }),
  auditQuery: z.strictObject({
    profile: profileId.optional(),
    actor: shortText.optional(),
    action: shortText.optional(),
    since: shortText.optional(),
    until: shortText.optional(),
    limit: intString(1, 100_000).optional(),
  }),
  emptyQuery: z.strictObject({}),
  webhookParams: z.strictObject({ id: z.string().regex(/^[cw][0-9a-f]{15}$/, 'must be a webhook id (16 characters)') }),
  webhookBody: z.strictObject({
    url: z.string().min(1).max(2048),
    events: z.array(z.string()).min(1).max(8).nullable().optional(),
    profiles: z.array(z.string()).min(1).max(100).nullable().optional(),
    name: z.string().min(1).max(64).nullable().optional(),
    secret: z.string().min(1).max(256).optional(),
  }),
  deliveriesQuery: z.strictObject({ limit: intString(1, 200).optional() }),
  changesQuery: z.strictObject({ ids: z.string().min(1).max(140_000).optional(), since: z.string().min(1).max(64).optional() }),

  createBody: z.strictObject({
    id: z.string().max(256).optional(),
    modelId: z.string(),
    name: z.string(),
    description: z.string().optional(),
    systemMessage: z.string().optional(),
    templates: z.record(z.string(), z.string()).optional(),
    messages: z.array(z.unknown()).optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
    meta: z.record(z.string(), z.unknown()).optional(),
  }),
  renderBody: z
    .strictObject({
      variables: z.record(z.string(), z.unknown()).optional(),
      version: versionRef.optional(),
      label: z.string().min(1).max(64).optional(),
      template: z.string().min(1).max(64).optional(),
    })
    .refine((q) => !(q.version !== undefined && q.label !== undefined), { message: 'must not be given together with "version" (give one of them)', path: ['label'] })
    .optional(),
  checkpointBody: z.strictObject({ message: z.string().min(1).max(1000) }),
  patchBody: z.record(z.string(), z.unknown()),
  versionBody: z.strictObject({ version: versionRef }),
  // the store checks the rest (value only with keep: value; a value valid for the field)
  resolveBody: z.strictObject({ keep: z.enum(['merged', 'ours', 'theirs', 'value']), value: z.unknown().optional() }),
  tokenBody: z.strictObject({
    name: z.string().min(1).max(64),
    displayName: z.string().min(1).max(100).optional(),
    email: z.string().min(3).max(254).optional(),
    role: z.enum(ROLES),
    profiles: z.array(z.string().regex(GLOB_RE, 'must be a glob of profile-id characters, * and ?')).min(1).max(100).nullable().optional(),
  }),
  tokenPatchBody: z
    .strictObject({
      role: z.enum(ROLES).optional(),
      profiles: z.array(z.string().regex(GLOB_RE, 'must be a glob of profile-id characters, * and ?')).min(1).max(100).nullable().optional(),
    })
    .refine((b) => b.role !== undefined || b.profiles !== undefined, { message: 'give role and/or profiles', path: ['role'] }),
  peerAddQuery: z.strictObject({ dryRun: boolString.optional() }),
  peerBody: z.strictObject({ url: z.string().min(1).max(2048), key: z.string().min(1).max(128), name: z.string().min(1).max(100).optional() }),
  syncBody: z.strictObject({ timeoutMs: z.number().int().min(1).max(3_600_000).optional() }).optional(),
  emptyBody: z.undefined({ error: 'this route takes no body' }),
} as const;

function fieldOf(issue: z.core.$ZodIssue): string {
  const path = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') path.push(String(issue.keys[0]));
  return path.join('.');
}

const KIND: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  object: 'a JSON object',
  array: 'a JSON array',
  record: 'a JSON object',
  null: 'null',
  undefined: 'absent',
};

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'number' && !Number.isInteger(v)) return 'a fraction';
  return KIND[typeof v] ?? typeof v;
}

/** A sentence a person can act on (never the validator's own wording). */
function describeIssue(issue: z.core.$ZodIssue, schema: z.ZodType): string {
  switch (issue.code) {
    case 'invalid_type': {
      const want = KIND[issue.expected] ?? issue.expected;
      if (!('input' in issue) || issue.input === undefined) return issue.expected === 'undefined' ? 'must be absent' : `is required (${want})`;
      return `must be ${want}, not ${kindOf(issue.input)}`;
    }
    case 'too_small': {
      const min = Number(issue.minimum);
      if (issue.origin === 'string') return min <= 1 ? 'must not be empty' : `must be at least ${min} characters long`;
      if (issue.origin === 'array' || issue.origin === 'set') return min <= 1 ? 'must list at least one item' : `must list at least ${min} items`;
      return `must be ${issue.inclusive === false ? 'more than' : 'at least'} ${min}`;
    }
    case 'too_big': {
      const max = Number(issue.maximum);
      if (issue.origin === 'string') return `must be at most ${max} characters long`;
      if (issue.origin === 'array' || issue.origin === 'set') return `must list at most ${max} items`;
      return `must be ${issue.inclusive === false ? 'less than' : 'at most'} ${max}`;
    }
    case 'invalid_value':
      return issue.values.length === 1 ? `must be ${JSON.stringify(issue.values[0])}` : `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'unrecognized_keys': {
      const shape = issue.path.length === 0 && schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
      return shape.length > 0 ? `is not one this request takes (it takes: ${shape.join(', ')})` : 'is not one this request takes';
    }
    case 'invalid_format':
      return issue.message.startsWith('must') ? issue.message : `has the wrong format (${issue.format})`;
    default:
      return issue.message.startsWith('must') || issue.message.startsWith('give') ? issue.message : `is not valid (${issue.message})`;
  }
}

const WHERE = { body: 'body field', query: 'query parameter', params: 'path parameter' } as const;
const WHOLE = { body: 'the request body', query: 'the query string', params: 'the path' } as const;

/** Parses `value` with `schema`; throws 400 REQUEST_INVALID naming the first bad field in words. */
export function parse<S extends z.ZodType>(schema: S, value: unknown, where: 'body' | 'query' | 'params'): z.output<S> {
  const r = schema.safeParse(value, { reportInput: true });
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const field = fieldOf(issue);
  const what = describeIssue(issue, schema);
  const label = field === '' ? WHOLE[where] : `${WHERE[where]} "${field}"`;
  throw new ProfileSyncError('REQUEST_INVALID', `${label} ${what}`, { details: { field: field === '' ? where : field, in: where } });
}

/** Hot-path shortcuts: the common valid shape is checked by hand; anything else goes through zod for the error. */
export function parseIdParam(params: unknown): string {
  const id = (params as { id?: unknown } | null)?.id;
  if (typeof id === 'string' && PROFILE_ID_RE.test(id) && Object.keys(params as object).length === 1) return id;
  return parse(schemas.idParams, params, 'params').id;
}

export function parseQuery<S extends z.ZodType>(schema: S, query: unknown, empty: z.output<S>): z.output<S> {
  for (const _k in query as object) return parse(schema, query, 'query');
  return empty;
}
