/**
 * Three-way conflict detection for merges of diverged states (issue 13; docs/profile-model.md
 * "Conflicts"). For every field of the profile it reads the value at the common state B, at
 * the local state L (before the merge), at the remote state R and at the merged state M, and
 * calls the merge clean when it is what one side alone would have produced:
 *   L = B and M = R   (only the remote changed the field: a fast-forward),
 *   R = B and M = L   (only we changed it),
 *   L = R = M         (both made the same change).
 * Anything else is a conflict {field, kind, base, ours: L, theirs: R, merged: M}: two apart
 * edits of one text (garbled by the character merge), two values of one atomic field (one
 * dropped by last-writer-wins), an edit lost in a replaced container, a deleted template or
 * message that the other side edited. The merged result stays; the record reports it.
 *
 * Two creates of one id that share nothing but the skeleton are one conflict of kind 'create'
 * (field '') whose sides are the whole contents, instead of one record per field.
 *
 * Ids are deterministic: sha256 of (kind, field, base, the two sides in sorted order), so
 * every node that merges the same two states writes the same record key.
 */
import { createHash } from 'node:crypto';
import * as Y from 'yjs';
import { sortDeep } from './canonical.js';
import { commonSnapshot, holdsState, keysEver, textAt, valueAt, valueAtCommon, writersOf, type At } from './merge-state.js';
import { ROOT } from './model.js';

export type ConflictKind = 'text' | 'scalar' | 'create';

export interface DetectedConflict {
  id: string;
  /** dotted path ('' for kind 'create': the whole profile) */
  field: string;
  kind: ConflictKind;
  /** the value both sides started from (null: absent) */
  base: unknown;
  /** this node's value before the merge (null: absent) */
  ours: unknown;
  /** the other side's value */
  theirs: unknown;
  /** the value after the merge (what every peer now holds) */
  merged: unknown;
}

/** A state to read fields at: its snapshot (null: the doc now) and how map keys read there. */
export interface State {
  at: At;
  get(map: Y.Map<unknown>, key: string): unknown;
}

export function stateAt(at: At): State {
  return { at, get: (map, key) => valueAt(map, key, at) };
}

/** The common state of l and r (map values both sides replaced apart read as they were before). */
export function commonState(b: Y.Snapshot, l: Y.Snapshot, r: Y.Snapshot): State {
  return { at: b, get: (map, key) => valueAtCommon(map, key, b, l, r) };
}

export interface FieldReader {
  path: string;
  kind: 'text' | 'scalar';
  /** the field's value at a state; undefined when absent */
  read(s: State): unknown;
}

type AnyMap = Y.Map<unknown>;

/** Every container ever stored under `key` of `map` (normally one; a replaced one leaves its predecessors). */
function containersEver(map: AnyMap, key: string): AnyMap[] {
  const out: AnyMap[] = [];
  let item = (map as unknown as { _map: Map<string, Y.Item> })._map.get(key) ?? null;
  for (; item !== null; item = item.left as Y.Item | null) {
    if (item.parentSub !== key) continue;
    const v = item.content.getContent()[0];
    if (v instanceof Y.Map) out.push(v as AnyMap);
  }
  return out;
}

function keysOfAll(maps: AnyMap[]): string[] {
  const keys = new Set<string>();
  for (const m of maps) for (const k of keysEver(m)) keys.add(k);
  return [...keys].sort();
}

function childAt(map: AnyMap, key: string, s: State): AnyMap | undefined {
  const v = s.get(map, key);
  return v instanceof Y.Map ? (v as AnyMap) : undefined;
}

function textValue(v: unknown, s: State): string | undefined {
  return v instanceof Y.Text ? textAt(v, s.at) : undefined;
}

function plain(v: unknown): unknown {
  return v instanceof Y.AbstractType ? undefined : v;
}

/** A tool is stored as { pos, tool }: its position is order, not the tool. */
function toolValue(v: unknown): unknown {
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && 'tool' in v) return (v as { tool: unknown }).tool;
  return plain(v);
}

/**
 * The fields of a profile doc (schema 1 or 2), with readers at any state. Enumerates every key
 * ever held, so a template or message deleted on one side is still compared.
 */
