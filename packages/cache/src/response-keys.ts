/**
 * Keys of the LLM-response cache. One key per (profile id, profile version, operation,
 * options, input text, optional question):
 *
 *   <ns>:p=<profileId>:v=<version>:o=<operation>:x=<options hash>:t=<text>[:q=<question>]
 *
 * - every value is percent-escaped so it never contains ':', '=', '%', glob specials or
 *   control characters; each segment is tagged, so `<ns>:p=<id>:*` and `<ns>:*:o=<op>:*`
 *   match exactly one profile / one operation (no value can contain ':o=').
 * - options: SHA-256 of their canonical JSON (object keys sorted at every depth), first
 *   32 hex chars; option order never matters.
 * - text and question: readable (escaped) up to `textHashThreshold` escaped chars, else
 *   `th=` / `qh=` + SHA-256 hex of the text; also hashed whenever the readable key would
 *   exceed maxKeyLength.
 */
import { createHash } from 'node:crypto';
import { CacheErrorCode, cacheError } from './errors.js';
import { escapeGlob } from './glob.js';
import { DEFAULT_MAX_KEY_LENGTH, hasControlChars } from './validate.js';

export interface ResponseRequest {
  profileId: string;
  /** the profile's version reference: a new version never shares keys with an old one */
  profileVersion: string | number;
  operation: string;
  text: string;
  options?: Record<string, unknown>;
  question?: string;
}

export const PROFILE_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
export const NAME_RE = /^[A-Za-z0-9_.-]{1,64}$/;

function bad(field: string, message: string): Error {
  return cacheError(CacheErrorCode.INVALID_REQUEST, `${field}: ${message}`, { field });
}

/** Canonical JSON: object keys sorted at every depth; CACHE_INVALID_REQUEST for non-JSON values. */
export function canonicalJson(value: unknown, path = 'options'): string {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw bad(path, `${value} is not JSON`);
      return JSON.stringify(value);
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) return `[${value.map((v, i) => canonicalJson(v === undefined ? null : v, `${path}[${i}]`)).join(',')}]`;
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) throw bad(path, `${(value as object).constructor?.name ?? 'object'} is not plain JSON`);
      const keys = Object.keys(value).sort();
      const parts: string[] = [];
      for (const k of keys) {
        const v = (value as Record<string, unknown>)[k];
        if (v === undefined) continue;
        parts.push(`${JSON.stringify(k)}:${canonicalJson(v, `${path}.${k}`)}`);
      }
      return `{${parts.join(',')}}`;
    }
    default:
      throw bad(path, `${typeof value} is not JSON`);
  }
}

/** Percent-escapes the characters that would break segments or patterns. */
export function escapeComponent(s: string): string {
  return s.replace(/[%:=*?[\]\\\u0000-\u001f\u007f-\u009f]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

export function sha256Hex(s: string): string {
  return createHash('sha256').update(s, 'utf8').digest('hex');
}

export interface ResponseKeyGeneratorOptions {
  namespace?: string;
  /** longest readable (escaped) text or question; longer ones are hashed (default 500) */
  textHashThreshold?: number;
  maxKeyLength?: number;
}

export class ResponseKeyGenerator {
  readonly namespace: string;
  readonly textHashThreshold: number;
  readonly maxKeyLength: number;

  constructor(options: ResponseKeyGeneratorOptions = {}) {
    const ns = options.namespace ?? 'llm';
    if (typeof ns !== 'string' || !NAME_RE.test(ns)) {
      throw cacheError(CacheErrorCode.INVALID_CONFIG, 'namespace: 1..64 of [A-Za-z0-9_.-]', { field: 'namespace' });
    }
    const th = options.textHashThreshold ?? 500;
    if (!Number.isInteger(th) || th < 0) {
      throw cacheError(CacheErrorCode.INVALID_CONFIG, 'textHashThreshold: an integer >= 0', { field: 'textHashThreshold' });
    }
    this.namespace = ns;
    this.textHashThreshold = th;
    this.maxKeyLength = options.maxKeyLength ?? DEFAULT_MAX_KEY_LENGTH;
  }

  /** Validates a request (CACHE_INVALID_REQUEST) and returns its key. */
  key(req: ResponseRequest): string {
    if (typeof req !== 'object' || req === null) throw bad('request', 'must be an object');
    this.checkProfileId(req.profileId);
    const v = req.profileVersion;
    if (!((typeof v === 'string' && v.length > 0 && v.length <= 128 && !hasControlChars(v)) || (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0))) {
      throw bad('profileVersion', 'a non-empty string of at most 128 chars, or a non-negative integer');
    }
    this.checkOperation(req.operation);
    if (typeof req.text !== 'string') throw bad('text', 'must be a string');
    if (req.question !== undefined && typeof req.question !== 'string') throw bad('question', 'must be a string');
    if (req.options !== undefined && (typeof req.options !== 'object' || req.options === null || Array.isArray(req.options))) {
      throw bad('options', 'must be an object');
    }
    const opts = sha256Hex(canonicalJson(req.options ?? {})).slice(0, 32);
    const head = `${this.namespace}:p=${escapeComponent(req.profileId)}:v=${escapeComponent(String(v))}:o=${req.operation}:x=${opts}`;
    const readable = (tag: string, s: string): string | undefined => {
      const e = escapeComponent(s);
      return e.length <= this.textHashThreshold ? `:${tag}=${e}` : undefined;
    };
    const hashed = (tag: string, s: string): string => `:${tag}h=${sha256Hex(s)}`;
    let text = readable('t', req.text) ?? hashed('t', req.text);
    let q = req.question === undefined ? '' : (readable('q', req.question) ?? hashed('q', req.question));
    if (head.length + text.length + q.length > this.maxKeyLength) {
      text = hashed('t', req.text);
      if (req.question !== undefined) q = hashed('q', req.question);
    }
    return head + text + q;
  }

  /** Pattern of every key of one profile (all versions). */
  profilePattern(profileId: string): string {
    this.checkProfileId(profileId);
    return `${this.namespace}:p=${escapeGlob(escapeComponent(profileId))}:*`;
  }

  /** Pattern of every key of one operation. */
  operationPattern(operation: string): string {
    this.checkOperation(operation);
    return `${this.namespace}:*:o=${operation}:*`;
  }

  /** Pattern of every key in this namespace. */
  allPattern(): string {
    return `${this.namespace}:*`;
  }

  checkProfileId(id: unknown): void {
    if (typeof id !== 'string' || !PROFILE_ID_RE.test(id)) throw bad('profileId', 'must match ^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$');
  }

  checkOperation(op: unknown): void {
    if (typeof op !== 'string' || !NAME_RE.test(op)) throw bad('operation', 'must be 1..64 of [A-Za-z0-9_.-]');
  }
}
