/**
 * Parameters v2: known OpenAI-compatible chat keys with their types and ranges; any other key
 * is refused with a "did you mean" unless it is under `parameters.extra` (any JSON). Values are
 * JSON (objects and arrays too). One definition for every write path and for the dashboard.
 */
import { join, type Issues } from './issues.js';
import { checkJson, checkString, isPlainObject } from './json.js';
import { checkJsonSchema } from './json-schema.js';
import type { JsonObject, ProfileParameters } from './types.js';

export const PARAMETER_LIMITS = {
  maxTokens: 10_000_000,
  stopItems: 16,
  stopChars: 256,
  logitBiasKeys: 1024,
  tools: 128,
  toolDescriptionChars: 16 * 1024,
  extraKeys: 64,
  metadataKeys: 16,
  userChars: 256,
  n: 128,
} as const;

const L = PARAMETER_LIMITS;
/** Names of tools and json_schema formats (OpenAI's rule). */
export const TOOL_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** Keys of parameters.extra (and meta): the v1 rule for extra parameter names. */
export const EXTRA_KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;
/** Keys a body-level extra key may not take (render would overwrite model or messages). */
const RESERVED_EXTRA = new Set(['model', 'messages']);

type Check = (v: unknown, path: string, issues: Issues) => boolean;

const num =
  (min: number, max: number): Check =>
  (v, path, issues) =>
    typeof v !== 'number' || !Number.isFinite(v)
      ? issues.add(path, 'invalid_type', 'must be a number')
      : v < min
        ? issues.add(path, 'too_small', `must be >= ${min}`)
        : v > max
          ? issues.add(path, 'too_big', `must be <= ${max}`)
          : true;

const int =
  (min: number, max: number): Check =>
  (v, path, issues) =>
    !Number.isSafeInteger(v)
      ? issues.add(path, 'invalid_type', 'must be an integer')
      : (v as number) < min
        ? issues.add(path, 'too_small', `must be >= ${min}`)
        : (v as number) > max
          ? issues.add(path, 'too_big', `must be <= ${max}`)
          : true;

const bool: Check = (v, path, issues) => typeof v === 'boolean' || issues.add(path, 'invalid_type', 'must be a boolean');

const oneOf =
  (values: readonly string[]): Check =>
  (v, path, issues) =>
    (typeof v === 'string' && values.includes(v)) || issues.add(path, 'invalid_value', `must be one of ${values.join(', ')}`);

const str =
  (max: number, min = 0): Check =>
  (v, path, issues) =>
    typeof v !== 'string' ? issues.add(path, 'invalid_type', 'must be a string') : v.length < min ? issues.add(path, 'too_small', `at least ${min} character(s)`) : checkString(v, path, issues, max);

const jsonObject: Check = (v, path, issues) => (isPlainObject(v) ? checkJson(v, path, issues) : issues.add(path, 'invalid_type', 'must be a JSON object'));

function strictKeys(o: Record<string, unknown>, allowed: readonly string[], path: string, issues: Issues): boolean {
  let ok = true;
  for (const k of Object.keys(o)) if (!allowed.includes(k)) ok = issues.add(join(path, k), 'unknown-key', `unknown key '${k.slice(0, 64)}' (allowed: ${allowed.join(', ')})`, suggest(k, allowed));
  return ok;
}

const stop: Check = (v, path, issues) => {
  if (typeof v === 'string') return checkString(v, path, issues, L.stopChars);
  if (!Array.isArray(v)) return issues.add(path, 'invalid_type', 'must be a string or an array of strings');
  if (v.length > L.stopItems) return issues.add(path, 'max-items', `at most ${L.stopItems} stop sequences`);
  let ok = true;
  for (let i = 0; i < v.length; i++) ok = (typeof v[i] === 'string' ? checkString(v[i] as string, join(path, i), issues, L.stopChars) : issues.add(join(path, i), 'invalid_type', 'must be a string')) && ok;
  return ok;
};

const logitBias: Check = (v, path, issues) => {
  if (!isPlainObject(v)) return issues.add(path, 'invalid_type', 'must be an object of token id -> bias');
  const keys = Object.keys(v);
  if (keys.length > L.logitBiasKeys) return issues.add(path, 'max-keys', `at most ${L.logitBiasKeys} tokens`);
  let ok = true;
  for (const k of keys) {
    if (!/^(0|[1-9][0-9]{0,9})$/.test(k)) ok = issues.add(join(path, k), 'key-name', 'keys are token ids (decimal integers)');
    else ok = num(-100, 100)(v[k], join(path, k), issues) && ok;
  }
  return ok;
};

