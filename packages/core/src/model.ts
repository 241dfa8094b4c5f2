/**
 * The profile Y.Doc, schema 2 (docs/profile-model.md §1), and its materialization into plain JSON.
 *
 * root doc.getMap('profile'):
 *   id, modelId, name: string        description, systemMessage: Y.Text      deleted: boolean
 *   templates: Y.Map<Y.Text>         labels: Y.Map<ref>                      meta: Y.Map<primitive | string[]>
 *   parameters: Y.Map<JSON>          known parameters except tools, each an atomic JSON value
 *   tools: Y.Map<name, { pos, tool }> one atomic value per tool, ordered by (pos, name)
 *   extra: Y.Map<key, JSON>          parameters.extra, one atomic value per key
 *   messages: Y.Map<id, Y.Map{ role, content: Y.Text, pos }>   ordered by (pos, id)
 *   schema: 2
 * Schema-1 docs (no `schema` key, flat parameters) read up-converted and are migrated on their
 * first local write: the deterministic migration update (client 0, right after the skeleton)
 * plus moving the parameters v2 does not know into `extra`.
 */
import * as Y from 'yjs';
import {
  compareByPosition,
  isPosition,
  isStoredRef,
  positionBetween,
  positionsBetween,
  upgradeParameters,
  type JsonObject,
  type Message,
  type ProfileContentV2,
  type ProfileParameters,
  type Tool,
} from '@profilesync/model';
import { canonicalShallow, deepFreeze, isCanonical, jsonEqual, objectJson, stringJson } from './canonical.js';
import { applyTextDiff } from './textdiff.js';
import type { ProfileView } from './types.js';

export const ROOT = 'profile';
export const SCHEMA_VERSION = 2;

/** The view without the computed fields (version, updatedAt, updatedBy, schema, conflicts). */
export type ProfileContent = ProfileContentV2;

export const TEXT_FIELDS = ['description', 'systemMessage'] as const;

/** Stands in for a value of the wrong Yjs kind (e.g. a plain string where a Y.Text belongs); fails validation. */
export const WRONG_KIND: unique symbol = Symbol('wrong-yjs-kind');

/** A profile doc. gc off (past versions are rebuilt from it); fixed guid (no subdocuments). */
export function newProfileDoc(): Y.Doc {
  return new Y.Doc({ gc: false, guid: 'profile' });
}

/**
 * The skeleton every profile starts from, written by the reserved client 0 with fixed content.
 * It is byte-identical on every node, so two peers that create the same id offline share the
 * containers. Part of the storage format: never change it.
 */
export function skeletonUpdate(id: string): Uint8Array {
  const doc = newProfileDoc();
  doc.clientID = 0;
  doc.transact(() => {
    const root = doc.getMap(ROOT);
    root.set('id', id);
    root.set('description', new Y.Text());
    root.set('systemMessage', new Y.Text());
    root.set('templates', new Y.Map());
    root.set('parameters', new Y.Map());
    root.set('labels', new Y.Map());
    root.set('meta', new Y.Map());
    root.set('deleted', false);
  });
  const update = Y.encodeStateAsUpdate(doc);
  doc.destroy();
  return update;
}

/** Client 0's clock after the skeleton (its 8 items). */
export const SKELETON_CLOCK = 8;

let migration: Uint8Array | undefined;

/**
 * The schema 1 -> 2 migration: client 0, clocks 8.., right after the skeleton; sets the new
 * containers and `schema: 2`. The same bytes on every node whatever the id (the items reference
 * the root by name only), so two nodes migrating one profile write identical structs, which
 * Yjs deduplicates. Part of the storage format: never change it (a schema 3 gets its own).
 */
export function migrationUpdate(): Uint8Array {
  if (migration !== undefined) return migration;
  const doc = newProfileDoc();
  Y.applyUpdate(doc, skeletonUpdate('x'));
  // set after applying: Yjs re-rolls a client id whose structs arrive in a remote update
  doc.clientID = 0;
  const sv = Y.encodeStateVector(doc);
  doc.transact(() => {
    const root = doc.getMap(ROOT);
    root.set('messages', new Y.Map());
    root.set('tools', new Y.Map());
    root.set('extra', new Y.Map());
    root.set('schema', SCHEMA_VERSION);
  });
  migration = Y.encodeStateAsUpdate(doc, sv);
  doc.destroy();
  return migration;
}

