/**
 * Message order in the Y.Doc: each message holds a fractional-index position string `pos`; the
 * list is ordered by (pos, id) with plain string comparison. Insert = a position between the
 * neighbours; move = set `pos`. Concurrent inserts at one spot on two peers get different
 * positions thanks to a random suffix (jitter), so they interleave deterministically instead of
 * colliding; two equal positions (possible only if the jitter collides) still order by id.
 */
import { generateKeyBetween, generateNKeysBetween } from 'fractional-indexing';

export const MESSAGE_ID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;
/** Positions longer than this are refused (a sane bound; typical keys are 3-10 characters). */
export const MAX_POSITION_CHARS = 128;
/** The shape of a position (base-62 digits after an integer head); isPosition also asks the library. */
export const POSITION_PATTERN = /^[A-Za-z][0-9A-Za-z]*$/;

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  globalThis.crypto.getRandomValues(out);
  return out;
}

/** A new message id: 10 random base32 characters (50 bits). */
export function newMessageId(): string {
  let out = '';
  for (const b of randomBytes(10)) out += BASE32[b & 31];
  return out;
}

function jitter(): string {
  let out = '';
  for (const b of randomBytes(4)) out += BASE62[b % 62];
  // a key must not end with the zero digit
  return out.endsWith('0') ? `${out}1` : out;
}

/** Whether `pos` is a position generateKeyBetween accepts. */
export function isPosition(pos: unknown): pos is string {
  if (typeof pos !== 'string' || pos.length === 0 || pos.length > MAX_POSITION_CHARS || !POSITION_PATTERN.test(pos)) return false;
  try {
    generateKeyBetween(pos, null);
    return true;
  } catch {
    return false;
  }
}

/** A position strictly between `a` and `b` (null = open end), jittered. `a` must sort before `b`. */
export function positionBetween(a: string | null, b: string | null): string {
  if (a !== null && b !== null && a >= b) {
    // equal neighbours (a jitter collision) or a caller's mistake: place right after a
    b = null;
  }
  let k = generateKeyBetween(a, b);
  for (let tries = 0; tries < 4; tries++) {
    const j = k + jitter();
    if (b === null || j < b) return j;
    // k is a prefix of b: jitter would pass b, so narrow to a key between k and b first
    k = generateKeyBetween(k, b);
  }
  return k;
}

/** `n` increasing positions between `a` and `b` (for a run of inserted messages). */
export function positionsBetween(a: string | null, b: string | null, n: number): string[] {
  const out: string[] = [];
  let lo = a;
  for (let i = 0; i < n; i++) {
    lo = positionBetween(lo, b);
    out.push(lo);
  }
  return out;
}

/**
 * `n` increasing positions for a new list, without jitter: the same on every node. Used by the
 * deterministic create (identical creates must write identical bytes); later inserts jitter.
 */
export function initialPositions(n: number): string[] {
  return n === 0 ? [] : generateNKeysBetween(null, null, n);
}

/** Orders entries by (pos, id), plain code-unit comparison (the same on every peer). */
export function compareByPosition(a: { pos: string; id: string }, b: { pos: string; id: string }): number {
  return a.pos < b.pos ? -1 : a.pos > b.pos ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
