/**
 * Side-by-side rendering of core's diff (GET /api/profiles/:id/diff): a text field's
 * character diff split into a "before" side (equal + deleted runs) and an "after" side
 * (equal + inserted runs); other values shown as JSON.
 */
import type { FieldChange, TextDiffPart } from '@profilesync/core';

export type Run = { text: string; mark: 'same' | 'del' | 'ins' };

export function splitSides(parts: readonly TextDiffPart[]): { before: Run[]; after: Run[] } {
  const before: Run[] = [];
  const after: Run[] = [];
  for (const p of parts) {
    if (p.op === 'equal') {
      before.push({ text: p.text, mark: 'same' });
      after.push({ text: p.text, mark: 'same' });
    } else if (p.op === 'delete') before.push({ text: p.text, mark: 'del' });
    else after.push({ text: p.text, mark: 'ins' });
  }
  return { before, after };
}

/**
 * A non-text value as shown in a diff cell ('' for absent): JSON, so a string keeps its quotes
 * and "0.5" is told apart from 0.5; objects and lists indented.
 */
export function showValue(v: unknown): string {
  if (v === undefined) return '';
  return JSON.stringify(v, null, v !== null && typeof v === 'object' ? 2 : undefined) ?? '';
}

/** Group changes by their top-level field, keeping core's path order. */
export function groupChanges(changes: readonly FieldChange[]): { group: string; changes: FieldChange[] }[] {
  const out: { group: string; changes: FieldChange[] }[] = [];
  for (const c of changes) {
    const group = c.path.split('.')[0] ?? c.path;
    const last = out[out.length - 1];
    if (last && last.group === group) last.changes.push(c);
    else out.push({ group, changes: [c] });
  }
  return out;
}
