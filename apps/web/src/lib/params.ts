/**
 * Typed parameter inputs: the known sampling parameters with their ranges (the same rules
 * core validates, docs/profile-model.md §4), client-side checks that mirror them so a person
 * sees the problem before saving, and the merge patch a form edit turns into.
 * The node stays the judge: its PROFILE_INVALID / PROFILE_TOO_LARGE answer is shown too.
 */
import type { ParamValue } from '@profilesync/core';

export interface NumberSpec {
  key: string;
  label: string;
  kind: 'number' | 'integer';
  min?: number;
  max?: number;
  step: number;
  help: string;
}

export const NUMBER_PARAMS: readonly NumberSpec[] = [
  { key: 'temperature', label: 'Temperature', kind: 'number', min: 0, max: 2, step: 0.01, help: '0 to 2' },
  { key: 'top_p', label: 'Top p', kind: 'number', min: 0, max: 1, step: 0.01, help: '0 to 1' },
  { key: 'max_tokens', label: 'Max tokens', kind: 'integer', min: 1, max: 10_000_000, step: 1, help: 'whole number, 1 to 10,000,000' },
  { key: 'seed', label: 'Seed', kind: 'integer', step: 1, help: 'whole number' },
  { key: 'presence_penalty', label: 'Presence penalty', kind: 'number', min: -2, max: 2, step: 0.01, help: '-2 to 2' },
  { key: 'frequency_penalty', label: 'Frequency penalty', kind: 'number', min: -2, max: 2, step: 0.01, help: '-2 to 2' },
];

export const STOP_MAX = 16;
export const STOP_ITEM_MAX = 256;
export const PARAM_NAME_RE = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;
export const TEMPLATE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
export const PROFILE_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** What the form holds: raw strings as typed, so a half-typed number is not lost. */
export interface ParamForm {
  numbers: Record<string, string>;
  /** one stop sequence per line */
  stop: string;
  /** other parameters, as JSON text per key */
  extra: Record<string, string>;
}

export function formFromParams(params: Record<string, ParamValue>): ParamForm {
  const numbers: Record<string, string> = {};
  for (const s of NUMBER_PARAMS) {
    const v = params[s.key];
    numbers[s.key] = typeof v === 'number' ? String(v) : '';
  }
  const stop = Array.isArray(params.stop) ? params.stop.join('\n') : '';
  const extra: Record<string, string> = {};
  for (const [k, v] of Object.entries(params)) {
    if (k === 'stop' || NUMBER_PARAMS.some((s) => s.key === k)) continue;
    extra[k] = typeof v === 'string' ? v : JSON.stringify(v);
  }
  return { numbers, stop, extra };
}

/** Parses one number input; undefined = empty (remove the parameter). */
export function checkNumber(spec: NumberSpec, raw: string): { value?: number; error?: string } {
  const t = raw.trim();
  if (t === '') return {};
  const n = Number(t);
  if (!Number.isFinite(n)) return { error: `${spec.label} must be a number` };
  if (spec.kind === 'integer' && !Number.isInteger(n)) return { error: `${spec.label} must be a whole number` };
  if (spec.min !== undefined && n < spec.min) return { error: `${spec.label} must be at least ${spec.min}` };
  if (spec.max !== undefined && n > spec.max) return { error: `${spec.label} must be at most ${spec.max}` };
  return { value: n };
}

export function parseStop(raw: string): { value?: string[]; error?: string } {
  const lines = raw.split('\n').map((l) => l.replace(/\r$/, '')).filter((l) => l !== '');
  if (lines.length === 0) return {};
  if (lines.length > STOP_MAX) return { error: `at most ${STOP_MAX} stop sequences` };
  if (lines.some((l) => l.length > STOP_ITEM_MAX)) return { error: `each stop sequence is at most ${STOP_ITEM_MAX} characters` };
  return { value: lines };
}

/** An extra parameter's text: JSON when it parses as a number, boolean, null or string array; else the string. */
export function parseExtra(raw: string): ParamValue {
  const t = raw.trim();
  if (t === '') return '';
  try {
    const v = JSON.parse(t) as unknown;
    if (typeof v === 'number' || typeof v === 'boolean' || v === null) return v;
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  } catch {
    /* a plain string */
  }
  return raw;
}

/**
 * The form -> a merge patch of `parameters` against the current values: changed keys set,
 * emptied keys null (removed), untouched keys absent. Errors are keyed by `parameters.KEY`.
 */
export function paramsPatch(form: ParamForm, current: Record<string, ParamValue>): { patch: Record<string, ParamValue>; errors: Record<string, string> } {
  const patch: Record<string, ParamValue> = {};
  const errors: Record<string, string> = {};
  const next: Record<string, ParamValue> = {};
  for (const s of NUMBER_PARAMS) {
    const r = checkNumber(s, form.numbers[s.key] ?? '');
    if (r.error) errors[`parameters.${s.key}`] = r.error;
    else if (r.value !== undefined) next[s.key] = r.value;
  }
  const stop = parseStop(form.stop);
  if (stop.error) errors['parameters.stop'] = stop.error;
  else if (stop.value) next.stop = stop.value;
  for (const [k, raw] of Object.entries(form.extra)) {
    if (!PARAM_NAME_RE.test(k)) errors[`parameters.${k}`] = `"${k}" is not a valid parameter name`;
    else next[k] = parseExtra(raw);
  }
  for (const [k, v] of Object.entries(next)) if (JSON.stringify(current[k]) !== JSON.stringify(v)) patch[k] = v;
  for (const k of Object.keys(current)) if (!(k in next) && !(`parameters.${k}` in errors)) patch[k] = null;
  return { patch, errors };
}
