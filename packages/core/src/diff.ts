/** Field-level differences between two contents (history summaries, diff(), import reports). */
import { jsonEqual } from './canonical.js';
import type { ProfileContent } from './model.js';
import { textDiffParts } from './textdiff.js';
import type { FieldChange, Message, ProfileParameters } from './types.js';

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

function sameOrder(a: readonly string[], b: readonly string[]): boolean {
  const common = new Set(a.filter((x) => b.includes(x)));
  const x = a.filter((i) => common.has(i));
  const y = b.filter((i) => common.has(i));
  return x.every((v, i) => v === y[i]);
}

/** Messages are matched by id: added/removed messages, role and content (text) changes, and a reorder. */
function messages(out: FieldChange[], a: readonly Message[] = [], b: readonly Message[] = [], withText: boolean): void {
  const am = new Map(a.map((m) => [m.id, m]));
  const bm = new Map(b.map((m) => [m.id, m]));
  for (const id of [...new Set([...am.keys(), ...bm.keys()])].sort()) {
    const x = am.get(id);
    const y = bm.get(id);
    if (x === undefined) out.push({ path: `messages.${id}`, kind: 'added', after: y });
    else if (y === undefined) out.push({ path: `messages.${id}`, kind: 'removed', before: x });
    else {
      text(out, `messages.${id}.content`, x.content, y.content, withText);
      scalar(out, `messages.${id}.role`, x.role, y.role);
    }
  }
  const ai = a.map((m) => m.id);
  const bi = b.map((m) => m.id);
  if (!sameOrder(ai, bi)) out.push({ path: 'messages.order', kind: 'changed', before: ai, after: bi });
}

const toolKey = (t: unknown): string => {
  const o = t as Record<string, unknown>;
  const inner = o[o['type'] === 'custom' ? 'custom' : 'function'] as Record<string, unknown> | undefined;
  return String(inner?.['name'] ?? '');
};

/** Parameters: atomic values per key; tools per tool name (and their order); extra per key. */
function parameters(out: FieldChange[], a: ProfileParameters, b: ProfileParameters): void {
  for (const k of keys(a as Record<string, unknown>, b as Record<string, unknown>)) {
    if (k === 'tools') {
      const at = new Map((a.tools ?? []).map((t) => [toolKey(t), t]));
      const bt = new Map((b.tools ?? []).map((t) => [toolKey(t), t]));
      for (const n of [...new Set([...at.keys(), ...bt.keys()])].sort()) scalar(out, `parameters.tools.${n}`, at.get(n), bt.get(n));
      if (!sameOrder([...at.keys()], [...bt.keys()])) out.push({ path: 'parameters.tools.order', kind: 'changed', before: [...at.keys()], after: [...bt.keys()] });
    } else if (k === 'extra') {
      const ae = (a.extra ?? {}) as Record<string, unknown>;
      const be = (b.extra ?? {}) as Record<string, unknown>;
      for (const e of keys(ae, be)) scalar(out, `parameters.extra.${e}`, ae[e], be[e]);
    } else scalar(out, `parameters.${k}`, a[k], b[k]);
  }
}

/** Changes from `a` to `b`, sorted by path; text fields carry a character diff when `withText`. */
export function diffContent(a: ProfileContent, b: ProfileContent, withText = true): FieldChange[] {
  const out: FieldChange[] = [];
  scalar(out, 'deleted', a.deleted, b.deleted);
  text(out, 'description', a.description, b.description, withText);
  scalar(out, 'id', a.id, b.id);
  // maps a write did not touch are the same objects: skip them without walking their keys
  if (a.labels !== b.labels) for (const k of keys(a.labels, b.labels)) scalar(out, `labels.${k}`, a.labels[k], b.labels[k]);
  if (a.messages !== b.messages) messages(out, a.messages, b.messages, withText);
  if (a.meta !== b.meta) for (const k of keys(a.meta, b.meta)) scalar(out, `meta.${k}`, a.meta[k], b.meta[k]);
  scalar(out, 'modelId', a.modelId, b.modelId);
  scalar(out, 'name', a.name, b.name);
  if (a.parameters !== b.parameters) parameters(out, a.parameters, b.parameters);
  text(out, 'systemMessage', a.systemMessage, b.systemMessage, withText);
  if (a.templates !== b.templates) for (const k of keys(a.templates, b.templates)) text(out, `templates.${k}`, a.templates[k], b.templates[k], withText);
  return out;
}

export function changedPaths(a: ProfileContent, b: ProfileContent): string[] {
  return diffContent(a, b, false).map((c) => c.path);
}

/** History/audit action of an entry. */
export type EntryAction = 'create' | 'update' | 'delete' | 'revert' | 'label.set' | 'label.remove' | 'sync' | 'import' | 'repair' | 'version' | 'migrate' | 'resolve';

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
