/**
 * JSON Schema checks (draft 2020-12, DESIGN §6): a tool's `parameters` and
 * `response_format.json_schema.schema` must themselves be valid schemas. Ajv's 2020 build
 * validates them against the draft 2020-12 meta-schema (created on first use: ~tens of ms once).
 * References must stay inside the schema (`$ref: "#/..."`): a node resolves nothing remote.
 *
 * Ajv compiles the meta-schema into a function with `new Function`. Where that is forbidden (a
 * page whose Content-Security-Policy has no 'unsafe-eval', `node
 * --disallow-code-generation-from-strings`) the compile fails: the failure is remembered (the
 * next check reports the same issue at once instead of compiling again) and Ajv's logger is
 * off, so nothing is printed (Ajv would log the whole generated code on every attempt).
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv';
import { join, type Issues } from './issues.js';
import { isPlainObject } from './json.js';

export const DRAFT_2020_12 = 'https://json-schema.org/draft/2020-12/schema';

let meta: ValidateFunction | undefined;
/** why the meta-schema could not be compiled here (then it is not tried again) */
let compileFailure: string | undefined;

/** The compiled draft 2020-12 meta-schema validator; throws (the same message every time) where it cannot be compiled. */
function metaValidator(): ValidateFunction {
  if (meta !== undefined) return meta;
  if (compileFailure !== undefined) throw new Error(compileFailure);
  try {
    const ajv = new Ajv2020({ strict: false, allErrors: false, validateFormats: false, logger: false });
    const v = ajv.getSchema(DRAFT_2020_12);
    if (v === undefined) throw new Error('the draft 2020-12 meta-schema is missing');
    meta = v;
    return v;
  } catch (err) {
    compileFailure = String((err as Error)?.message ?? err);
    throw err;
  }
}

const REF_KEYS = ['$ref', '$dynamicRef'] as const;

function remoteRef(schema: unknown, path: string, issues: Issues, depth: number): boolean {
  if (depth > 64 || schema === null || typeof schema !== 'object') return true;
  if (Array.isArray(schema)) {
    for (let i = 0; i < schema.length; i++) if (!remoteRef(schema[i], join(path, i), issues, depth + 1)) return false;
    return true;
  }
  const o = schema as Record<string, unknown>;
  for (const k of REF_KEYS) {
    const r = o[k];
    if (typeof r === 'string' && !r.startsWith('#')) return issues.add(join(path, k), 'json-schema', `only local references ('#...') are allowed, not '${r.slice(0, 80)}'`);
  }
  for (const k of Object.keys(o)) {
    // `const`, `enum`, `default` and `examples` hold data, not schemas
    if (k === 'const' || k === 'enum' || k === 'default' || k === 'examples') continue;
    if (!remoteRef(o[k], join(path, k), issues, depth + 1)) return false;
  }
  return true;
}

/** Whether `schema` is a valid draft 2020-12 JSON Schema object (the value is already known to be JSON). */
export function checkJsonSchema(schema: unknown, path: string, issues: Issues): boolean {
  if (!isPlainObject(schema)) return issues.add(path, 'json-schema', 'must be a JSON Schema object (draft 2020-12)');
  const declared = schema['$schema'];
  if (declared !== undefined && declared !== DRAFT_2020_12 && declared !== `${DRAFT_2020_12}#`) {
    return issues.add(join(path, '$schema'), 'json-schema', `only draft 2020-12 schemas are accepted ('${DRAFT_2020_12}')`);
  }
  let validate: ValidateFunction;
  let valid: boolean;
  try {
    validate = metaValidator();
    valid = validate(schema) === true;
  } catch (err) {
    return issues.add(path, 'json-schema', `not a valid JSON Schema (draft 2020-12): ${String((err as Error).message).slice(0, 200)}`);
  }
  if (!valid) {
    const e = validate.errors?.[0];
    const where = e?.instancePath ? e.instancePath.slice(1).split('/').join('.') : '';
    return issues.add(where === '' ? path : join(path, where), 'json-schema', `not a valid JSON Schema (draft 2020-12): ${e?.message ?? 'invalid'}`);
  }
  return remoteRef(schema, path, issues, 0);
}
