/**
 * Conflicts (issue 13) as the editor shows them: the shapes of GET /api/profiles/:id/conflicts,
 * and each side of a text conflict compared with the merged text (what the merge kept of it
 * and what it added), so a person sees at a glance how the merge mangled — or kept — a prompt.
 */
import diff from 'fast-diff';
import { commonEnds } from '@profilesync/model';

export interface Conflict {
  id: string;
  /** dotted path: systemMessage, templates.NAME, messages.ID.content, parameters.temperature, ... */
  field: string;
  kind: 'text' | 'scalar' | 'create';
  status: 'open' | 'resolved';
  ours: unknown;
  theirs: unknown;
  merged: unknown;
  at: string;
  resolvedAt?: string;
  resolvedBy?: string;
}

export type Keep = 'merged' | 'ours' | 'theirs' | 'value';

export type Run = { text: string; mark: 'same' | 'gone' | 'added' };

/**
 * `side` against `merged`: runs of the side's text that the merge kept ('same') or dropped
 * ('gone'), and text the merge has that this side did not write ('added').
 */
export function compareToMerged(side: string, merged: string): Run[] {
  const out: Run[] = [];
  const parts = side.length * merged.length > MAX_COMPARE_CELLS ? coarseDiff(side, merged) : diff(side, merged);
  for (const [op, text] of parts) {
    const mark = op === 0 ? 'same' : op === -1 ? 'gone' : 'added';
    const last = out[out.length - 1];
    if (last && last.mark === mark) last.text += text;
    else out.push({ text, mark });
  }
  return out;
}

/**
 * Above this many character pairs the comparison is not computed in full: fast-diff has no
 * deadline and costs length x changes, so two unrelated texts of 100,000+ characters (a hostile
 * or a pasted prompt) would freeze the tab for minutes; the node bounds its diffs the same way.
 */
const MAX_COMPARE_CELLS = 4_000_000;

/** The common start and end kept; the middle shown as dropped and added whole. */
function coarseDiff(a: string, b: string): [number, string][] {
  const { prefix, suffix } = commonEnds(a, b);
  const parts: [number, string][] = [
    [0, a.slice(0, prefix)],
    [-1, a.slice(prefix, a.length - suffix)],
    [1, b.slice(prefix, b.length - suffix)],
    [0, a.slice(a.length - suffix)],
  ];
  return parts.filter(([, t]) => t.length > 0);
}

/** A non-text value as shown: JSON (a string keeps its quotes), '' for absent. */
export function valueText(v: unknown): string {
  if (v === undefined) return '(absent)';
  return JSON.stringify(v, null, v !== null && typeof v === 'object' ? 2 : undefined) ?? '';
}

/** A field path in words: "system message", "template greet", "message 3", "parameters.temperature". */
export function conflictField(field: string, messageIndex: (id: string) => number | undefined): string {
  if (field === 'systemMessage') return 'system message';
  if (field === 'description') return 'description';
  if (field.startsWith('templates.')) return `template ${field.slice('templates.'.length)}`;
  const m = /^messages\.([^.]+)(?:\.content)?$/.exec(field);
  if (m) {
    const i = messageIndex(m[1]!);
    return i === undefined ? 'a message (since deleted)' : `message ${i + 1}`;
  }
  return field;
}
