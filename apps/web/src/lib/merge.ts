/**
 * JSON Merge Patch (RFC 7396) helpers for import: the fields a person may write, and the
 * patch that turns one view into another (nested objects merge, absent keys become null).
 */
type Json = Record<string, unknown>;

export const EXPORT_FORMAT = 'profilesync-export/v1';
const WRITABLE = ['modelId', 'name', 'description', 'systemMessage', 'templates', 'messages', 'parameters', 'meta'] as const;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The writable fields of a view or an imported item. */
export function writable(item: Json): Json {
  const out: Json = {};
  for (const k of WRITABLE) if (item[k] !== undefined) out[k] = item[k];
  return out;
}

function equal(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The merge patch from `current` to `target` over the writable fields. Maps (templates,
 * parameters, meta) are diffed per key and each value is sent whole: a parameter such as
 * response_format is one value on the node, so half of it must never be sent. Messages are
 * sent as the whole list (ids keep their identity on the node).
 */
export function mergeDiff(current: Json, target: Json): Json {
  const patch: Json = {};
  for (const [k, v] of Object.entries(target)) {
    const cur = current[k];
    if (isObject(v) && isObject(cur)) {
      const sub: Json = {};
      for (const [key, value] of Object.entries(v)) if (!equal(cur[key], value)) sub[key] = value;
      for (const key of Object.keys(cur)) if (!(key in v)) sub[key] = null;
      if (Object.keys(sub).length > 0) patch[k] = sub;
    } else if (!equal(cur, v)) {
      patch[k] = v;
    }
  }
  return patch;
}

/** An export file's profiles: `{ format, profiles: [...] }` or a bare array. */
export function importItems(data: unknown): Json[] {
  const items = Array.isArray(data) ? data : isObject(data) && Array.isArray(data.profiles) ? data.profiles : undefined;
  if (items === undefined) throw new Error('the file must hold an array of profiles or { "profiles": [...] }');
  return items.map((x, i) => {
    if (!isObject(x)) throw new Error(`item ${i} is not an object`);
    return x;
  });
}
