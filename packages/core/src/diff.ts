/** Field-level differences between two contents (history summaries, diff(), import reports). */
import { jsonEqual } from './canonical.js';
import type { ProfileContent } from './model.js';
import { textDiffParts } from './textdiff.js';
import type { FieldChange } from './types.js';

function scalar(out: FieldChange[], path: string, a: unknown, b: unknown): void {
  if (a === undefined && b === undefined) return;
  if (a === undefined) out.push({ path, kind: 'added', after: b });
  else if (b === undefined) out.push({ path, kind: 'removed', before: a });
  else if (!jsonEqual(a, b)) out.push({ path, kind: 'changed', before: a, after: b });
}

function text(out: FieldChange[], path: string, a: string | undefined, b: string | undefined, withText: boolean): void {
  if (a === b) return;
  const change: FieldChange =
    a === undefined ? { path, kind: 'added', after: b } : b === undefined ? { path, kind: 'removed', before: a } : { path, kind: 'changed', before: a, after: b };
  if (withText) change.text = textDiffParts(a ?? '', b ?? '');
  out.push(change);
}

function keys(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
}

/** Changes from `a` to `b`, sorted by path; text fields carry a character diff when `withText`. */
export function diffContent(a: ProfileContent, b: ProfileContent, withText = true): FieldChange[] {
  const out: FieldChange[] = [];
  scalar(out, 'deleted', a.deleted, b.deleted);
  text(out, 'description', a.description, b.description, withText);
  scalar(out, 'id', a.id, b.id);
  // maps a write did not touch are the same objects: skip them without walking their keys
  if (a.labels !== b.labels) for (const k of keys(a.labels, b.labels)) scalar(out, `labels.${k}`, a.labels[k], b.labels[k]);
  if (a.meta !== b.meta) for (const k of keys(a.meta, b.meta)) scalar(out, `meta.${k}`, a.meta[k], b.meta[k]);
  scalar(out, 'modelId', a.modelId, b.modelId);
  scalar(out, 'name', a.name, b.name);
  if (a.parameters !== b.parameters) for (const k of keys(a.parameters, b.parameters)) scalar(out, `parameters.${k}`, a.parameters[k], b.parameters[k]);
  text(out, 'systemMessage', a.systemMessage, b.systemMessage, withText);
  if (a.templates !== b.templates) for (const k of keys(a.templates, b.templates)) text(out, `templates.${k}`, a.templates[k], b.templates[k], withText);
  return out;
}

export function changedPaths(a: ProfileContent, b: ProfileContent): string[] {
  return diffContent(a, b, false).map((c) => c.path);
}

/** History/audit action of an entry. */
export type EntryAction = 'create' | 'update' | 'delete' | 'revert' | 'label.set' | 'label.remove' | 'sync' | 'import' | 'repair';

const MAX_SUMMARY_FIELDS = 12;

/** One line: "update: parameters.temperature, systemMessage" (at most 12 fields, then "+N more"). */
export function summaryLine(action: EntryAction, paths: string[]): string {
  if (paths.length === 0) return action;
  const shown = paths.slice(0, MAX_SUMMARY_FIELDS).join(', ');
  const more = paths.length > MAX_SUMMARY_FIELDS ? `, +${paths.length - MAX_SUMMARY_FIELDS} more` : '';
  return `${action}: ${shown}${more}`;
}

/** Parses a summary line back into its action and fields (audit records are derived from entries). */
export function parseSummary(summary: string): { action: string; fields: string[] } {
  const colon = summary.indexOf(': ');
  if (colon < 0) return { action: summary, fields: [] };
  const fields = summary
    .slice(colon + 2)
    .split(', ')
    .filter((f) => f.length > 0 && !f.startsWith('+'));
  return { action: summary.slice(0, colon), fields };
}
