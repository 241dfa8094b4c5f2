/**
 * Minimal character edits for Y.Text. fast-diff works on JS strings (UTF-16 code units), which is
 * exactly what Y.Text indexes count, so offsets carry over unchanged. Only the changed runs are
 * deleted/inserted, so a concurrent edit elsewhere in the same text survives the merge.
 */
import diff from 'fast-diff';
import { commonEnds } from '@profilesync/model';
import type * as Y from 'yjs';
import type { TextDiffPart } from './types.js';

export type DiffOp = [-1 | 0 | 1, string];
export { commonEnds };

export function textDiff(before: string, after: string): DiffOp[] {
  if (before === after) return before.length === 0 ? [] : [[0, before]];
  // large texts: the bounded path (common ends, then lines; see boundedDiff) instead of an unbounded diff
  if (before.length * after.length > MAX_DIFF_CELLS) return textEdits(before, after);
  return diff(before, after) as DiffOp[];
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
  else out.push(...boundedDiff(a, b));
  if (suffix > 0) out.push([0, before.slice(before.length - suffix)]);
  return out;
}

/**
 * Largest `a.length * b.length` handed to fast-diff at once. Its cost is O((n + m) * D), D the
 * number of differing characters, and it has no deadline: two unrelated 32,000-character texts
 * took 14 s of the event loop, two 500,000-character ones (a field's limit, one PATCH of any
 * editor) about an hour. At this bound the worst case is ~60 ms.
 */
export const MAX_DIFF_CELLS = 4_000_000;
/** The same bound for the line pass (lines * lines; 4,000 unrelated lines a side: ~250 ms). */
export const MAX_LINE_CELLS = 16_000_000;

/**
 * fast-diff for middles within MAX_DIFF_CELLS; larger ones are matched line by line first (each
 * distinct line one character, the way diff-match-patch's line mode does), then each replaced
 * run of lines character by character when it is within the bound, else deleted and inserted
 * whole. Always edits that turn `a` into `b`; minimal where the bound allows (the usual edit
 * of a long text touches a few lines), otherwise coarser: a concurrent edit inside a replaced
 * run is lost to the replacement, as with any rewrite of that text.
 */
function boundedDiff(a: string, b: string): DiffOp[] {
  if (a.length * b.length <= MAX_DIFF_CELLS) return diff(a, b) as DiffOp[];
  const la = lines(a);
  const lb = lines(b);
  if (la.length * lb.length > MAX_LINE_CELLS) return [[-1, a], [1, b]];
  const ids = new Map<string, string>();
  const byId: string[] = [];
  const encode = (ls: string[]): string | undefined => {
    let out = '';
    for (const l of ls) {
      let c = ids.get(l);
      if (c === undefined) {
        const n = byId.length;
        // one UTF-16 unit per line, never a surrogate (fast-diff keeps pairs together)
        if (n >= 0xd800 + 0x2000) return undefined;
        c = String.fromCharCode(n < 0xd800 ? n : n + 0x800);
        ids.set(l, c);
        byId.push(l);
      }
      out += c;
    }
    return out;
  };
  const ea = encode(la);
  const eb = ea === undefined ? undefined : encode(lb);
  if (ea === undefined || eb === undefined) return [[-1, a], [1, b]];
  const decode = (chars: string): string => {
    let out = '';
    for (let i = 0; i < chars.length; i++) {
      const c = chars.charCodeAt(i);
      out += byId[c < 0xd800 ? c : c - 0x800]!;
    }
    return out;
  };
  const out: DiffOp[] = [];
  let del = '';
  let ins = '';
  // one budget for every replaced run together (many runs, each within the bound, add up too)
  let budget = MAX_DIFF_CELLS;
  const flush = (): void => {
    if (del.length > 0 && ins.length > 0) {
      const cells = del.length * ins.length;
      if (cells <= budget) {
        budget -= cells;
        out.push(...(diff(del, ins) as DiffOp[]));
      } else out.push([-1, del], [1, ins]);
    } else if (del.length > 0) out.push([-1, del]);
    else if (ins.length > 0) out.push([1, ins]);
    del = '';
    ins = '';
  };
  for (const [op, chars] of diff(ea, eb) as DiffOp[]) {
    if (op === -1) del += decode(chars);
    else if (op === 1) ins += decode(chars);
    else {
      flush();
      out.push([0, decode(chars)]);
    }
  }
  flush();
  return out;
}

/** The lines of a text, each with its line break ('a\nb' -> ['a\n', 'b']). */
function lines(s: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (;;) {
    const nl = s.indexOf('\n', start);
    if (nl < 0) break;
    out.push(s.slice(start, nl + 1));
    start = nl + 1;
  }
  if (start < s.length) out.push(s.slice(start));
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
