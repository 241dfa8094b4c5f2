/**
 * Minimal character edits for Y.Text. fast-diff works on JS strings (UTF-16 code units), which is
 * exactly what Y.Text indexes count, so offsets carry over unchanged. Only the changed runs are
 * deleted/inserted, so a concurrent edit elsewhere in the same text survives the merge.
 */
import diff from 'fast-diff';
import type * as Y from 'yjs';
import type { TextDiffPart } from './types.js';

export type DiffOp = [-1 | 0 | 1, string];

export function textDiff(before: string, after: string): DiffOp[] {
  if (before === after) return before.length === 0 ? [] : [[0, before]];
  return diff(before, after) as DiffOp[];
}

const isHigh = (c: number): boolean => c >= 0xd800 && c <= 0xdbff;
const isLow = (c: number): boolean => c >= 0xdc00 && c <= 0xdfff;

/**
 * Common prefix and suffix lengths of two different strings, never splitting a surrogate pair
 * (Y.Text would turn a split pair into U+FFFD). Pure.
 */
export function commonEnds(a: string, b: string): { prefix: number; suffix: number } {
  const max = Math.min(a.length, b.length);
  let prefix = 0;
  while (prefix < max && a.charCodeAt(prefix) === b.charCodeAt(prefix)) prefix++;
  if (prefix > 0 && isHigh(a.charCodeAt(prefix - 1))) prefix--;
  let suffix = 0;
  const room = max - prefix;
  while (suffix < room && a.charCodeAt(a.length - 1 - suffix) === b.charCodeAt(b.length - 1 - suffix)) suffix++;
  if (suffix > 0 && isLow(a.charCodeAt(a.length - suffix))) suffix--;
  return { prefix, suffix };
}

/** Middles this short are checked for a shared character (a few dozen comparisons at most). */
const SMALL_MIDDLE = 16;

/**
 * Whether two short, surrogate-free strings have no character in common. fast-diff's answer for
 * such a pair is always "delete the one, insert the other" (no equality can exist), which is what
 * the usual replaced number or word at the end of a long text is; answered here without fast-diff's
 * setup (pinned against fast-diff in write-path.test.ts).
 */
function shareNothing(a: string, b: string): boolean {
  if (a.length > SMALL_MIDDLE || b.length > SMALL_MIDDLE) return false;
  for (let i = 0; i < a.length; i++) {
    const c = a.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdfff) return false;
    for (let j = 0; j < b.length; j++) if (b.charCodeAt(j) === c) return false;
  }
  for (let j = 0; j < b.length; j++) {
    const c = b.charCodeAt(j);
    if (c >= 0xd800 && c <= 0xdfff) return false;
  }
  return true;
}

/**
 * The edits that turn `before` into `after`: the common prefix and suffix are cut off first (a
 * plain loop), a pure insertion or deletion needs nothing more, and only a replaced middle goes
 * through fast-diff (unless the two middles share no character: then fast-diff could only answer
 * delete + insert). Same minimal character edits as a diff of the whole strings, at a fraction of
 * the cost for the usual small edit of a long text.
 */
export function textEdits(before: string, after: string): DiffOp[] {
  if (before === after) return before.length === 0 ? [] : [[0, before]];
  const { prefix, suffix } = commonEnds(before, after);
  const out: DiffOp[] = [];
  if (prefix > 0) out.push([0, before.slice(0, prefix)]);
  const a = before.slice(prefix, before.length - suffix);
  const b = after.slice(prefix, after.length - suffix);
  if (a.length === 0) out.push([1, b]);
  else if (b.length === 0) out.push([-1, a]);
  else if (shareNothing(a, b)) out.push([-1, a], [1, b]);
  else out.push(...(diff(a, b) as DiffOp[]));
  if (suffix > 0) out.push([0, before.slice(before.length - suffix)]);
  return out;
}

/** Applies `after` to a Y.Text currently holding `before` as a minimal set of edits. */
export function applyTextDiff(text: Y.Text, before: string, after: string): void {
  if (before === after) return;
  let index = 0;
  for (const [op, chunk] of textEdits(before, after)) {
    if (op === 0) index += chunk.length;
    else if (op === -1) text.delete(index, chunk.length);
    else {
      text.insert(index, chunk);
      index += chunk.length;
    }
  }
}

export function textDiffParts(before: string, after: string): TextDiffPart[] {
  return textDiff(before, after).map(([op, text]) => ({ op: op === 0 ? 'equal' : op === 1 ? 'insert' : 'delete', text }));
}