function schemaValue(v: unknown, path: string, issues: Issues): boolean {
  return checkJson(v, path, issues) && checkJsonSchema(v, path, issues);
}

const responseFormat: Check = (v, path, issues) => {
  if (!isPlainObject(v)) return issues.add(path, 'invalid_type', 'must be an object with a type');
  switch (v['type']) {
    case 'text':
    case 'json_object':
      return strictKeys(v, ['type'], path, issues);
    case 'json_schema': {
      if (!strictKeys(v, ['type', 'json_schema'], path, issues)) return false;
      const js = v['json_schema'];
      const p = join(path, 'json_schema');
      if (!isPlainObject(js)) return issues.add(p, 'invalid_type', 'must be an object { name, description?, schema?, strict? }');
      let ok = strictKeys(js, ['name', 'description', 'schema', 'strict'], p, issues);
      if (typeof js['name'] !== 'string' || !TOOL_NAME_PATTERN.test(js['name'])) ok = issues.add(join(p, 'name'), 'invalid_format', `must match ${TOOL_NAME_PATTERN.source}`);
      if (js['description'] !== undefined) ok = str(L.toolDescriptionChars)(js['description'], join(p, 'description'), issues) && ok;
      if (js['strict'] !== undefined && js['strict'] !== null) ok = bool(js['strict'], join(p, 'strict'), issues) && ok;
      if (js['schema'] !== undefined) ok = schemaValue(js['schema'], join(p, 'schema'), issues) && ok;
      return ok;
    }
    default:
      return issues.add(join(path, 'type'), 'invalid_value', 'must be text, json_object or json_schema');
  }
};

/** One tool; returns its name (for the uniqueness check) or undefined when invalid. */
export function checkTool(v: unknown, path: string, issues: Issues): string | undefined {
  if (!isPlainObject(v)) return void issues.add(path, 'invalid_type', "must be a tool object { type: 'function', function: {...} }");
  const type = v['type'];
  if (type !== 'function' && type !== 'custom') return void issues.add(join(path, 'type'), 'invalid_value', 'must be function or custom');
  if (!strictKeys(v, ['type', type], path, issues)) return undefined;
  const f = v[type];
  const p = join(path, type);
  if (!isPlainObject(f)) return void issues.add(p, 'invalid_type', 'must be an object { name, description?, ... }');
  const allowed = type === 'function' ? ['name', 'description', 'parameters', 'strict'] : ['name', 'description', 'format'];
  let ok = strictKeys(f, allowed, p, issues);
  const name = f['name'];
  if (typeof name !== 'string' || !TOOL_NAME_PATTERN.test(name)) ok = issues.add(join(p, 'name'), 'invalid_format', `must match ${TOOL_NAME_PATTERN.source}`);
  if (f['description'] !== undefined) ok = str(L.toolDescriptionChars)(f['description'], join(p, 'description'), issues) && ok;
  if (type === 'function') {
    if (f['parameters'] !== undefined) ok = schemaValue(f['parameters'], join(p, 'parameters'), issues) && ok;
    if (f['strict'] !== undefined && f['strict'] !== null) ok = bool(f['strict'], join(p, 'strict'), issues) && ok;
  } else if (f['format'] !== undefined) ok = jsonObject(f['format'], join(p, 'format'), issues) && ok;
  return ok ? (name as string) : undefined;
}

export const tools: Check = (v, path, issues) => {
  if (!Array.isArray(v)) return issues.add(path, 'invalid_type', 'must be an array of tools');
  if (v.length > L.tools) return issues.add(path, 'max-items', `at most ${L.tools} tools`);
  const seen = new Set<string>();
  let ok = true;
  for (let i = 0; i < v.length; i++) {
    const name = checkTool(v[i], join(path, i), issues);
    if (name === undefined) ok = false;
    else if (seen.has(name)) ok = issues.add(join(path, i), 'duplicate', `two tools are named '${name}'`);
    else seen.add(name);
  }
  return ok;
};