/** Root 'profile' of each doc (doc.getMap looks the name up and checks the type on every call). */
const ROOTS = new WeakMap<Y.Doc, Y.Map<unknown>>();

/** Schema of a doc: 2 once migrated, 1 before. */
export function schemaOf(doc: Y.Doc): 1 | 2 {
  let root = ROOTS.get(doc);
  if (root === undefined) {
    root = doc.getMap<unknown>(ROOT);
    ROOTS.set(doc, root);
  }
  return root.get('schema') === SCHEMA_VERSION ? 2 : 1;
}

/**
 * Migrates a schema-1 doc in the current transaction (call inside doc.transact): applies the
 * migration update (or, for a doc without the skeleton, which no profile written by this
 * project lacks, creates the containers with the local client), then moves the parameters
 * schema 2 does not keep into `extra`. No-op on a schema-2 doc.
 */
export function migrateDoc(doc: Y.Doc): void {
  const root = doc.getMap<unknown>(ROOT);
  if (root.get('schema') === SCHEMA_VERSION) return;
  if (Y.getState(doc.store, 0) >= SKELETON_CLOCK) Y.applyUpdate(doc, migrationUpdate());
  if (!(root.get('messages') instanceof Y.Map)) root.set('messages', new Y.Map());
  if (!(root.get('tools') instanceof Y.Map)) root.set('tools', new Y.Map());
  if (!(root.get('extra') instanceof Y.Map)) root.set('extra', new Y.Map());
  if (root.get('schema') !== SCHEMA_VERSION) root.set('schema', SCHEMA_VERSION);
  const params = root.get('parameters');
  const extra = root.get('extra') as Y.Map<unknown>;
  if (!(params instanceof Y.Map)) return;
  const flat: Record<string, unknown> = {};
  for (const [k, v] of (params as Y.Map<unknown>).entries()) flat[k] = v;
  const kept = upgradeParameters(flat);
  for (const k of Object.keys(flat)) {
    if (k in kept && k !== 'extra') continue;
    (params as Y.Map<unknown>).delete(k);
    if (extra.get(k) === undefined) extra.set(k, clone(flat[k]));
  }
}

const clone = <T>(v: T): T => (v !== null && typeof v === 'object' ? (structuredClone(v) as T) : v);

function plainValue(v: unknown): unknown {
  if (v instanceof Y.AbstractType) return WRONG_KIND;
  return clone(v);
}

function readMap(value: unknown, text: boolean): unknown {
  if (!(value instanceof Y.Map)) return value === undefined ? undefined : WRONG_KIND;
  const out: Record<string, unknown> = {};
  for (const [k, v] of (value as Y.Map<unknown>).entries()) {
    out[k] = text ? (v instanceof Y.Text ? v.toString() : WRONG_KIND) : plainValue(v);
  }
  return out;
}

function readText(value: unknown): unknown {
  if (value instanceof Y.Text) return value.toString();
  return value === undefined ? undefined : WRONG_KIND;
}

/** Messages in order; a malformed entry yields WRONG_KIND (the validator refuses it). */
function readMessages(value: unknown): unknown {
  if (!(value instanceof Y.Map)) return value === undefined ? [] : WRONG_KIND;
  const items: { id: string; pos: string; role: unknown; content: unknown }[] = [];
  for (const [id, m] of (value as Y.Map<unknown>).entries()) {
    if (!(m instanceof Y.Map)) return [WRONG_KIND];
    const pos = m.get('pos');
    const content = m.get('content');
    if (!isPosition(pos) || !(content instanceof Y.Text)) return [WRONG_KIND];
    for (const k of m.keys()) if (k !== 'pos' && k !== 'role' && k !== 'content') return [WRONG_KIND];
    items.push({ id, pos, role: m.get('role'), content: content.toString() });
  }
  items.sort(compareByPosition);
  return items.map((x) => ({ content: x.content, id: x.id, role: x.role }));
}

