/**
 * Validation of profile content v2, the one validator of every write path: create, patch, revert,
 * import, label moves, remote updates from peers and /yjs clients (core validates the content the
 * doc holds after the update), and the dashboard's editor (before it writes).
 */
import { Issues, issuesError, join, type ValidationIssue } from './issues.js';
import { checkJson, checkString, isPlainObject } from './json.js';
import { PROFILE_ID_PATTERN } from './ids.js';
import { checkParameters } from './parameters.js';
import { MESSAGE_ID_PATTERN } from './positions.js';
import { isStoredRef, LABEL_PATTERN, LATEST_LABEL, profileTag } from './refs.js';
import { lineProblem, STRING_PROBLEM_MESSAGE } from './strings.js';
import { ROLES, type ProfileContentV2 } from './types.js';

export const FIELD_LIMITS = {
  modelIdChars: 256,
  nameChars: 256,
  descriptionChars: 64 * 1024,
  systemMessageChars: 512 * 1024,
  templateChars: 512 * 1024,
  templates: 100,
  messages: 500,
  messageChars: 512 * 1024,
  paramStringChars: 4096,
  paramArrayItems: 64,
  metaKeys: 64,
  labels: 64,
} as const;

export const DEFAULT_MAX_PROFILE_BYTES = 1024 * 1024;
export const TEMPLATE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
export const KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;
export const RESERVED_LABELS: ReadonlySet<string> = new Set([LATEST_LABEL]);

const L = FIELD_LIMITS;

export const CONTENT_KEYS = ['id', 'modelId', 'name', 'description', 'systemMessage', 'templates', 'messages', 'parameters', 'labels', 'meta', 'deleted'] as const;
export type ContentKey = (typeof CONTENT_KEYS)[number];

function line(v: unknown, path: string, max: number, issues: Issues): boolean {
  if (typeof v !== 'string') return issues.add(path, 'invalid_type', 'must be a string');
  if (v.length === 0) return issues.add(path, 'too_small', 'must not be empty');
  if (v.length > max) return issues.add(path, 'too_long', `at most ${max} characters`);
  const p = lineProblem(v);
  return p === undefined || issues.add(path, p, STRING_PROBLEM_MESSAGE[p]);
}

function text(v: unknown, path: string, max: number, issues: Issues): boolean {
  return typeof v === 'string' ? checkString(v, path, issues, max) : issues.add(path, 'invalid_type', 'must be a string');
}

function keyed(v: unknown, path: string, max: number, what: string, issues: Issues): string[] | null {
  if (!isPlainObject(v)) {
    issues.add(path, 'invalid_type', 'must be an object');
    return null;
  }
  const keys = Object.keys(v);
  if (keys.length > max) {
    issues.add(path, 'max-keys', `at most ${max} ${what}`);
    return null;
  }
  return keys;
}

function templates(v: unknown, issues: Issues): boolean {
  const keys = keyed(v, 'templates', L.templates, 'templates', issues);
  if (keys === null) return false;
  const o = v as Record<string, unknown>;
  let ok = true;
  for (const k of keys) {
    const p = join('templates', k);
    ok = (TEMPLATE_NAME_PATTERN.test(k) ? text(o[k], p, L.templateChars, issues) : issues.add(p, 'key-name', `template name must match ${TEMPLATE_NAME_PATTERN.source}`)) && ok;
  }
  return ok;
}

const ROLE_SET: ReadonlySet<string> = new Set(ROLES);

/** Messages as stored/viewed: [{ id, role, content }], ids unique. `needId` false for write inputs (new messages). */
export function checkMessages(v: unknown, issues: Issues, needId = true, path = 'messages'): boolean {
  if (!Array.isArray(v)) return issues.add(path, 'invalid_type', 'must be an array of { role, content }');
  if (v.length > L.messages) return issues.add(path, 'max-items', `at most ${L.messages} messages`);
  const seen = new Set<string>();
  let ok = true;
  for (let i = 0; i < v.length; i++) {
    const m = v[i] as unknown;
    const p = join(path, i);
    if (!isPlainObject(m)) {
      ok = issues.add(p, 'invalid_type', 'must be an object { role, content }');
      continue;
    }
    for (const k of Object.keys(m)) if (k !== 'id' && k !== 'role' && k !== 'content') ok = issues.add(join(p, k), 'unknown-key', `unknown key '${k.slice(0, 64)}' (a message has id, role, content)`);
    const id = m['id'];
    if (id !== undefined || needId) {
      if (typeof id !== 'string' || !MESSAGE_ID_PATTERN.test(id)) ok = issues.add(join(p, 'id'), 'invalid_format', `must match ${MESSAGE_ID_PATTERN.source}`);
      else if (seen.has(id)) ok = issues.add(join(p, 'id'), 'duplicate', `two messages have the id '${id}'`);
      else seen.add(id);
    }
    if (typeof m['role'] !== 'string' || !ROLE_SET.has(m['role'])) ok = issues.add(join(p, 'role'), 'invalid_value', `must be one of ${ROLES.join(', ')}`);
    ok = text(m['content'], join(p, 'content'), L.messageChars, issues) && ok;
  }
  return ok;
}

