/**
 * JSON Merge Patch (RFC 7396) over the profile view, and the create body. Pure functions over
 * plain content; the result is validated before anything touches the Y.Doc.
 */
import { newMessageId, wellFormed } from '@profilesync/model';
import { messageIds } from './create.js';
import { CoreErrorCode, coreError } from './errors.js';
import type { ProfileContent } from './model.js';

/** Computed or pointer fields no patch may carry. `labels` move only through setLabel/removeLabel. */
export const READONLY_FIELDS: ReadonlySet<string> = new Set(['id', 'version', 'updatedAt', 'updatedBy', 'deleted', 'labels', 'schema', 'conflicts']);
const TEXT = new Set(['description', 'systemMessage']);
const REQUIRED = new Set(['modelId', 'name']);
const MAPS = new Set(['templates', 'parameters', 'meta']);
const LISTS = new Set(['messages']);

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

function invalid(path: string, rule: string, message: string): Error {
  return coreError(CoreErrorCode.INVALID, message, { path, rule, issues: [{ path, rule, message }] });
}

function checkKeys(body: Record<string, unknown>, allowed: (k: string) => boolean, readonly: ReadonlySet<string>): void {
  for (const key of Object.keys(body)) {
    if (readonly.has(key)) {
      const hint = key === 'labels' ? ' (use setLabel/removeLabel)' : '';
      throw coreError(CoreErrorCode.READONLY_FIELD, `field '${key}' cannot be written${hint}`, { path: key });
    }
    if (!allowed(key)) throw invalid(key, 'unknown-field', `unknown field '${key}'`);
  }
}

function mergeMap(current: Record<string, unknown>, patch: unknown, path: string): Record<string, unknown> {
  if (patch === null) return {};
  if (!isPlainObject(patch)) throw invalid(path, 'type', `${path} must be an object`);
  const out: Record<string, unknown> = { ...current };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else if (v !== undefined) out[k] = v;
  }
  return out;
}

/**
 * Messages as written by a caller: the whole list in its new order; a message without an id is
 * new and gets one; a message with a known id keeps its identity (its content is then applied as
 * a character diff, a changed position as a move). Other shapes are left to the validator.
 */
export function withMessageIds(messages: unknown, ids?: (string | undefined)[]): unknown {
  if (!Array.isArray(messages)) return messages;
  return messages.map((m: unknown, i) => (isPlainObject(m) && m['id'] === undefined ? { id: ids?.[i] ?? newMessageId(), ...m } : m));
}

/**
 * An empty tool list and an empty `extra` are the same as none (the doc keeps both in maps, and
 * an empty map is not shown): dropped, so every path shows the same view.
 */
export function normalizeParameters(p: unknown): unknown {
  if (!isPlainObject(p)) return p;
  const emptyTools = Array.isArray(p['tools']) && p['tools'].length === 0;
  const emptyExtra = isPlainObject(p['extra']) && Object.keys(p['extra']).length === 0;
  if (!emptyTools && !emptyExtra) return p;
  const out = { ...p };
  if (emptyTools) delete out['tools'];
  if (emptyExtra) delete out['extra'];
  return out;
}

/** parameters: keys merge (null removes); `extra` merges one level deeper; any other value is replaced whole. */
function mergeParameters(current: Record<string, unknown>, patch: unknown): Record<string, unknown> {
  if (patch === null) return {};
  if (!isPlainObject(patch)) throw invalid('parameters', 'type', 'parameters must be an object');
  const out = mergeMap(current, patch, 'parameters');
  const extra = patch['extra'];
  if (isPlainObject(extra)) {
    const merged = mergeMap(isPlainObject(current['extra']) ? current['extra'] : {}, extra, 'parameters.extra');
    if (Object.keys(merged).length > 0) out['extra'] = merged;
    else delete out['extra'];
  }
  return normalizeParameters(out) as Record<string, unknown>;
}

/** Applies a merge patch to content; returns new (unvalidated) content. Throws on structural misuse. */
export function applyMergePatch(current: ProfileContent, rawPatch: unknown): ProfileContent {
  // lone surrogates become U+FFFD, as on the Yjs wire (docs/profile-model.md §4)
  const patch = wellFormed(rawPatch);
  if (!isPlainObject(patch)) throw invalid('', 'patch-type', 'a patch must be a JSON object');
  checkKeys(patch, (k) => TEXT.has(k) || REQUIRED.has(k) || MAPS.has(k) || LISTS.has(k), READONLY_FIELDS);
  const next: ProfileContent = { ...current };
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    if (REQUIRED.has(key)) {
      if (value === null) throw invalid(key, 'required', `${key} cannot be removed`);
      (next as unknown as Record<string, unknown>)[key] = value;
    } else if (TEXT.has(key)) {
      (next as unknown as Record<string, unknown>)[key] = value === null ? '' : value;
    } else if (key === 'messages') {
      (next as unknown as Record<string, unknown>)[key] = value === null ? [] : withMessageIds(value);
    } else if (key === 'parameters') {
      next.parameters = mergeParameters(current.parameters as Record<string, unknown>, value) as ProfileContent['parameters'];
    } else {
      const cur = current[key as 'templates' | 'parameters' | 'meta'] as Record<string, unknown>;
      (next as unknown as Record<string, unknown>)[key] = mergeMap(cur, value, key);
    }
  }
  return next;
}

const INPUT_FIELDS = new Set(['id', 'modelId', 'name', 'description', 'systemMessage', 'templates', 'messages', 'parameters', 'meta']);
const INPUT_READONLY: ReadonlySet<string> = new Set(['version', 'updatedAt', 'updatedBy', 'deleted', 'labels', 'schema', 'conflicts']);

/** Content of a new profile from a create body (unvalidated; the caller validates). */
export function contentFromInput(rawInput: unknown, id: string): ProfileContent {
  const input = wellFormed(rawInput);
  if (!isPlainObject(input)) throw invalid('', 'input-type', 'a profile must be a JSON object');
  checkKeys(input, (k) => INPUT_FIELDS.has(k), INPUT_READONLY);
  const opt = (k: string, dflt: unknown): unknown => (input[k] === undefined || input[k] === null ? dflt : input[k]);
  return {
    id,
    modelId: input['modelId'] as string,
    name: input['name'] as string,
    description: opt('description', '') as string,
    systemMessage: opt('systemMessage', '') as string,
    templates: opt('templates', {}) as Record<string, string>,
    // a new profile's messages without ids get ids derived from them (create.ts: the same input
    // creates the same messages on every node, so identical creates deduplicate)
    messages: withMessageIds(opt('messages', []), Array.isArray(input['messages']) ? messageIds(id, input['messages'] as never[]) : undefined) as ProfileContent['messages'],
    parameters: normalizeParameters(opt('parameters', {})) as ProfileContent['parameters'],
    labels: {},
    meta: opt('meta', {}) as ProfileContent['meta'],
    deleted: false,
  };
}