/** Tools in order; each value must be { pos, tool } with the tool named as its key. */
function readTools(value: unknown): unknown {
  if (!(value instanceof Y.Map)) return undefined;
  const items: { id: string; pos: string; tool: unknown }[] = [];
  for (const [name, v] of (value as Y.Map<unknown>).entries()) {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return [WRONG_KIND];
    const { pos, tool } = v as { pos?: unknown; tool?: unknown };
    if (!isPosition(pos) || Object.keys(v).length !== 2 || toolName(tool) !== name) return [WRONG_KIND];
    items.push({ id: name, pos, tool: clone(tool) });
  }
  if (items.length === 0) return undefined;
  items.sort(compareByPosition);
  return items.map((x) => x.tool);
}

export function toolName(tool: unknown): string | undefined {
  if (tool === null || typeof tool !== 'object') return undefined;
  const t = tool as Record<string, unknown>;
  const inner = t[t['type'] === 'custom' ? 'custom' : 'function'];
  const name = inner !== null && typeof inner === 'object' ? (inner as Record<string, unknown>)['name'] : undefined;
  return typeof name === 'string' ? name : undefined;
}

export interface ReadResult {
  /** content, unvalidated (wrong kinds appear as WRONG_KIND, unknown root keys as themselves) */
  content: Record<string, unknown>;
  schema: 1 | 2;
}

/** Reads the doc into plain JSON content (schema-1 docs up-converted). */
export function readContent(doc: Y.Doc): Record<string, unknown> {
  return readDoc(doc).content;
}

export function readDoc(doc: Y.Doc): ReadResult {
  const root = doc.getMap(ROOT);
  const schema: 1 | 2 = root.get('schema') === SCHEMA_VERSION ? 2 : 1;
  const out: Record<string, unknown> = {};
  let params: Record<string, unknown> | symbol | undefined;
  let tools: unknown;
  let extra: unknown;
  for (const [key, value] of root.entries()) {
    switch (key) {
      case 'description':
      case 'systemMessage':
        out[key] = readText(value);
        break;
      case 'templates':
        out[key] = readMap(value, true);
        break;
      case 'parameters':
        params = readMap(value, false) as Record<string, unknown> | symbol | undefined;
        break;
      case 'labels':
      case 'meta':
        out[key] = readMap(value, false);
        break;
      case 'messages':
        out[key] = schema === 2 ? readMessages(value) : [];
        break;
      case 'tools':
        if (schema === 2) tools = readTools(value);
        break;
      case 'extra':
        if (schema === 2) extra = readMap(value, false);
        break;
      case 'schema':
        break;
      default:
        out[key] = plainValue(value);
    }
  }
  if (out['messages'] === undefined) out['messages'] = [];
  if (typeof params === 'object' && params !== null) {
    if (schema === 1) out['parameters'] = upgradeParameters(params);
    else {
      const p: Record<string, unknown> = { ...params };
      // a schema-2 parameters map holds neither tools nor extra (they have their own maps)
      if ('tools' in p || 'extra' in p) p['tools'] = WRONG_KIND;
      if (tools !== undefined) p['tools'] = tools;
      if (typeof extra === 'object' && extra !== null && Object.keys(extra).length > 0) p['extra'] = extra;
      else if (extra !== undefined && typeof extra !== 'object') p['extra'] = WRONG_KIND;
      out['parameters'] = p;
    }
  } else out['parameters'] = params;
  if (schema === 1 && typeof out['labels'] === 'object' && out['labels'] !== null && typeof out['id'] === 'string') {
    // schema 1 did not check label values (a /yjs client could store any string): such a label
    // names no version, so it is not shown (and is dropped by the migration write)
    const labels = out['labels'] as Record<string, unknown>;
    for (const k of Object.keys(labels)) if (!isStoredRef(labels[k], out['id'])) delete labels[k];
  }
  return { content: out, schema };
}

function setJson(map: Y.Map<unknown>, key: string, before: unknown, after: unknown): void {
  if (after === undefined) {
    if (before !== undefined) map.delete(key);
  } else if (before === undefined || !jsonEqual(before, after)) map.set(key, clone(after));
}

