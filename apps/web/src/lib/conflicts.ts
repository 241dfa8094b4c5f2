/**
 * Conflicts (issue 13) as the editor shows them: the shapes of GET /api/profiles/:id/conflicts,
 * and each side of a text conflict compared with the merged text (what the merge kept of it
 * and what it added), so a person sees at a glance how the merge mangled — or kept — a prompt.
 */
import diff from 'fast-diff';

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
  for (const [op, text] of diff(side, merged)) {
    const mark = op === 0 ? 'same' : op === -1 ? 'gone' : 'added';
    const last = out[out.length - 1];
    if (last && last.mark === mark) last.text += text;
    else out.push({ text, mark });
  }
  return out;
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
