/**
 * Parameters as JSON (profile model v2): what a person types into a parameter's field becomes
 * the typed value it says — a number, a list, an object — or it is refused beside the field.
 * Nothing is ever coerced to a string behind the person's back: a string is typed as JSON
 * ("text") in a JSON field, or into a plain text field of a known string parameter. The checks
 * are the node's own (@profilesync/model's parameterIssues), so the form refuses exactly what
 * the node would, with the same path, message and "did you mean".
 */
import { KNOWN_PARAMETERS, parameterIssues, type ValidationIssue } from '@profilesync/model';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Known parameters edited with a typed number input (everything else is a JSON field). */
export interface NumberField {
  key: string;
  label: string;
  integer: boolean;
  min?: number;
  max?: number;
  step: number;
  help: string;
}

export const NUMBER_FIELDS: readonly NumberField[] = [
  { key: 'temperature', label: 'Temperature', integer: false, min: 0, max: 2, step: 0.01, help: '0 to 2' },
  { key: 'top_p', label: 'Top p', integer: false, min: 0, max: 1, step: 0.01, help: '0 to 1' },
  { key: 'max_tokens', label: 'Max tokens', integer: true, min: 1, max: 10_000_000, step: 1, help: 'whole number, 1 to 10,000,000' },
  { key: 'max_completion_tokens', label: 'Max completion tokens', integer: true, min: 1, max: 10_000_000, step: 1, help: 'whole number, 1 to 10,000,000' },
  { key: 'seed', label: 'Seed', integer: true, step: 1, help: 'whole number' },
  { key: 'presence_penalty', label: 'Presence penalty', integer: false, min: -2, max: 2, step: 0.01, help: '-2 to 2' },
  { key: 'frequency_penalty', label: 'Frequency penalty', integer: false, min: -2, max: 2, step: 0.01, help: '-2 to 2' },
];

export const isNumberField = (key: string): boolean => NUMBER_FIELDS.some((f) => f.key === key);

/** A parameter name a person may add: a known key, or `extra` (for anything the node does not know). */
export const ADDABLE_PARAMETERS: readonly string[] = [...KNOWN_PARAMETERS.filter((k) => !isNumberField(k)), 'extra'].sort();

/** Example values shown as placeholders, so the expected shape is visible. */
export const EXAMPLES: Readonly<Record<string, string>> = {
  stop: '["\\n\\nUser:", "###"]',
  logit_bias: '{ "50256": -100 }',
  response_format: '{ "type": "json_schema", "json_schema": { "name": "answer", "schema": { "type": "object" } } }',
  tools: '[{ "type": "function", "function": { "name": "lookup", "parameters": { "type": "object" } } }]',
  tool_choice: '"auto"',
  reasoning_effort: '"medium"',
  metadata: '{ "team": "support" }',
  extra: '{ "top_k": 40 }',
};

/** Pretty JSON of a value for its field. */
export function jsonText(v: unknown): string {
  return JSON.stringify(v, null, 2) ?? '';
}

/** Strict JSON: the parsed value, or an error that says where and how to write a string. */
export function parseJsonField(text: string): { value: Json } | { error: string } {
  const t = text.trim();
  if (t === '') return { error: 'empty: type a JSON value (remove the parameter to unset it)' };
  try {
    return { value: JSON.parse(t) as Json };
  } catch (err) {
    const m = String((err as Error).message).replace(/^JSON\.parse: /, '');
    const hint = /^[A-Za-z]/.test(t) && !/^(true|false|null)\b/.test(t) ? ' — text must be in double quotes, e.g. "medium"' : '';
    return { error: `not valid JSON (${m})${hint}` };
  }
}

/**
 * A number input's text: undefined when empty (the parameter is removed), the number, or an
 * error in the field's own words (the same range the node checks).
 */
export function parseNumberField(f: NumberField, raw: string): { value?: number; error?: string } {
  const t = raw.trim();
  if (t === '') return {};
  const n = Number(t);
  if (!Number.isFinite(n)) return { error: `${f.label} must be a number` };
  if (f.integer && !Number.isSafeInteger(n)) return { error: `${f.label} must be a whole number` };
  if (f.min !== undefined && n < f.min) return { error: `${f.label} must be at least ${f.min}` };
  if (f.max !== undefined && n > f.max) return { error: `${f.label} must be at most ${f.max}` };
  return { value: n };
}

/**
 * The JSON Schema checks compile a validator with `new Function`, which the dashboard's
 * Content-Security-Policy forbids; such a failure is not the person's mistake: drop it and let
 * the node (which runs the same check) judge on save.
 */
function blockedByCsp(i: ValidationIssue): boolean {
  return i.rule === 'json-schema' && /unsafe-eval|Content Security Policy|EvalError|call to Function\(\)/i.test(i.message);
}

export interface FieldIssue {
  /** the parameter the issue belongs to (first segment after `parameters.`), '' for the whole object */
  key: string;
  path: string;
  text: string;
}

/** The node's rules over a whole parameters object, as one line per issue keyed by parameter. */
export function checkParameters(params: Record<string, unknown>): FieldIssue[] {
  let issues: ValidationIssue[];
  try {
    issues = parameterIssues(params);
  } catch {
    return []; // the validator itself failed (it should not): the node decides on save
  }
  return issues
    .filter((i) => !blockedByCsp(i))
    .map((i) => {
      const rest = i.path.startsWith('parameters.') ? i.path.slice('parameters.'.length) : i.path === 'parameters' ? '' : i.path;
      const key = rest.split('.')[0] ?? '';
      const suggestion = i.suggestion ? ` (${i.suggestion})` : '';
      return { key, path: i.path, text: `PROFILE_INVALID: ${i.path}: ${i.message}${suggestion}` };
    });
}

/**
 * The merge patch of `parameters` from `current` to `next`: changed keys set to their new
 * (typed) value, removed keys null, equal ones absent. Values are compared as JSON.
 */
export function parametersPatch(current: Record<string, unknown>, next: Record<string, unknown>): Record<string, unknown> {
  const patch: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(next)) if (JSON.stringify(current[k]) !== JSON.stringify(v)) patch[k] = v;
  for (const k of Object.keys(current)) if (!(k in next)) patch[k] = null;
  return patch;
}