function applyPlainMap(map: Y.Map<unknown>, before: Record<string, unknown>, after: Record<string, unknown>, skip?: ReadonlySet<string>): void {
  for (const k of Object.keys(before)) if (!(k in after) && !skip?.has(k)) map.delete(k);
  for (const [k, v] of Object.entries(after)) if (!skip?.has(k)) setJson(map, k, before[k], v);
}

const NESTED: ReadonlySet<string> = new Set(['tools', 'extra']);

/**
 * New positions for a list whose order changed: the longest run of kept items that is already
 * in order keeps its positions; every other item (new or moved) gets a position between its
 * final neighbours. Returns id -> position for the items that need one.
 */
export function reposition(order: readonly string[], current: ReadonlyMap<string, string>): Map<string, string> {
  // longest increasing subsequence (by current position) of the kept ids, in the new order
  const kept = order.map((id, i) => ({ id, i, pos: current.get(id) })).filter((x): x is { id: string; i: number; pos: string } => x.pos !== undefined);
  const tails: number[] = [];
  const prev: number[] = new Array<number>(kept.length).fill(-1);
  for (let k = 0; k < kept.length; k++) {
    const p = kept[k]!.pos;
    let lo = 0;
    let hi = tails.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (kept[tails[mid]!]!.pos < p) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0) prev[k] = tails[lo - 1]!;
    tails[lo] = k;
  }
  const stay = new Set<string>();
  for (let k = tails.length > 0 ? tails[tails.length - 1]! : -1; k >= 0; k = prev[k]!) stay.add(kept[k]!.id);
  const out = new Map<string, string>();
  let i = 0;
  let lower: string | null = null;
  while (i < order.length) {
    const id = order[i]!;
    if (stay.has(id)) {
      lower = current.get(id)!;
      i++;
      continue;
    }
    let j = i;
    while (j < order.length && !stay.has(order[j]!)) j++;
    const upper = j < order.length ? current.get(order[j]!)! : null;
    const fresh = positionsBetween(lower, upper, j - i);
    for (let k = i; k < j; k++) out.set(order[k]!, fresh[k - i]!);
    lower = fresh[fresh.length - 1]!;
    i = j;
  }
  return out;
}

function applyTools(map: Y.Map<unknown>, before: readonly Tool[] | undefined, after: readonly Tool[] | undefined): void {
  const b = new Map((before ?? []).map((t) => [toolName(t)!, t]));
  const a = after ?? [];
  const names = a.map((t) => toolName(t)!);
  for (const name of b.keys()) if (!names.includes(name)) map.delete(name);
  const current = new Map<string, string>();
  for (const name of names) {
    const v = map.get(name) as { pos?: string } | undefined;
    if (v !== undefined && typeof v.pos === 'string') current.set(name, v.pos);
  }
  const moved = reposition(names, current);
  for (let i = 0; i < a.length; i++) {
    const name = names[i]!;
    const pos = moved.get(name) ?? current.get(name)!;
    const old = b.get(name);
    if (moved.has(name) || old === undefined || !jsonEqual(old, a[i])) map.set(name, { pos, tool: clone(a[i]) });
  }
}

function applyMessages(map: Y.Map<unknown>, before: readonly Message[], after: readonly Message[]): void {
  const b = new Map(before.map((m) => [m.id, m]));
  const ids = after.map((m) => m.id);
  const keep = new Set(ids);
  for (const id of b.keys()) if (!keep.has(id)) map.delete(id);
  const current = new Map<string, string>();
  for (const id of ids) {
    const m = map.get(id);
    if (b.has(id) && m instanceof Y.Map && typeof m.get('pos') === 'string') current.set(id, m.get('pos') as string);
  }
  const moved = reposition(ids, current);
  for (const m of after) {
    const old = b.get(m.id);
    const ym = map.get(m.id);
    if (old === undefined || !(ym instanceof Y.Map)) {
      const fresh = new Y.Map<unknown>();
      fresh.set('role', m.role);
      fresh.set('content', new Y.Text(m.content));
      fresh.set('pos', moved.get(m.id) ?? positionBetween(null, null));
      map.set(m.id, fresh);
      continue;
    }
    if (old.role !== m.role) ym.set('role', m.role);
    if (old.content !== m.content) applyTextDiff(ym.get('content') as Y.Text, old.content, m.content);
    const pos = moved.get(m.id);
    if (pos !== undefined) ym.set('pos', pos);
  }
}

