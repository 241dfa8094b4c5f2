/**
 * Canonical JSON: every object is rebuilt with its keys inserted in sorted order, then
 * JSON.stringify'd. JS engines order integer-like keys first (ascending) and the rest by
 * insertion, so the text is a pure function of the value: two peers that converged, and a
 * rebuild from the log, produce byte-identical bytes whatever order Y.Map iterated in.
 */
export function sortDeep<T>(value: T): T {
  if (Array.isArray(value)) return value.map(sortDeep) as T;
  if (value !== null && typeof value === 'object') {
    const src = value as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(src).sort()) {
      const v = src[key];
      if (v !== undefined) out[key] = sortDeep(v);
    }
    return out as T;
  }
  return value;
}

/** Objects known to be sortDeep output, deep-frozen (so their key order and JSON text never change). */
const CANONICAL = new WeakSet<object>();
/** JSON text of canonical objects, computed once per object. */
const JSON_TEXT = new WeakMap<object, string>();

/**
 * sortDeep for a map of the content, memoized: the result is deep-frozen and remembered, so a
 * map a write did not touch (the same frozen object as in the previous view) is neither sorted
 * nor serialized again.
 */
export function canonicalObject<T extends object>(value: T): T {
  if (CANONICAL.has(value)) return value;
  const out = deepFreeze(sortDeep(value));
  if (out !== null && typeof out === 'object') CANONICAL.add(out);
  return out;
}

/**
 * A map of the content with its top-level keys in sorted order, values kept as they are (deep-
 * frozen, not re-sorted): JSON values stored atomically in the doc keep the key order their
 * writer gave them on every peer (Yjs encodes them as written), and that order can matter (a
 * JSON Schema's properties order is the order a model writes them). Memoized like
 * canonicalObject; `inner` canonicalizes a value (e.g. parameters.extra, itself a Y.Map).
 */
export function canonicalShallow<T extends object>(value: T, inner?: (key: string, v: unknown) => unknown): T {
  if (CANONICAL.has(value)) return value;
  if (Array.isArray(value)) {
    const arr = deepFreeze(value);
    CANONICAL.add(arr);
    return arr;
  }
  const src = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of sortedKeys(src)) {
    const v = src[key];
    if (v !== undefined) out[key] = inner === undefined ? v : inner(key, v);
  }
  deepFreeze(out);
  CANONICAL.add(out);
  return out as T;
}

/** Whether `value` is a canonical (frozen, memoized) object made by canonicalObject/canonicalShallow. */
export function isCanonical(value: object): boolean {
  return CANONICAL.has(value);
}

/**
 * Object.keys in sorted order (the default sort: UTF-16 code units). A map merged from a canonical
 * one usually has its keys in order already; checking that is one pass, sorting is not needed then.
 */
function sortedKeys(src: Record<string, unknown>): string[] {
  const keys = Object.keys(src);
  for (let i = 1; i < keys.length; i++) if ((keys[i - 1] as string) > (keys[i] as string)) return keys.sort();
  return keys;
}

/** JSON.stringify(value), cached for canonical (frozen) objects. */
export function objectJson(value: object): string {
  if (!CANONICAL.has(value)) return JSON.stringify(value);
  let text = JSON_TEXT.get(value);
  if (text === undefined) {
    text = JSON.stringify(value);
    JSON_TEXT.set(value, text);
  }
  return text;
}

/** Characters JSON.stringify escapes (and, conservatively, every surrogate). */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** JSON.stringify(s) for a string, without the per-character escaping pass when nothing needs escaping. */
export function stringJson(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`;
}

export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortDeep(value));
}

export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Structural equality of JSON values (key order ignored). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => jsonEqual(x, bb[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao);
  if (ak.length !== Object.keys(bo).length) return false;
  return ak.every((k) => Object.prototype.hasOwnProperty.call(bo, k) && jsonEqual(ao[k], bo[k]));
}
