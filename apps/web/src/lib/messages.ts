/**
 * The profile's chat messages in the live Y.Doc (profile model v2, docs/profile-model.md):
 * `profile.messages` is a Y.Map<id, Y.Map{ role, content: Y.Text, pos }>, ordered by (pos, id).
 * Adding, moving, deleting and re-roling a message are small Yjs changes made right here (they
 * reach the node over /yjs like keystrokes, and merge with other people's): insert = a new id
 * at a position between its neighbours, move = a new position, delete = remove the id. A
 * message's content is a Y.Text bound to its editor. The node validates every change.
 */
import * as Y from 'yjs';
import { compareByPosition, newMessageId, positionBetween, ROLES, type Role } from '@profilesync/model';

export { ROLES, type Role };

export interface LiveMessage {
  id: string;
  role: string;
  pos: string;
  content: Y.Text;
  map: Y.Map<unknown>;
}

/** The messages map, or undefined on a schema-1 profile (the node creates it on its first write). */
export function messagesMap(profile: Y.Map<unknown>): Y.Map<Y.Map<unknown>> | undefined {
  const m = profile.get('messages');
  return m instanceof Y.Map ? (m as Y.Map<Y.Map<unknown>>) : undefined;
}

/** The messages in order; entries that are not well-formed (yet) are skipped. */
export function readMessages(profile: Y.Map<unknown>): LiveMessage[] {
  const m = messagesMap(profile);
  if (!m) return [];
  const out: LiveMessage[] = [];
  for (const [id, map] of m.entries()) {
    if (!(map instanceof Y.Map)) continue;
    const content = map.get('content');
    const pos = map.get('pos');
    if (!(content instanceof Y.Text) || typeof pos !== 'string') continue;
    out.push({ id, role: String(map.get('role') ?? ''), pos, content, map });
  }
  return out.sort(compareByPosition);
}

/** Plain messages in order (for the "saved" check against the node's view). */
export function plainMessages(profile: Y.Map<unknown>): { id: string; role: string; content: string }[] {
  return readMessages(profile).map((m) => ({ id: m.id, role: m.role, content: m.content.toString() }));
}

/** Adds a message after position `index` (-1: at the start; default: at the end); returns its id. */
export function addMessage(profile: Y.Map<unknown>, role: Role, index?: number, content = ''): string {
  const m = messagesMap(profile);
  if (!m) throw new Error('this profile has no messages map yet');
  const list = readMessages(profile);
  const at = index === undefined ? list.length - 1 : index;
  const before = at >= 0 ? (list[at]?.pos ?? null) : null;
  const after = list[at + 1]?.pos ?? null;
  const id = newMessageId();
  const text = new Y.Text();
  if (content !== '') text.insert(0, content);
  const entry = new Y.Map<unknown>([
    ['role', role],
    ['content', text],
    ['pos', positionBetween(before, after)],
  ]);
  profile.doc!.transact(() => m.set(id, entry));
  return id;
}

/** Moves a message `delta` places (-1 up, +1 down); false when it cannot move that way. */
export function moveMessage(profile: Y.Map<unknown>, id: string, delta: -1 | 1): boolean {
  const list = readMessages(profile);
  const i = list.findIndex((x) => x.id === id);
  const j = i + delta;
  if (i < 0 || j < 0 || j >= list.length) return false;
  // the neighbours around the target slot, without the moved message itself
  const rest = list.filter((x) => x.id !== id);
  const lo = rest[j - 1]?.pos ?? null;
  const hi = rest[j]?.pos ?? null;
  const pos = positionBetween(lo, hi);
  profile.doc!.transact(() => list[i]!.map.set('pos', pos));
  return true;
}

export function removeMessage(profile: Y.Map<unknown>, id: string): void {
  const m = messagesMap(profile);
  if (m?.has(id)) profile.doc!.transact(() => m.delete(id));
}

export function setRole(profile: Y.Map<unknown>, id: string, role: Role): void {
  const entry = messagesMap(profile)?.get(id);
  if (entry instanceof Y.Map && entry.get('role') !== role) profile.doc!.transact(() => entry.set('role', role));
}

/** Whether a Yjs event list changed the list itself (ids, roles, positions), not only some text. */
export function changesStructure(events: Y.YEvent<Y.AbstractType<unknown>>[]): boolean {
  return events.some((e) => !(e.target instanceof Y.Text));
}
