/**
 * Conflict report: when a remote update and the local state set the same scalar map key
 * concurrently (neither knew the other's value), Yjs keeps one value and drops the other
 * silently. We look at the map entries before and after applying the update and report
 * {path, winner, dropped}. The CRDT result is left as it is.
 *
 * Knowledge test: a Y.Map value item's `origin` is the item it replaced. Walking from an item
 * through the items this update added, the first pre-existing ancestor is the value the writer
 * saw. If that is not the local value, the two writes were concurrent.
 */
import * as Y from 'yjs';
import { ROOT } from './model.js';
import { clientState } from './version.js';

/** Maps whose keys hold scalars worth reporting, with their path prefix. */
const TRACKED: { field: string | null; keys?: ReadonlySet<string>; prefix?: string }[] = [
  { field: null, keys: new Set(['name', 'modelId', 'deleted']) },
  { field: 'parameters' },
  // each tool and each extra parameter is one atomic value: concurrent edits of the same one are reported
  { field: 'tools', prefix: 'parameters.tools.' },
  { field: 'extra', prefix: 'parameters.extra.' },
  { field: 'meta' },
  { field: 'labels' },
];
/** Per message: role and position are last-writer-wins values (content is a Y.Text and merges). */
const MESSAGE_KEYS: ReadonlySet<string> = new Set(['role', 'pos']);

export interface RawConflict {
  path: string;
  winner: { value: unknown; item: Y.ID; local: boolean };
  dropped: { value: unknown; item: Y.ID; local: boolean };
}

interface Slot {
  prefix: string;
  map: Y.Map<unknown>;
  keys: ReadonlySet<string> | undefined;
  before: Map<string, Y.Item>;
}

/** State captured before a remote update is applied. */
export interface ConflictProbe {
  slots: Slot[];
  beforeState: Map<number, number>;
}

function mapItems(map: Y.Map<unknown>): Map<string, Y.Item> {
  return (map as unknown as { _map: Map<string, Y.Item> })._map;
}

export function captureProbe(doc: Y.Doc): ConflictProbe {
  const root = doc.getMap<unknown>(ROOT);
  const slots: Slot[] = [];
  for (const t of TRACKED) {
    const map = t.field === null ? root : root.get(t.field);
    if (!(map instanceof Y.Map)) continue;
    const before = new Map<string, Y.Item>();
    for (const [key, item] of mapItems(map as Y.Map<unknown>)) {
      if (!item.deleted && (t.keys === undefined || t.keys.has(key))) before.set(key, item);
    }
    slots.push({ prefix: t.prefix ?? (t.field === null ? '' : `${t.field}.`), map: map as Y.Map<unknown>, keys: t.keys, before });
  }
  const messages = root.get('messages');
  if (messages instanceof Y.Map) {
    for (const [id, m] of (messages as Y.Map<unknown>).entries()) {
      if (!(m instanceof Y.Map)) continue;
      const before = new Map<string, Y.Item>();
      for (const [key, item] of mapItems(m as Y.Map<unknown>)) if (!item.deleted && MESSAGE_KEYS.has(key)) before.set(key, item);
      slots.push({ prefix: `messages.${id}.`, map: m as Y.Map<unknown>, keys: MESSAGE_KEYS, before });
    }
  }
  const beforeState = new Map<number, number>();
  for (const client of doc.store.clients.keys()) beforeState.set(client, clientState(doc, client));
  return { slots, beforeState };
}

function isNew(probe: ConflictProbe, id: Y.ID): boolean {
  return id.clock >= (probe.beforeState.get(id.client) ?? 0);
}

/** First ancestor (by origin) of `item` that existed before the update; null when none. */
function knownAncestor(doc: Y.Doc, probe: ConflictProbe, item: Y.Item): Y.Item | null {
  let x: Y.Item | null = item;
  for (let guard = 0; x !== null && isNew(probe, x.id) && guard < 100_000; guard++) {
    const origin: Y.ID | null = x.origin;
    if (origin === null) return null;
    const next = Y.getItem(doc.store, origin);
    x = next instanceof Y.Item ? next : null;
  }
  return x;
}

function valueOf(item: Y.Item): unknown {
  const content = item.content.getContent();
  return content[0];
}

/** Items this update added to the slot's map, by key, in store order. */
function newItemsByKey(doc: Y.Doc, probe: ConflictProbe, slot: Slot): Map<string, Y.Item[]> {
  const out = new Map<string, Y.Item[]>();
  for (const [client, structs] of doc.store.clients) {
    const from = probe.beforeState.get(client) ?? 0;
    if (clientState(doc, client) <= from) continue;
    for (let i = structs.length - 1; i >= 0; i--) {
      const s = structs[i];
      if (s === undefined || s.id.clock + s.length <= from) break;
      if (!(s instanceof Y.Item) || s.parentSub === null || s.parent !== slot.map) continue;
      if (slot.keys !== undefined && !slot.keys.has(s.parentSub)) continue;
      const list = out.get(s.parentSub) ?? [];
      list.unshift(s);
      out.set(s.parentSub, list);
    }
  }
  return out;
}

const same = (a: Y.Item | null | undefined, b: Y.Item | null | undefined): boolean =>
  a != null && b != null && a.id.client === b.id.client && a.id.clock === b.id.clock;

/** Compares the state after the update with the probe; returns the concurrent overwrites. */
export function detectConflicts(doc: Y.Doc, probe: ConflictProbe): RawConflict[] {
  const out: RawConflict[] = [];
  for (const slot of probe.slots) {
    for (const [key, added] of newItemsByKey(doc, probe, slot)) {
      const local = slot.before.get(key);
      if (local === undefined) continue; // the key had no local value: nothing was dropped
      const current = mapItems(slot.map).get(key);
      if (current === undefined || current.deleted) continue;
      const path = slot.prefix + key;
      if (same(current, local)) {
        // local value survived: every remote write to this key lost without having seen it
        const last = added[added.length - 1] as Y.Item;
        if (!same(knownAncestor(doc, probe, last), local)) {
          out.push({ path, winner: { value: valueOf(local), item: local.id, local: true }, dropped: { value: valueOf(last), item: last.id, local: false } });
        }
      } else if (isNew(probe, current.id) && !same(knownAncestor(doc, probe, current), local)) {
        out.push({ path, winner: { value: valueOf(current), item: current.id, local: false }, dropped: { value: valueOf(local), item: local.id, local: true } });
      }
    }
  }
  return out;
}
