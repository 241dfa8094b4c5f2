/**
 * A fast, conservative pre-check of profile fields. Each function returns true only for a value
 * the zod schema (schema.ts) surely accepts; for anything else (including values zod would accept
 * but that look unusual here) it returns false and the caller runs zod, which then decides and
 * builds the coded error. So zod stays the one definition of what is valid; this only skips it
 * for the common well-formed write (~20 us of zod per patch). A property test pins
 * "fast accepts => zod accepts".
 */
import { PROFILE_ID_PATTERN } from './ids.js';
import type { ProfileContent } from './model.js';
import { FIELD_LIMITS as L, KEY_PATTERN, LABEL_PATTERN, RESERVED_LABELS, TEMPLATE_NAME_PATTERN } from './schema-limits.js';

/** A plain object with string keys only (no symbols, no own '__proto__'), as zod's record/object read it. */
function plainKeys(o: unknown): string[] | null {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) return null;
  const proto = Object.getPrototypeOf(o) as unknown;
  if (proto !== Object.prototype && proto !== null) return null;
  if (Object.getOwnPropertySymbols(o).length > 0) return null;
  const keys = Object.keys(o);
  for (const k of keys) if (k === '__proto__') return null;
  return keys;
}

const str = (v: unknown, min: number, max: number): boolean => typeof v === 'string' && v.length >= min && v.length <= max;
const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const inRange = (v: unknown, min: number, max: number): boolean => finite(v) && v >= min && v <= max;

function stringArray(v: unknown, maxItems: number, maxChars: number): v is string[] {
  if (!Array.isArray(v) || v.length > maxItems) return false;
  for (let i = 0; i < v.length; i++) if (!str(v[i], 0, maxChars)) return false;
  return true;
}

/** The catch-all primitive of parameters and meta. */
function primitive(v: unknown): boolean {
  if (v === null || typeof v === 'boolean') return true;
  if (typeof v === 'string') return v.length <= L.paramStringChars;
  if (typeof v === 'number') return Number.isFinite(v);
  return stringArray(v, L.paramArrayItems, L.paramStringChars);
}

function knownParameter(key: string, v: unknown): boolean | undefined {
  switch (key) {
    case 'temperature':
      return inRange(v, 0, 2);
    case 'top_p':
      return inRange(v, 0, 1);
    case 'max_tokens':
      return Number.isSafeInteger(v) && (v as number) >= 1 && (v as number) <= L.maxTokens;
    case 'stop':
      return stringArray(v, L.stopItems, L.stopChars);
    case 'seed':
      return Number.isSafeInteger(v);
    case 'presence_penalty':
    case 'frequency_penalty':
      return inRange(v, -2, 2);
    default:
      return undefined;
  }
}

export function fastParameters(v: unknown): boolean {
  const keys = plainKeys(v);
  if (keys === null || keys.length > L.parameters) return false;
  const o = v as Record<string, unknown>;
  for (const k of keys) {
    if (!KEY_PATTERN.test(k)) return false;
    const known = knownParameter(k, o[k]);
    if (known === false || (known === undefined && !primitive(o[k]))) return false;
  }
  return true;
}

export function fastMeta(v: unknown): boolean {
  const keys = plainKeys(v);
  if (keys === null || keys.length > L.metaKeys) return false;
  const o = v as Record<string, unknown>;
  for (const k of keys) if (!KEY_PATTERN.test(k) || !primitive(o[k])) return false;
  const tags = o['tags'];
  if (tags === undefined) return true;
  if (!Array.isArray(tags)) return false;
  for (const t of tags as unknown[]) if (typeof t !== 'string' || t.length === 0 || t.length > 64) return false;
  return true;
}

export function fastTemplates(v: unknown): boolean {
  const keys = plainKeys(v);
  if (keys === null || keys.length > L.templates) return false;
  const o = v as Record<string, unknown>;
  for (const k of keys) if (!TEMPLATE_NAME_PATTERN.test(k) || !str(o[k], 0, L.templateChars)) return false;
  return true;
}

export function fastLabels(v: unknown): boolean {
  const keys = plainKeys(v);
  if (keys === null || keys.length > L.labels) return false;
  const o = v as Record<string, unknown>;
  for (const k of keys) if (!LABEL_PATTERN.test(k) || RESERVED_LABELS.has(k) || !str(o[k], 1, 4096)) return false;
  return true;
}

/** Whether the field `key` of content surely passes its zod schema. */
export function fastField(key: keyof ProfileContent, v: unknown): boolean {
  switch (key) {
    case 'id':
      return typeof v === 'string' && PROFILE_ID_PATTERN.test(v);
    case 'modelId':
      return str(v, 1, L.modelIdChars);
    case 'name':
      return str(v, 1, L.nameChars);
    case 'description':
      return str(v, 0, L.descriptionChars);
    case 'systemMessage':
      return str(v, 0, L.systemMessageChars);
    case 'templates':
      return fastTemplates(v);
    case 'parameters':
      return fastParameters(v);
    case 'labels':
      return fastLabels(v);
    case 'meta':
      return fastMeta(v);
    case 'deleted':
      return typeof v === 'boolean';
    default:
      return false;
  }
}

export const CONTENT_KEYS: readonly (keyof ProfileContent)[] = ['id', 'modelId', 'name', 'description', 'systemMessage', 'templates', 'parameters', 'labels', 'meta', 'deleted'];

/** Whether whole content surely passes the strict content schema (exactly the ten keys, each valid). */
export function fastContent(v: unknown): boolean {
  const keys = plainKeys(v);
  if (keys === null || keys.length !== CONTENT_KEYS.length) return false;
  const o = v as Record<string, unknown>;
  for (const k of CONTENT_KEYS) {
    if (!Object.prototype.hasOwnProperty.call(o, k) || !fastField(k, o[k])) return false;
  }
  return true;
}
