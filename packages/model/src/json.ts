/** Checks that a value is plain JSON within limits, with well-formed strings (strings.ts rules). */
import { join, type Issues } from './issues.js';
import { STRING_PROBLEM_MESSAGE, textProblem } from './strings.js';

export const JSON_LIMITS = {
  depth: 32,
  stringChars: 512 * 1024,
  arrayItems: 4096,
  objectKeys: 1024,
  keyChars: 256,
} as const;

/** A plain object (prototype Object or null), no symbols. */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return (proto === Object.prototype || proto === null) && Object.getOwnPropertySymbols(v).length === 0;
}

export function checkString(v: string, path: string, issues: Issues, max: number = JSON_LIMITS.stringChars): boolean {
  if (v.length > max) return issues.add(path, 'too_long', `at most ${max} characters`);
  const p = textProblem(v);
  if (p !== undefined) return issues.add(path, p, STRING_PROBLEM_MESSAGE[p]);
  return true;
}

/** Whether `v` is JSON (null, boolean, finite number, string, array, plain object), recursively. */
export function checkJson(v: unknown, path: string, issues: Issues, depth = 0): boolean {
  switch (typeof v) {
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(v) || issues.add(path, 'invalid_type', 'must be a finite number');
    case 'string':
      return checkString(v, path, issues);
    case 'object':
      break;
    default:
      return issues.add(path, 'invalid_type', `must be a JSON value, not ${typeof v}`);
  }
  if (v === null) return true;
  if (depth >= JSON_LIMITS.depth) return issues.add(path, 'too_deep', `nested deeper than ${JSON_LIMITS.depth} levels`);
  if (Array.isArray(v)) {
    if (v.length > JSON_LIMITS.arrayItems) return issues.add(path, 'max-items', `at most ${JSON_LIMITS.arrayItems} items`);
    let ok = true;
    for (let i = 0; i < v.length; i++) ok = checkJson(v[i], join(path, i), issues, depth + 1) && ok;
    return ok;
  }
  if (!isPlainObject(v)) return issues.add(path, 'invalid_type', 'must be a plain JSON object');
  const keys = Object.keys(v);
  if (keys.length > JSON_LIMITS.objectKeys) return issues.add(path, 'max-keys', `at most ${JSON_LIMITS.objectKeys} keys`);
  let ok = true;
  for (const k of keys) {
    if (k === '__proto__') {
      ok = issues.add(join(path, k), 'key-name', "the key '__proto__' is not allowed");
      continue;
    }
    if (!checkString(k, join(path, k), issues, JSON_LIMITS.keyChars)) {
      ok = false;
      continue;
    }
    ok = checkJson(v[k], join(path, k), issues, depth + 1) && ok;
  }
  return ok;
}
