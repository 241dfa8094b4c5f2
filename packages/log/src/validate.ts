/** Edge validation: public methods call these before anything reaches the primitives. */
import { invalid } from './errors.js';
import type { AppendInput, ReadRange } from './types.js';

/** Profile ids, or reserved internal names starting with '#'. */
export const STREAM_NAME_RE = /^#?[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
export const MAX_BODY_BYTES = 16 * 1024 * 1024;
export const MAX_VIEW_BYTES = 16 * 1024 * 1024;
/** core stores a Yjs snapshot (state vector + delete set) here; long histories reach KBs */
export const MAX_VERSION_BYTES = 64 * 1024;
export const MAX_ACTOR_CHARS = 1024;
export const MAX_SUMMARY_CHARS = 4096;
export const MAX_AUX_NAME_CHARS = 1024;
export const MAX_AUX_VALUE_BYTES = 16 * 1024 * 1024;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Reserved internal streams ('#audit', ...) hold opaque bodies (not Yjs updates): the log takes
 * no snapshots of them, derives no views, and loadState refuses them.
 */
export function isOpaqueStream(name: string): boolean {
  return name.startsWith('#');
}

export function isValidStreamName(s: unknown): s is string {
  return typeof s === 'string' && STREAM_NAME_RE.test(s);
}

export function checkStream(s: unknown): string {
  if (!isValidStreamName(s)) throw invalid(`invalid stream name ${JSON.stringify(String(s)).slice(0, 80)}`, { field: 'stream' });
  return s;
}

function checkBytes(v: unknown, field: string, max: number, allowEmpty: boolean): void {
  if (!(v instanceof Uint8Array)) throw invalid(`${field} must be a Uint8Array`, { field });
  if (!allowEmpty && v.byteLength === 0) throw invalid(`${field} must not be empty`, { field });
  if (v.byteLength > max) throw invalid(`${field} exceeds ${max} bytes`, { field });
}

function checkString(v: unknown, field: string, max: number, allowEmpty: boolean): void {
  if (typeof v !== 'string') throw invalid(`${field} must be a string`, { field });
  if (!allowEmpty && v.length === 0) throw invalid(`${field} must not be empty`, { field });
  if (v.length > max) throw invalid(`${field} exceeds ${max} characters`, { field });
  if (LONE_SURROGATE.test(v)) throw invalid(`${field} is not well-formed unicode`, { field });
}

export function checkAppendInput(input: unknown): AppendInput {
  if (typeof input !== 'object' || input === null) throw invalid('append input must be an object');
  const i = input as AppendInput;
  checkStream(i.stream);
  checkBytes(i.body, 'body', MAX_BODY_BYTES, false);
  checkString(i.actor, 'actor', MAX_ACTOR_CHARS, false);
  checkString(i.origin, 'origin', MAX_ACTOR_CHARS, false);
  if (i.summary !== undefined) checkString(i.summary, 'summary', MAX_SUMMARY_CHARS, true);
  if (i.version !== undefined) checkBytes(i.version, 'version', MAX_VERSION_BYTES, true);
  if (i.view !== undefined) checkBytes(i.view, 'view', MAX_VIEW_BYTES, true);
  return i;
}

export function checkAuxName(name: unknown, allowEmpty = false): string {
  checkString(name, 'name', MAX_AUX_NAME_CHARS, allowEmpty);
  return name as string;
}

export function checkAuxValue(value: unknown): Uint8Array {
  checkBytes(value, 'value', MAX_AUX_VALUE_BYTES, true);
  return value as Uint8Array;
}

function checkSeqBound(v: unknown, field: string, min: number): void {
  if (v !== undefined && (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min)) {
    throw invalid(`${field} must be an integer >= ${min}`, { field });
  }
}

export function checkRange(range: unknown): ReadRange {
  if (range === undefined) return {};
  if (typeof range !== 'object' || range === null) throw invalid('range must be an object');
  const r = range as ReadRange;
  checkSeqBound(r.fromSeq, 'fromSeq', 1);
  checkSeqBound(r.toSeq, 'toSeq', 0);
  checkSeqBound(r.fromTs, 'fromTs', 0);
  checkSeqBound(r.toTs, 'toTs', 0);
  checkSeqBound(r.untilLsn, 'untilLsn', 0);
  checkSeqBound(r.limit, 'limit', 0);
  if (r.reverse !== undefined && typeof r.reverse !== 'boolean') throw invalid('reverse must be a boolean', { field: 'reverse' });
  if (r.allowDamaged !== undefined && typeof r.allowDamaged !== 'boolean') throw invalid('allowDamaged must be a boolean', { field: 'allowDamaged' });
  return r;
}