export function profileFields(doc: Y.Doc): FieldReader[] {
  const root = doc.getMap<unknown>(ROOT);
  const out: FieldReader[] = [];
  for (const key of ['description', 'systemMessage']) out.push({ path: key, kind: 'text', read: (s) => textValue(s.get(root, key), s) });
  for (const key of ['name', 'modelId', 'deleted']) out.push({ path: key, kind: 'scalar', read: (s) => plain(s.get(root, key)) });
  const nested = (rootKey: string, prefix: string, kind: 'text' | 'scalar', value: (v: unknown, s: State) => unknown): void => {
    for (const k of keysOfAll(containersEver(root, rootKey))) {
      if (rootKey === 'parameters' && (k === 'tools' || k === 'extra') && root.has('schema')) continue;
      out.push({
        path: `${prefix}${k}`,
        kind,
        read: (s) => {
          const m = childAt(root, rootKey, s);
          return m === undefined ? undefined : value(s.get(m, k), s);
        },
      });
    }
  };
  nested('templates', 'templates.', 'text', textValue);
  nested('parameters', 'parameters.', 'scalar', plain);
  nested('tools', 'parameters.tools.', 'scalar', toolValue);
  nested('extra', 'parameters.extra.', 'scalar', plain);
  nested('meta', 'meta.', 'scalar', plain);
  nested('labels', 'labels.', 'scalar', plain);
  for (const id of keysOfAll(containersEver(root, 'messages'))) {
    const message = (s: State): AnyMap | undefined => {
      const ms = childAt(root, 'messages', s);
      return ms === undefined ? undefined : childAt(ms, id, s);
    };
    out.push({ path: `messages.${id}.content`, kind: 'text', read: (s) => { const m = message(s); return m === undefined ? undefined : textValue(s.get(m, 'content'), s); } });
    out.push({ path: `messages.${id}.role`, kind: 'scalar', read: (s) => { const m = message(s); return m === undefined ? undefined : plain(s.get(m, 'role')); } });
  }
  return out;
}

const key = (v: unknown): string => (v === undefined ? '\u0000absent' : typeof v === 'string' ? `s${v}` : `j${JSON.stringify(sortDeep(v))}`);

/** The merge verdict for one field: true when it is a conflict. */
export function isConflict(base: unknown, ours: unknown, theirs: unknown, merged: unknown): boolean {
  const b = key(base);
  const l = key(ours);
  const r = key(theirs);
  const m = key(merged);
  if (l === b && m === r) return false;
  if (r === b && m === l) return false;
  if (l === r && m === l) return false;
  return true;
}

/** Deterministic conflict id: the same two states merged anywhere give the same id. */
export function conflictId(kind: ConflictKind, field: string, base: unknown, a: unknown, b: unknown): string {
  const sides = [key(a), key(b)].sort();
  const h = createHash('sha256').update(JSON.stringify([kind, field, key(base), sides])).digest('base64url');
  return h.slice(0, 16);
}

const orNull = (v: unknown): unknown => (v === undefined ? null : v);

export interface DetectOptions {
  /** the whole content at a state (for kind 'create'); default: no create detection */
  readWhole?: (at: At) => unknown;
  /**
   * Fields both sides resolved apart (each its own resolution of one conflict), with the value
   * each side's resolution wrote: when each side still holds its resolution's value, the field
   * is not reported again (last-writer-wins picked one resolution; the conflict is closed).
   */
  resolvedOnBothSides?: (b: Y.Snapshot) => Map<string, { ours: unknown; theirs: unknown }>;
}

/**
 * Conflicts of merging remote state `r` into local state `l` (the doc holds both, merged: its
 * current state is M). Fast paths: one state holds the other (a fast-forward or nothing new).
 */
export function detectConflicts(doc: Y.Doc, l: Y.Snapshot, r: Y.Snapshot, opts: DetectOptions = {}): DetectedConflict[] {
  if (holdsState(l, r) || holdsState(r, l)) return [];
  const b = commonSnapshot(l, r);
  if (opts.readWhole !== undefined && writersOf(b).length === 0 && writersOf(l).length > 0 && writersOf(r).length > 0) {
    // two creates that share only the skeleton: one record with both whole sides
    const ours = opts.readWhole(l);
    const theirs = opts.readWhole(r);
    const merged = opts.readWhole(null);
    if (!isConflict(undefined, ours, theirs, merged)) return [];
    return [{ id: conflictId('create', '', null, ours, theirs), field: '', kind: 'create', base: null, ours, theirs, merged }];
  }
  const out: DetectedConflict[] = [];
  const both = opts.resolvedOnBothSides?.(b);
  const [sb, sl, sr, sm] = [commonState(b, l, r), stateAt(l), stateAt(r), stateAt(null)];
  for (const f of profileFields(doc)) {
    const base = f.read(sb);
    const ours = f.read(sl);
    const theirs = f.read(sr);
    const merged = f.read(sm);
    if (!isConflict(base, ours, theirs, merged)) continue;
    const res = both?.get(f.path);
    if (res !== undefined && key(res.ours) === key(ours) && key(res.theirs) === key(theirs)) continue;
    out.push({ id: conflictId(f.kind, f.path, base, ours, theirs), field: f.path, kind: f.kind, base: orNull(base), ours: orNull(ours), theirs: orNull(theirs), merged: orNull(merged) });
  }
  return out;
}
