/**
 * The profile Y.Doc (DESIGN §4): root doc.getMap('profile') with
 *   id, modelId, name: string      description, systemMessage: Y.Text
 *   templates: Y.Map<Y.Text>       parameters, meta: Y.Map<primitive | string[]>
 *   labels: Y.Map<VersionRef>      deleted: boolean
 * and its materialization into plain JSON.
 */
import * as Y from 'yjs';
import { canonicalObject, jsonEqual, objectJson, stringJson } from './canonical.js';
import { applyTextDiff } from './textdiff.js';
import type { MetaValue, ParamValue, ProfileParameters, ProfileView, VersionRef } from './types.js';

export const ROOT = 'profile';

/** The view without the computed fields (version, updatedAt, updatedBy). */
export interface ProfileContent {
  id: string;
  modelId: string;
  name: string;
  description: string;
  systemMessage: string;
  templates: Record<string, string>;
  parameters: ProfileParameters;
  labels: Record<string, VersionRef>;
  meta: Record<string, MetaValue>;
  deleted: boolean;
}

export const TEXT_FIELDS = ['description', 'systemMessage'] as const;
export const MAP_FIELDS = ['templates', 'parameters', 'labels', 'meta'] as const;
export const SCALAR_FIELDS = ['id', 'modelId', 'name', 'deleted'] as const;

/** Stands in for a value of the wrong Yjs kind (e.g. a plain string where a Y.Text belongs); fails validation. */
export const WRONG_KIND: unique symbol = Symbol('wrong-yjs-kind');

/**
 * A profile doc. The guid is fixed: Yjs only uses it for subdocuments (which profiles do not
 * have), and a random one costs ~30 calls to crypto.getRandomValues per doc.
 */
export function newProfileDoc(): Y.Doc {
  return new Y.Doc({ gc: false, guid: 'profile' });
}

/**
 * The skeleton every profile starts from, written by the reserved client 0 with fixed content.
 * It is byte-identical on every node, so two peers that create the same id offline share the
 * containers (Y.Texts, Y.Maps) and their edits merge field by field instead of one peer's
 * containers replacing the other's. Part of the storage format: never change it.
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

function plainValue(v: unknown): unknown {
  if (v instanceof Y.AbstractType) return WRONG_KIND;
  return Array.isArray(v) ? v.slice() : v;
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

/** Reads the doc into plain JSON (not yet validated: wrong kinds appear as WRONG_KIND). */
export function readContent(doc: Y.Doc): Record<string, unknown> {
  const root = doc.getMap(ROOT);
  const out: Record<string, unknown> = {};
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
      case 'labels':
      case 'meta':
        out[key] = readMap(value, false);
        break;
      default:
        out[key] = plainValue(value);
    }
  }
  return out;
}

function copy<T>(v: T): T {
  return (Array.isArray(v) ? v.slice() : v) as T;
}

function applyPlainMap(map: Y.Map<unknown>, before: Record<string, unknown>, after: Record<string, unknown>): void {
  for (const k of Object.keys(before)) if (!(k in after)) map.delete(k);
  for (const [k, v] of Object.entries(after)) {
    if (v === undefined) continue;
    if (!(k in before) || !jsonEqual(before[k], v)) map.set(k, copy(v));
  }
}

/**
 * Writes the difference between two contents into the doc (call inside a transaction):
 * scalars are set, texts get minimal character edits, map keys are set or deleted. Keys whose
 * value is unchanged are not touched, so nothing spurious is created.
 */
export function applyContent(doc: Y.Doc, before: ProfileContent, after: ProfileContent): void {
  const root = doc.getMap<unknown>(ROOT);
  for (const key of ['modelId', 'name', 'deleted'] as const) {
    if (before[key] !== after[key]) root.set(key, after[key]);
  }
  for (const key of TEXT_FIELDS) {
    if (before[key] !== after[key]) applyTextDiff(root.get(key) as Y.Text, before[key], after[key]);
  }
  const templates = root.get('templates') as Y.Map<Y.Text>;
  for (const k of Object.keys(before.templates)) if (!(k in after.templates)) templates.delete(k);
  for (const [k, v] of Object.entries(after.templates)) {
    const old = before.templates[k];
    if (old === undefined) templates.set(k, new Y.Text(v));
    else if (old !== v) applyTextDiff(templates.get(k) as Y.Text, old, v);
  }
  applyPlainMap(root.get('parameters') as Y.Map<unknown>, before.parameters, after.parameters);
  applyPlainMap(root.get('meta') as Y.Map<unknown>, before.meta, after.meta);
  applyPlainMap(root.get('labels') as Y.Map<unknown>, before.labels, after.labels);
}