const toolChoice: Check = (v, path, issues) => {
  if (typeof v === 'string') return oneOf(['none', 'auto', 'required'])(v, path, issues);
  if (!isPlainObject(v)) return issues.add(path, 'invalid_type', "must be 'none', 'auto', 'required' or an object");
  switch (v['type']) {
    case 'function':
    case 'custom': {
      const t = v['type'];
      if (!strictKeys(v, ['type', t], path, issues)) return false;
      const f = v[t];
      if (!isPlainObject(f) || typeof f['name'] !== 'string' || !TOOL_NAME_PATTERN.test(f['name'])) return issues.add(join(path, t), 'invalid_type', 'must be { name }');
      return strictKeys(f, ['name'], join(path, t), issues);
    }
    case 'allowed_tools':
      return jsonObject(v, path, issues);
    default:
      return issues.add(join(path, 'type'), 'invalid_value', 'must be function, custom or allowed_tools');
  }
};

const modalities: Check = (v, path, issues) => {
  if (!Array.isArray(v) || v.length > 2) return issues.add(path, 'invalid_type', "must be an array of 'text' and/or 'audio'");
  let ok = true;
  for (let i = 0; i < v.length; i++) ok = oneOf(['text', 'audio'])(v[i], join(path, i), issues) && ok;
  if (ok && new Set(v).size !== v.length) ok = issues.add(path, 'duplicate', 'modalities repeat');
  return ok;
};

const metadata: Check = (v, path, issues) => {
  if (!isPlainObject(v)) return issues.add(path, 'invalid_type', 'must be an object of string -> string');
  const keys = Object.keys(v);
  if (keys.length > L.metadataKeys) return issues.add(path, 'max-keys', `at most ${L.metadataKeys} keys`);
  let ok = true;
  for (const k of keys) ok = (k.length <= 64 ? str(512)(v[k], join(path, k), issues) : issues.add(join(path, k), 'key-name', 'keys have at most 64 characters')) && ok;
  return ok;
};

const extra: Check = (v, path, issues) => {
  if (!isPlainObject(v)) return issues.add(path, 'invalid_type', 'must be an object of KEY: JSON');
  const keys = Object.keys(v);
  if (keys.length > L.extraKeys) return issues.add(path, 'max-keys', `at most ${L.extraKeys} extra parameters`);
  let ok = true;
  for (const k of keys) {
    const p = join(path, k);
    if (!EXTRA_KEY_PATTERN.test(k)) ok = issues.add(p, 'key-name', `key must match ${EXTRA_KEY_PATTERN.source}`);
    else if (RESERVED_EXTRA.has(k)) ok = issues.add(p, 'key-name', `'${k}' is set by render and cannot be an extra parameter`);
    else ok = checkJson(v[k], p, issues) && ok;
  }
  return ok;
};

/** The known keys and their checks (everything else goes under `extra`). */
export const PARAMETER_SPECS: Readonly<Record<string, Check>> = Object.freeze({
  temperature: num(0, 2),
  top_p: num(0, 1),
  max_tokens: int(1, L.maxTokens),
  max_completion_tokens: int(1, L.maxTokens),
  stop,
  seed: int(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER),
  presence_penalty: num(-2, 2),
  frequency_penalty: num(-2, 2),
  logit_bias: logitBias,
  response_format: responseFormat,
  tools,
  tool_choice: toolChoice,
  parallel_tool_calls: bool,
  reasoning_effort: oneOf(['none', 'minimal', 'low', 'medium', 'high', 'xhigh']),
  verbosity: oneOf(['low', 'medium', 'high']),
  n: int(1, L.n),
  user: str(L.userChars, 1),
  logprobs: bool,
  top_logprobs: int(0, 20),
  modalities,
  audio: jsonObject,
  service_tier: oneOf(['auto', 'default', 'flex', 'scale', 'priority']),
  store: bool,
  metadata,
  prediction: jsonObject,
  prompt_cache_key: str(1024, 1),
  safety_identifier: str(256, 1),
  web_search_options: jsonObject,
});

export const KNOWN_PARAMETERS: readonly string[] = Object.keys(PARAMETER_SPECS);

/**
 * Sampling parameters other providers take (Anthropic, Gemini, Mistral, Ollama, vLLM, llama.cpp)
 * that lie a letter or two from a known key (top_k from top_p): not typos, so the hint for them
 * is `extra` alone, never a "did you mean".
 */
const PROVIDER_PARAMETERS: ReadonlySet<string> = new Set([
  'top_k', 'min_p', 'top_a', 'typical_p', 'tfs_z', 'repetition_penalty', 'repeat_penalty', 'repeat_last_n',
  'mirostat', 'mirostat_eta', 'mirostat_tau', 'num_ctx', 'num_predict', 'max_output_tokens', 'stop_sequences',
  'candidate_count', 'safe_prompt', 'random_seed', 'length_penalty', 'best_of', 'use_beam_search',
]);
/** Keys whose values are not atomic in the Y.Doc (docs/profile-model.md, merge semantics). */
export const NESTED_PARAMETERS: readonly string[] = ['tools', 'extra'];