function primitive(v: unknown, path: string, issues: Issues): boolean {
  if (v === null || typeof v === 'boolean') return true;
  if (typeof v === 'number') return Number.isFinite(v) || issues.add(path, 'invalid_type', 'must be a finite number');
  if (typeof v === 'string') return checkString(v, path, issues, L.paramStringChars);
  if (Array.isArray(v)) {
    if (v.length > L.paramArrayItems) return issues.add(path, 'max-items', `at most ${L.paramArrayItems} items`);
    let ok = true;
    for (let i = 0; i < v.length; i++) ok = (typeof v[i] === 'string' ? checkString(v[i] as string, join(path, i), issues, L.paramStringChars) : issues.add(join(path, i), 'invalid_type', 'must be a string')) && ok;
    return ok;
  }
  return issues.add(path, 'invalid_type', 'must be a string, number, boolean, null or string[]');
}

function meta(v: unknown, issues: Issues): boolean {
  const keys = keyed(v, 'meta', L.metaKeys, 'meta keys', issues);
  if (keys === null) return false;
  const o = v as Record<string, unknown>;
  let ok = true;
  for (const k of keys) {
    const p = join('meta', k);
    ok = (KEY_PATTERN.test(k) ? primitive(o[k], p, issues) : issues.add(p, 'key-name', `key must match ${KEY_PATTERN.source}`)) && ok;
  }
  const tags = o['tags'];
  if (tags !== undefined && (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string' && t.length > 0 && t.length <= 64))) {
    ok = issues.add('meta.tags', 'tags', 'meta.tags must be an array of 1..64 character strings');
  }
  return ok;
}

function labels(v: unknown, id: unknown, issues: Issues): boolean {
  const keys = keyed(v, 'labels', L.labels, 'labels', issues);
  if (keys === null) return false;
  const o = v as Record<string, unknown>;
  // the profile's tag (a SHA-256 of its id) only when a label is there to check
  let tag: string | undefined;
  const tagOf = (): string => (tag ??= typeof id === 'string' ? profileTag(id) : '');
  let ok = true;
  for (const k of keys) {
    const p = join('labels', k);
    if (!LABEL_PATTERN.test(k) || RESERVED_LABELS.has(k)) ok = issues.add(p, 'label-name', 'invalid label name');
    else if (!isStoredRef(o[k], typeof id === 'string' ? id : '', tagOf)) ok = issues.add(p, 'label-value', `a label holds a version reference of this profile (v2.${tagOf()}.…)`);
  }
  return ok;
}

/** Checks one top-level field of content (`content` gives the id for label refs). */
export function checkField(key: string, value: unknown, content: { id?: unknown }, issues: Issues, valid?: unknown): boolean {
  switch (key) {
    case 'id':
      return (typeof value === 'string' && PROFILE_ID_PATTERN.test(value)) || issues.add('id', 'invalid_format', `must match ${PROFILE_ID_PATTERN.source}`);
    case 'modelId':
      return line(value, 'modelId', L.modelIdChars, issues);
    case 'name':
      return line(value, 'name', L.nameChars, issues);
    case 'description':
      return text(value, 'description', L.descriptionChars, issues);
    case 'systemMessage':
      return text(value, 'systemMessage', L.systemMessageChars, issues);
    case 'templates':
      return templates(value, issues);
    case 'messages':
      return checkMessages(value, issues);
    case 'parameters':
      return checkParameters(value, issues, 'parameters', valid);
    case 'labels':
      return labels(value, content.id, issues);
    case 'meta':
      return meta(value, issues);
    case 'deleted':
      return typeof value === 'boolean' || issues.add('deleted', 'invalid_type', 'must be a boolean');
    default:
      return issues.add(key, 'unknown-field', `unknown field '${key.slice(0, 64)}'`);
  }
}

/** Issues of whole content (exactly the content keys, each valid); empty when valid. */
export function contentIssues(content: unknown): ValidationIssue[] {
  const issues = new Issues();
  if (!isPlainObject(content)) {
    issues.add('', 'invalid_type', 'a profile must be an object');
    return issues.list;
  }
  for (const k of Object.keys(content)) if (!(CONTENT_KEYS as readonly string[]).includes(k)) issues.add(k, 'unknown-field', `unknown field '${k.slice(0, 64)}'`);
  for (const k of CONTENT_KEYS) {
    if (!Object.prototype.hasOwnProperty.call(content, k)) issues.add(k, 'required', `${k} is required`);
    else checkField(k, content[k], content, issues);
  }
  return issues.list;
}

/** Validates whole content; throws PROFILE_INVALID / PROFILE_TOO_LARGE with { path, rule, issues }. */
export function validateContent(content: unknown): ProfileContentV2 {
  const issues = contentIssues(content);
  if (issues.length > 0) throw issuesError(issues);
  return content as ProfileContentV2;
}

/** Validates only `keys` of content whose other fields are known valid (no rule spans two fields except labels <- id). */
export function validateFields(content: ProfileContentV2, keys: Iterable<string>, valid?: ProfileContentV2): ProfileContentV2 {
  const issues = new Issues();
  const before = valid as unknown as Record<string, unknown> | undefined;
  for (const k of keys) checkField(k, (content as unknown as Record<string, unknown>)[k], content, issues, before?.[k]);
  if (!issues.ok) throw issuesError(issues.list);
  return content;
}

/** Validates parameters alone (the dashboard's JSON editor, the SDK). */
export function parameterIssues(parameters: unknown): ValidationIssue[] {
  const issues = new Issues();
  checkParameters(parameters, issues);
  return issues.list;
}

export { checkJson };
