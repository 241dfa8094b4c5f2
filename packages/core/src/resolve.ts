/**
 * Resolving a conflict (issue 13): what a `{ keep, value? }` request writes. `ours` and
 * `theirs` are the record's sides (as the node that detected it saw them), `merged` is the
 * field's current value (the merge, plus anything written since), `value` a given one. The
 * write itself replaces the field (resolve-write.ts); the store validates the result.
 */
import { CoreErrorCode, coreError } from './errors.js';
import { KEEPS, type Keep, type StoredConflict } from './conflict-records.js';
import { toolName, type ProfileContent } from './model.js';
import type { ConflictResolution } from './types.js';

function invalid(path: string, message: string): Error {
  return coreError(CoreErrorCode.INVALID, message, { path, rule: 'resolution', issues: [{ path, rule: 'resolution', message }] });
}

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Validates a resolution request body; PROFILE_INVALID (path keep/value) otherwise. */
export function checkResolution(r: unknown): ConflictResolution {
  if (!isObj(r)) throw invalid('', 'a resolution is an object { keep, value? }');
  for (const k of Object.keys(r)) if (k !== 'keep' && k !== 'value') throw invalid(k, `unknown key ${k} (a resolution is { keep, value? })`);
  const keep = r['keep'];
  if (typeof keep !== 'string' || !(KEEPS as readonly string[]).includes(keep)) throw invalid('keep', `keep must be one of ${KEEPS.join(', ')}`);
  const has = 'value' in r && r['value'] !== undefined;
  if (keep === 'value' && !has) throw invalid('value', 'keep: value needs a value (null removes a template, message or key)');
  if (keep !== 'value' && has) throw invalid('value', `a value is only read with keep: value (not ${keep})`);
  return keep === 'value' ? { keep, value: r['value'] } : { keep: keep as Keep };
}

/** The current value of a dotted field in a content (undefined when absent). */
export function fieldOf(c: ProfileContent, field: string): unknown {
  switch (field) {
    case 'description':
    case 'systemMessage':
    case 'name':
    case 'modelId':
    case 'deleted':
      return c[field];
  }
  const dot = field.indexOf('.');
  const head = field.slice(0, dot);
  const rest = field.slice(dot + 1);
  const params = c.parameters as Record<string, unknown>;
  switch (head) {
    case 'templates':
      return c.templates[rest];
    case 'meta':
      return c.meta[rest];
    case 'labels':
      return c.labels[rest];
    case 'messages': {
      const m = /^([^.]+)\.(content|role)$/.exec(rest);
      const msg = m === null ? undefined : c.messages.find((x) => x.id === m[1]);
      return msg === undefined ? undefined : msg[m![2] as 'content' | 'role'];
    }
    case 'parameters':
      if (rest.startsWith('tools.')) return (c.parameters.tools ?? []).find((t) => toolName(t) === rest.slice('tools.'.length));
      if (rest.startsWith('extra.')) return (params['extra'] as Record<string, unknown> | undefined)?.[rest.slice('extra.'.length)];
      return params[rest];
  }
  return undefined;
}

export interface Plan {
  /** the new value of the field (null: remove it) */
  value?: unknown;
  /** for a 'create' conflict: the whole content to keep */
  whole?: ProfileContent;
}

/** What the resolution writes; `check` validates a whole content (PROFILE_INVALID). */
export function resolutionPlan(id: string, rec: StoredConflict, r: ConflictResolution, current: ProfileContent, check: (c: unknown) => ProfileContent): Plan {
  if (rec.kind === 'create') {
    if (r.keep === 'merged') return { whole: current };
    const side = r.keep === 'ours' ? rec.ours : r.keep === 'theirs' ? rec.theirs : r.value;
    if (!isObj(side)) throw invalid(r.keep === 'value' ? 'value' : r.keep, 'a create conflict keeps a whole profile (an object)');
    for (const k of ['id', 'labels', 'version', 'updatedAt', 'updatedBy', 'schema', 'conflicts']) {
      if (r.keep === 'value' && k in side && k !== 'id') throw invalid(`value.${k}`, `${k} is not part of the content to keep`);
    }
    return { whole: check({ messages: [], templates: {}, parameters: {}, meta: {}, description: '', systemMessage: '', deleted: current.deleted, ...side, id, labels: current.labels }) };
  }
  const value = r.keep === 'merged' ? fieldOf(current, rec.field) : r.keep === 'ours' ? rec.ours : r.keep === 'theirs' ? rec.theirs : r.value;
  return { value: value === undefined ? null : value };
}