/** Damerau-Levenshtein distance (optimal string alignment), capped work for long inputs. */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  if (a.length > 64 || b.length > 64) return Math.max(a.length, b.length);
  const d: number[][] = [];
  for (let i = 0; i <= a.length; i++) d.push([i]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The closest candidate within a third of the key's length (at least 1, at most 3 edits), as "did you mean 'x'?". */
export function suggest(key: string, candidates: readonly string[]): string | undefined {
  const k = key.toLowerCase();
  const limit = Math.min(3, Math.max(1, Math.floor(k.length / 3)));
  let best: string | undefined;
  let bestD = limit + 1;
  for (const c of candidates) {
    const d = editDistance(k, c.toLowerCase());
    if (d < bestD) {
      best = c;
      bestD = d;
    }
  }
  return best === undefined ? undefined : `did you mean '${best}'?`;
}

/** Validates a parameters object; adds issues under `path` (default 'parameters'). */
export function checkParameters(v: unknown, issues: Issues, path = 'parameters', valid?: unknown): boolean {
  if (!isPlainObject(v)) return issues.add(path, 'invalid_type', 'must be an object');
  // `valid`: parameters known valid (the previous content); a key holding the very same value
  // there was checked then and is not checked again (the rule across keys below always runs)
  const known = isPlainObject(valid) ? valid : undefined;
  let ok = true;
  for (const k of Object.keys(v)) {
    const value = v[k];
    if (known !== undefined && value !== undefined && known[k] === value && Object.prototype.hasOwnProperty.call(known, k)) continue;
    const p = join(path, k);
    if (k === 'extra') {
      ok = extra(value, p, issues) && ok;
      continue;
    }
    const spec = PARAMETER_SPECS[k];
    if (spec === undefined || !Object.prototype.hasOwnProperty.call(PARAMETER_SPECS, k)) {
      const hint = (PROVIDER_PARAMETERS.has(k) ? undefined : suggest(k, KNOWN_PARAMETERS)) ?? `a model-specific key goes under parameters.extra.${k.slice(0, 64)}`;
      ok = issues.add(p, 'unknown-parameter', `unknown parameter '${k.slice(0, 64)}'`, hint);
      continue;
    }
    if (value === undefined) continue;
    ok = spec(value, p, issues) && ok;
  }
  // a known key under extra is a raw override (sent as given, e.g. a provider's wider range, or a
  // schema-1 value v2 refuses); the same key at both places is ambiguous
  const ex = v['extra'];
  if (isPlainObject(ex)) {
    for (const k of Object.keys(ex)) {
      if (Object.prototype.hasOwnProperty.call(PARAMETER_SPECS, k) && v[k] !== undefined) ok = issues.add(join(join(path, 'extra'), k), 'extra-known-key', `'${k}' is set both as parameters.${k} and parameters.extra.${k}`, `keep one of parameters.${k} and parameters.extra.${k}`);
    }
  }
  return ok;
}

/**
 * Up-conversion of v1 parameters (flat primitives, unknown keys allowed) to v2: a known key whose
 * value is valid in v2 stays; every other key (unknown, or known with a value v2 refuses) moves
 * under `extra` with its value unchanged. Deterministic: a v1 profile reads the same on every node.
 */
export function upgradeParameters(v1: Record<string, unknown>, into?: JsonObject): ProfileParameters {
  const out: ProfileParameters = {};
  let moved: JsonObject | undefined = into;
  for (const k of Object.keys(v1)) {
    const value = v1[k];
    if (value === undefined) continue;
    const spec = Object.prototype.hasOwnProperty.call(PARAMETER_SPECS, k) ? PARAMETER_SPECS[k] : undefined;
    if (spec !== undefined && spec(value, k, SILENT)) out[k] = value as ProfileParameters[string];
    else {
      moved ??= {};
      moved[k] = value as JsonObject[string];
    }
  }
  if (moved !== undefined && Object.keys(moved).length > 0) out.extra = moved;
  return out;
}

/** An Issues sink that only answers valid/invalid (for up-conversion). */
const SILENT = { add: () => false as const, list: [], count: 0, ok: true } as unknown as Issues;