const canonMap = <T>(m: T): T => (m !== null && typeof m === 'object' ? canonicalObject(m) : m);

/**
 * Content with every nested map's keys in sorted order (canonical form). The maps are deep-frozen
 * and memoized (canonicalObject): a map shared with the previous content is reused as is.
 */
export function canonicalContent(c: ProfileContent): ProfileContent {
  return {
    deleted: c.deleted,
    description: c.description,
    id: c.id,
    labels: canonMap(c.labels),
    meta: canonMap(c.meta),
    modelId: c.modelId,
    name: c.name,
    parameters: canonMap(c.parameters),
    systemMessage: c.systemMessage,
    templates: canonMap(c.templates),
  };
}

/** The persisted view: canonical content + version + updatedBy (updatedAt comes from the entry's ts). */
export interface PersistedView extends ProfileContent {
  updatedBy: string;
  version: VersionRef;
}

const isObj = (v: unknown): v is object => v !== null && typeof v === 'object';

/**
 * Canonical JSON of the persisted view: exactly JSON.stringify({ ...canonical content, updatedBy,
 * version }). When every field has its proper type the text is assembled from per-field JSON
 * (maps memoized per frozen canonical object, strings without an escaping pass when they need
 * none), which is what a write costs instead of re-serializing the whole profile; anything
 * unusual (a rebuild of an invalid doc) takes JSON.stringify of the whole object.
 */
export function encodePersisted(content: ProfileContent, version: VersionRef, updatedBy: string, alreadyCanonical = false): string {
  const c = alreadyCanonical ? content : canonicalContent(content);
  const s = (v: unknown): v is string => typeof v === 'string';
  if (
    typeof c.deleted !== 'boolean' ||
    !s(c.description) || !s(c.id) || !s(c.modelId) || !s(c.name) || !s(c.systemMessage) || !s(updatedBy) || !s(version) ||
    !isObj(c.labels) || !isObj(c.meta) || !isObj(c.parameters) || !isObj(c.templates)
  ) {
    const p: PersistedView = { ...c, updatedBy, version };
    return JSON.stringify(p);
  }
  return (
    `{"deleted":${c.deleted ? 'true' : 'false'},"description":${stringJson(c.description)},"id":${stringJson(c.id)},` +
    `"labels":${objectJson(c.labels)},"meta":${objectJson(c.meta)},"modelId":${stringJson(c.modelId)},"name":${stringJson(c.name)},` +
    `"parameters":${objectJson(c.parameters)},"systemMessage":${stringJson(c.systemMessage)},"templates":${objectJson(c.templates)},` +
    `"updatedBy":${stringJson(updatedBy)},"version":${stringJson(version)}}`
  );
}

/** Builds a view (top-level keys in sorted order) from canonical parts; not frozen. */
export function makeView(c: ProfileContent, version: VersionRef, updatedAt: string, updatedBy: string): ProfileView {
  return {
    deleted: c.deleted,
    description: c.description,
    id: c.id,
    labels: c.labels,
    meta: c.meta,
    modelId: c.modelId,
    name: c.name,
    parameters: c.parameters,
    systemMessage: c.systemMessage,
    templates: c.templates,
    updatedAt,
    updatedBy,
    version,
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
    parameters: view.parameters,
    labels: view.labels,
    meta: view.meta,
    deleted: view.deleted,
  };
}

export function isParamValue(v: unknown): v is ParamValue {
  return v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v)) || (Array.isArray(v) && v.every((x) => typeof x === 'string'));
}
