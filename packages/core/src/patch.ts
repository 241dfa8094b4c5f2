/**
 * JSON Merge Patch (RFC 7396) over the profile view, and the create body. Pure functions over
 * plain content; the result is validated before anything touches the Y.Doc.
 */
import { CoreErrorCode, coreError } from './errors.js';
import type { ProfileContent } from './model.js';

/** Computed or pointer fields no patch may carry. `labels` move only through setLabel/removeLabel. */
export const READONLY_FIELDS: ReadonlySet<string> = new Set(['id', 'version', 'updatedAt', 'updatedBy', 'deleted', 'labels']);
const TEXT = new Set(['description', 'systemMessage']);
const REQUIRED = new Set(['modelId', 'name']);
const MAPS = new Set(['templates', 'parameters', 'meta']);

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

/** Applies a merge patch to content; returns new (unvalidated) content. Throws on structural misuse. */
export function applyMergePatch(current: ProfileContent, patch: unknown): ProfileContent {
  if (!isPlainObject(patch)) throw invalid('', 'patch-type', 'a patch must be a JSON object');
  checkKeys(patch, (k) => TEXT.has(k) || REQUIRED.has(k) || MAPS.has(k), READONLY_FIELDS);
  const next: ProfileContent = { ...current };
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    if (REQUIRED.has(key)) {
      if (value === null) throw invalid(key, 'required', `${key} cannot be removed`);
      (next as unknown as Record<string, unknown>)[key] = value;
    } else if (TEXT.has(key)) {
      (next as unknown as Record<string, unknown>)[key] = value === null ? '' : value;
    } else {
      const cur = current[key as 'templates' | 'parameters' | 'meta'] as Record<string, unknown>;
      (next as unknown as Record<string, unknown>)[key] = mergeMap(cur, value, key);
    }
  }
  return next;
}

const INPUT_FIELDS = new Set(['id', 'modelId', 'name', 'description', 'systemMessage', 'templates', 'parameters', 'meta']);
const INPUT_READONLY: ReadonlySet<string> = new Set(['version', 'updatedAt', 'updatedBy', 'deleted', 'labels']);

/** Content of a new profile from a create body (unvalidated; the caller validates). */
export function contentFromInput(input: unknown, id: string): ProfileContent {
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
    parameters: opt('parameters', {}) as ProfileContent['parameters'],
    labels: {},
    meta: opt('meta', {}) as ProfileContent['meta'],
    deleted: false,
  };
}
