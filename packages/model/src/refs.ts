/**
 * Version references (docs/profile-model.md "Refs"). Accepted everywhere a REF is:
 * - `@N`: the N-th version of the profile (1-based, history order);
 * - a label name (`production`); `latest` is the current state;
 * - `v2.<P>.<H>`: portable, 34 characters whatever the history length. P = the first 8
 *   base64url characters of sha256(profile id) (binds the ref to its profile), H = the first 22
 *   base64url characters (132 bits) of sha256(the Yjs snapshot V2 bytes of the content state);
 * - `v1.<base64url snapshot>`: the first ref format (the snapshot itself), still accepted.
 * This module parses and formats; resolving a ref to content is core's business.
 */
import { ModelErrorCode, modelError } from './errors.js';
import { base64url, sha256Bytes, utf8 } from './hash.js';

export const V2_PREFIX = 'v2.';
export const V1_PREFIX = 'v1.';
export const V2_REF_CHARS = 34;
/** Legacy refs longer than this are refused before decoding. */
export const MAX_V1_REF_CHARS = 64 * 1024;
/** Label names, Langfuse-like: lower-case; `latest` is automatic; `v<digits>.` is reserved for refs. */
export const LABEL_PATTERN = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
export const LATEST_LABEL = 'latest';

const V2_RE = /^v2\.([A-Za-z0-9_-]{8})\.([A-Za-z0-9_-]{22})$/;
const V1_RE = /^v1\.[A-Za-z0-9_-]+$/;
const SEQ_RE = /^@([1-9][0-9]{0,8})$/;
const REF_LIKE = /^v[0-9]+\./;

export type RefSpec =
  | { kind: 'seq'; n: number }
  | { kind: 'label'; name: string }
  | { kind: 'latest' }
  | { kind: 'v2'; tag: string; hash: string; ref: string }
  | { kind: 'v1'; ref: string };

/** Whether a label name is allowed (pattern, not `latest`, not shaped like a ref). */
export function isLabelName(name: unknown): boolean {
  return typeof name === 'string' && LABEL_PATTERN.test(name) && name !== LATEST_LABEL && !REF_LIKE.test(name);
}

function bad(ref: unknown, why: string, hint?: string): Error {
  const details: Record<string, unknown> = { version: typeof ref === 'string' ? ref.slice(0, 80) : typeof ref };
  if (hint !== undefined) details['hint'] = hint;
  return modelError(ModelErrorCode.BAD_VERSION, `bad version reference: ${why}`, details);
}

const HINT = 'use @N (the N-th version), a label name, or a v2. reference from history';

/** Parses the syntax of a REF; PROFILE_BAD_VERSION when it is none of the forms above. */
export function parseRefSpec(ref: unknown): RefSpec {
  if (typeof ref !== 'string' || ref.length === 0) throw bad(ref, 'not a non-empty string', HINT);
  const c = ref.charCodeAt(0);
  if (c === 64 /* @ */) {
    const m = SEQ_RE.exec(ref);
    if (m === null) throw bad(ref, '@N needs a version number from 1', HINT);
    return { kind: 'seq', n: Number(m[1]) };
  }
  if (ref.startsWith(V2_PREFIX)) {
    const m = V2_RE.exec(ref);
    if (m === null) throw bad(ref, 'a v2 reference is v2.<8 characters>.<22 characters> (base64url)', HINT);
    return { kind: 'v2', tag: m[1]!, hash: m[2]!, ref };
  }
  if (ref.startsWith(V1_PREFIX)) {
    if (ref.length > MAX_V1_REF_CHARS) throw bad(ref, 'too long');
    if (!V1_RE.test(ref)) throw bad(ref, 'a v1 reference is v1.<base64url>', HINT);
    return { kind: 'v1', ref };
  }
  if (ref === LATEST_LABEL) return { kind: 'latest' };
  if (isLabelName(ref)) return { kind: 'label', name: ref };
  if (REF_LIKE.test(ref)) throw bad(ref, `unknown reference format '${ref.slice(0, ref.indexOf('.') + 1)}'`, HINT);
  throw bad(ref, 'not @N, a label name or a version reference', HINT);
}

/** P: the first 8 base64url characters of sha256(profile id). */
export function profileTag(id: string): string {
  let tag = TAGS.get(id);
  if (tag === undefined) {
    tag = base64url(sha256Bytes(utf8(id))).slice(0, 8);
    if (TAGS.size >= MAX_TAGS) TAGS.clear();
    TAGS.set(id, tag);
  }
  return tag;
}
const TAGS = new Map<string, string>();
const MAX_TAGS = 4096;

/** H: the first 22 base64url characters of sha256(snapshot bytes). */
export function stateHash(snapshotBytes: Uint8Array): string {
  return base64url(sha256Bytes(snapshotBytes)).slice(0, 22);
}

export function formatV2Ref(tag: string, hash: string): string {
  return `${V2_PREFIX}${tag}.${hash}`;
}

/** The v2 ref of a state of profile `id` given its snapshot bytes. */
export function v2Ref(id: string, snapshotBytes: Uint8Array): string {
  return formatV2Ref(profileTag(id), stateHash(snapshotBytes));
}

/** Whether `ref` is a syntactically valid v2 ref of profile `id` or a legacy v1 ref (what a label may hold). */
export function isStoredRef(ref: unknown, id: string, tagOf: (id: string) => string = profileTag): boolean {
  if (typeof ref !== 'string') return false;
  if (ref.startsWith(V2_PREFIX)) {
    const m = V2_RE.exec(ref);
    return m !== null && m[1] === tagOf(id);
  }
  return ref.startsWith(V1_PREFIX) && ref.length <= MAX_V1_REF_CHARS && V1_RE.test(ref);
}

/** Checks that a v2 ref names profile `id` (PROFILE_BAD_VERSION otherwise). */
export function assertRefOf(spec: RefSpec, id: string): void {
  if (spec.kind === 'v2' && spec.tag !== profileTag(id)) {
    throw modelError(ModelErrorCode.BAD_VERSION, `version reference belongs to another profile, not ${id}`, { version: spec.ref, id, rule: 'other-profile' });
  }
}
