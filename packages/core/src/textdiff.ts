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

/** Applies `after` to a Y.Text currently holding `before` as a minimal set of edits. */
export function applyTextDiff(text: Y.Text, before: string, after: string): void {
  if (before === after) return;
  let index = 0;
  for (const [op, chunk] of textDiff(before, after)) {
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
