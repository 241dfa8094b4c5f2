/**
 * Building JSON Merge Patches (RFC 7396) on the command line: `key=value` assignments with
 * dotted keys, and the patch that turns one view into another (for `profile edit` and
 * `import` against a server).
 */
import { ProfileSyncError } from '@profilesync/errors';

type JsonObject = Record<string, unknown>;

/** Fields of the view that no patch may carry (computed, or changed through other verbs). */
export const COMPUTED_FIELDS = ['id', 'version', 'updatedAt', 'updatedBy', 'deleted', 'labels', 'schema', 'conflicts'] as const;

const TEXT_FIELDS = new Set(['modelId', 'name', 'description', 'systemMessage']);

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Parses one value: text fields (modelId, name, description, systemMessage, templates.*)
 * keep the raw string (except the bare word null, which removes); everything else is
 * JSON-parsed when it is valid JSON, else kept as a string.
 */
export function parseValue(path: string[], raw: string): unknown {
  if (raw === 'null') return null;
  const isText = (path.length === 1 && TEXT_FIELDS.has(path[0]!)) || (path.length === 2 && path[0] === 'templates');
  if (isText) return raw;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return raw;
  }
}

/** `['parameters.temperature=0.7', 'name=Support bot']` -> `{ parameters: { temperature: 0.7 }, name: 'Support bot' }` */
export function assignmentsToPatch(assignments: string[]): JsonObject {
  const patch: JsonObject = {};
  for (const a of assignments) {
    const eq = a.indexOf('=');
    if (eq <= 0) throw new ProfileSyncError('USAGE', `expected key=value, got ${JSON.stringify(a)}`);
    const key = a.slice(0, eq);
    const path = key.split('.');
    if (path.some((p) => p.length === 0 || p === '__proto__' || p === 'constructor' || p === 'prototype')) {
      throw new ProfileSyncError('USAGE', `bad key ${JSON.stringify(key)}`);
    }
    let obj = patch;
    for (const p of path.slice(0, -1)) {
      const next = obj[p];
      if (next === undefined) obj = obj[p] = {};
      else if (isObject(next)) obj = next;
      else throw new ProfileSyncError('USAGE', `key ${JSON.stringify(key)} conflicts with an earlier assignment`);
    }
    obj[path[path.length - 1]!] = parseValue(path, a.slice(eq + 1));
  }
  return patch;
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

/** The merge patch that turns `before` into `after` (objects recurse; null removes; arrays replace). */
export function mergeDiff(before: JsonObject, after: JsonObject): JsonObject {
  const patch: JsonObject = {};
  for (const k of Object.keys(before)) {
    if (!Object.hasOwn(after, k)) patch[k] = null;
  }
  for (const [k, v] of Object.entries(after)) {
    const old = before[k];
    if (deepEqual(old, v)) continue;
    if (isObject(old) && isObject(v)) {
      const sub = mergeDiff(old, v);
      if (Object.keys(sub).length > 0) patch[k] = sub;
    } else {
      patch[k] = v;
    }
  }
  return patch;
}

/** The editable part of a view (computed fields removed). */
export function editable(view: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(view)) if (!(COMPUTED_FIELDS as readonly string[]).includes(k)) out[k] = v;
  return out;
}