/**
 * Writes the difference between two contents into the doc (call inside a transaction; a
 * schema-1 doc is migrated first): scalars are set, texts get minimal character edits, map keys
 * are set or deleted, messages and tools are matched by id/name (moves set positions). Keys whose
 * value is unchanged are not touched, so nothing spurious is created.
 */
export function applyContent(doc: Y.Doc, before: ProfileContent, after: ProfileContent): void {
  migrateDoc(doc);
  const root = doc.getMap<unknown>(ROOT);
  for (const key of ['modelId', 'name', 'deleted'] as const) {
    if (before[key] !== after[key]) root.set(key, after[key]);
  }
  for (const key of TEXT_FIELDS) {
    if (before[key] !== after[key]) applyTextDiff(root.get(key) as Y.Text, before[key], after[key]);
  }
  if (before.templates !== after.templates) {
    const templates = root.get('templates') as Y.Map<Y.Text>;
    for (const k of Object.keys(before.templates)) if (!(k in after.templates)) templates.delete(k);
    for (const [k, v] of Object.entries(after.templates)) {
      const old = before.templates[k];
      if (old === undefined) templates.set(k, new Y.Text(v));
      else if (old !== v) applyTextDiff(templates.get(k) as Y.Text, old, v);
    }
  }
  if (before.parameters !== after.parameters) {
    const bp = before.parameters as Record<string, unknown>;
    const ap = after.parameters as Record<string, unknown>;
    applyPlainMap(root.get('parameters') as Y.Map<unknown>, bp, ap, NESTED);
    if (!jsonEqual(bp['tools'], ap['tools'])) applyTools(root.get('tools') as Y.Map<unknown>, before.parameters.tools, after.parameters.tools);
    if (!jsonEqual(bp['extra'], ap['extra'])) applyPlainMap(root.get('extra') as Y.Map<unknown>, (bp['extra'] ?? {}) as Record<string, unknown>, (ap['extra'] ?? {}) as Record<string, unknown>);
  }
  if (before.messages !== after.messages && !jsonEqual(before.messages, after.messages)) applyMessages(root.get('messages') as Y.Map<unknown>, before.messages, after.messages);
  if (before.meta !== after.meta) applyPlainMap(root.get('meta') as Y.Map<unknown>, before.meta, after.meta);
  if (before.labels !== after.labels) applyPlainMap(root.get('labels') as Y.Map<unknown>, before.labels, after.labels);
}

const shallow = <T extends object>(m: T): T => (m !== null && typeof m === 'object' ? canonicalShallow(m) : m);

function canonicalParameters(p: ProfileParameters): ProfileParameters {
  if (p === null || typeof p !== 'object') return p;
  return canonicalShallow(p, (k, v) => (k === 'extra' && v !== null && typeof v === 'object' ? canonicalShallow(v as JsonObject) : v));
}

function canonicalMessages(ms: readonly Message[]): Message[] {
  // the list of the previous content, untouched by a write: kept as is (also its memoized JSON)
  if (!Array.isArray(ms) || isCanonical(ms)) return ms as Message[];
  return canonicalShallow(ms.map((m) => (Object.isFrozen(m) ? m : { content: m.content, id: m.id, role: m.role })));
}

/**
 * Content in canonical form: top-level map keys sorted, JSON values as their writer ordered
 * them (identical on every peer), messages as { content, id, role }. Deep-frozen and memoized
 * (a map shared with the previous content is reused as is).
 */
export function canonicalContent(c: ProfileContent): ProfileContent {
  return {
    deleted: c.deleted,
    description: c.description,
    id: c.id,
    labels: shallow(c.labels),
    messages: canonicalMessages(c.messages),
    meta: shallow(c.meta),
    modelId: c.modelId,
    name: c.name,
    parameters: canonicalParameters(c.parameters),
    systemMessage: c.systemMessage,
    templates: shallow(c.templates),
  };
}

/** Computed fields of a view beside the content. */
export interface ViewExtras {
  version: string;
  updatedBy: string;
  /** ms, derived from the doc's version records (stampOf); absent: the last entry's ts */
  updatedAt?: number;
  schema: 1 | 2;
  conflicts: number;
  /** hidden: this node left content changes that no version covers yet (closed at startup) */
  open?: boolean;
  /** hidden: hash of the full doc state (the sync digest: labels and version records included) */
  digest?: string;
}

/** The persisted view: canonical content + extras (updatedAt: the doc's, else the last entry's ts). */
export interface PersistedView extends ProfileContent, ViewExtras {}

const isObj = (v: unknown): v is object => v !== null && typeof v === 'object';
const isStr = (v: unknown): v is string => typeof v === 'string';

/**
 * Canonical JSON of the persisted view: exactly JSON.stringify of the keys in sorted order.
 * When every field has its proper type the text is assembled from per-field JSON (maps
 * memoized per frozen canonical object, strings without an escaping pass when they need none),
 * which is what a write costs instead of re-serializing the whole profile.
 */
export function encodePersisted(content: ProfileContent, x: ViewExtras, alreadyCanonical = false): string {
  const c = alreadyCanonical ? content : canonicalContent(content);
  const s = isStr;
  if (
    typeof c.deleted !== 'boolean' ||
    !s(c.description) || !s(c.id) || !s(c.modelId) || !s(c.name) || !s(c.systemMessage) || !s(x.updatedBy) || !s(x.version) ||
    !isObj(c.labels) || !isObj(c.meta) || !isObj(c.parameters) || !isObj(c.templates) || !Array.isArray(c.messages)
  ) {
    const p: Record<string, unknown> = { conflicts: x.conflicts, ...c, ...(x.digest !== undefined ? { digest: x.digest } : {}), ...(x.open ? { open: true } : {}), schema: x.schema, ...(x.updatedAt !== undefined ? { updatedAt: x.updatedAt } : {}), updatedBy: x.updatedBy, version: x.version };
    return JSON.stringify(Object.fromEntries(Object.keys(p).sort().map((k) => [k, p[k]])));
  }
  return (
    `{"conflicts":${x.conflicts},"deleted":${c.deleted ? 'true' : 'false'},"description":${stringJson(c.description)},${x.digest !== undefined ? `"digest":${stringJson(x.digest)},` : ''}"id":${stringJson(c.id)},` +
    `"labels":${objectJson(c.labels)},"messages":${objectJson(c.messages)},"meta":${objectJson(c.meta)},"modelId":${stringJson(c.modelId)},"name":${stringJson(c.name)},` +
    `${x.open ? '"open":true,' : ''}"parameters":${objectJson(c.parameters)},"schema":${x.schema},"systemMessage":${stringJson(c.systemMessage)},"templates":${objectJson(c.templates)},` +
    `${x.updatedAt !== undefined ? `"updatedAt":${x.updatedAt},` : ''}"updatedBy":${stringJson(x.updatedBy)},"version":${stringJson(x.version)}}`
  );
}

/** Builds a view (top-level keys in sorted order) from canonical parts; not frozen. */
export function makeView(c: ProfileContent, x: { version: string; schema: 1 | 2; conflicts: number }, updatedAt: string, updatedBy: string): ProfileView {
  return {
    conflicts: x.conflicts,
    deleted: c.deleted,
    description: c.description,
    id: c.id,
    labels: c.labels,
    messages: c.messages,
    meta: c.meta,
    modelId: c.modelId,
    name: c.name,
    parameters: c.parameters,
    schema: x.schema,
    systemMessage: c.systemMessage,
    templates: c.templates,
    updatedAt,
    updatedBy,
    version: x.version,
  };
}

export function contentOf(view: ProfileView | PersistedView): ProfileContent {
  return {
    id: view.id,
    modelId: view.modelId,
    name: view.name,
    description: view.description,
    systemMessage: view.systemMessage,
    templates: view.templates,
    messages: view.messages,
    parameters: view.parameters,
    labels: view.labels,
    meta: view.meta,
    deleted: view.deleted,
  };
}

export { deepFreeze };
