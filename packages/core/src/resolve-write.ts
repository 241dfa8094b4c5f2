/**
 * Writing a conflict's resolution into the doc (issue 13). A resolution REPLACES the field's
 * value (a new Y.Text container for a text field, a new map value for an atomic one) instead
 * of editing it character by character: a map key set is last-writer-wins, so two nodes that
 * resolve one conflict at once end with one of the two resolutions, whole, on every peer
 * (two character diffs would merge into a third text). Live editors bound to the old Y.Text
 * rebind to the new one (the dashboard observes the key; see apps/web collab binding).
 * Call inside the caller's transaction; the caller validates the result.
 */
import * as Y from 'yjs';
import { positionBetween } from '@profilesync/model';
import { CoreErrorCode, coreError } from './errors.js';
import { applyContent, ROOT, toolName, type ProfileContent } from './model.js';

function invalid(path: string, message: string): Error {
  return coreError(CoreErrorCode.INVALID, message, { path, rule: 'conflict-value', issues: [{ path, rule: 'conflict-value', message }] });
}

/** The last position of an ordered map ({ pos } values or Y.Maps with 'pos'). */
function lastPos(map: Y.Map<unknown>): string | null {
  let last: string | null = null;
  for (const v of map.values()) {
    const pos = v instanceof Y.Map ? v.get('pos') : v !== null && typeof v === 'object' ? (v as { pos?: unknown }).pos : undefined;
    if (typeof pos === 'string' && (last === null || pos > last)) last = pos;
  }
  return last;
}

function child(root: Y.Map<unknown>, key: string): Y.Map<unknown> {
  const m = root.get(key);
  if (!(m instanceof Y.Map)) throw invalid(key, `the profile has no '${key}' map`);
  return m as Y.Map<unknown>;
}

const clone = <T>(v: T): T => (v !== null && typeof v === 'object' ? (structuredClone(v) as T) : v);

function setOrDelete(map: Y.Map<unknown>, key: string, value: unknown): void {
  if (value === null || value === undefined) map.delete(key);
  else map.set(key, clone(value));
}

/**
 * Writes `value` as the new value of `field` (a dotted path of a text or atomic field; null
 * removes a template, a message, a parameter, a meta key or a label). `message` restores a
 * message that is gone with its role and position.
 */
export function writeFieldValue(doc: Y.Doc, field: string, value: unknown, message?: { role: string; pos: string }): void {
  const root = doc.getMap<unknown>(ROOT);
  const text = (v: unknown, nullable: boolean): string | null => {
    if (typeof v === 'string') return v;
    if (v === null && nullable) return null;
    throw invalid(field, `${field} takes ${nullable ? 'a string or null' : 'a string'}`);
  };
  if (field === 'description' || field === 'systemMessage') {
    root.set(field, new Y.Text(text(value, false)!));
    return;
  }
  if (field === 'name' || field === 'modelId' || field === 'deleted') {
    root.set(field, clone(value));
    return;
  }
  const dot = field.indexOf('.');
  const head = dot < 0 ? field : field.slice(0, dot);
  const rest = dot < 0 ? '' : field.slice(dot + 1);
  if (rest === '') throw invalid(field, `unknown field ${field}`);
  switch (head) {
    case 'templates': {
      const t = text(value, true);
      const map = child(root, 'templates');
      if (t === null) map.delete(rest);
      else map.set(rest, new Y.Text(t));
      return;
    }
    case 'meta':
    case 'labels':
      setOrDelete(child(root, head), rest, value);
      return;
    case 'parameters': {
      if (rest.startsWith('tools.')) {
        const name = rest.slice('tools.'.length);
        const tools = child(root, 'tools');
        if (value === null) {
          tools.delete(name);
          return;
        }
        if (toolName(value) !== name) throw invalid(field, `the tool must be named ${name}`);
        const old = tools.get(name) as { pos?: unknown } | undefined;
        const pos = typeof old?.pos === 'string' ? old.pos : positionBetween(lastPos(tools), null);
        tools.set(name, { pos, tool: clone(value) });
        return;
      }
      if (rest.startsWith('extra.')) {
        setOrDelete(child(root, 'extra'), rest.slice('extra.'.length), value);
        return;
      }
      setOrDelete(child(root, 'parameters'), rest, value);
      return;
    }
    case 'messages': {
      const m = /^([^.]+)\.(content|role)$/.exec(rest);
      if (m === null) throw invalid(field, `unknown field ${field}`);
      const [, id, part] = m as unknown as [string, string, 'content' | 'role'];
      const messages = child(root, 'messages');
      const ym = messages.get(id);
      if (part === 'role') {
        if (!(ym instanceof Y.Map)) throw invalid(field, `message ${id} is gone; resolve its content instead`);
        ym.set('role', clone(value));
        return;
      }
      const t = text(value, true);
      if (t === null) {
        messages.delete(id);
        return;
      }
      if (ym instanceof Y.Map) {
        ym.set('content', new Y.Text(t));
        return;
      }
      const fresh = new Y.Map<unknown>();
      fresh.set('role', message?.role ?? 'user');
      fresh.set('content', new Y.Text(t));
      fresh.set('pos', message?.pos ?? positionBetween(lastPos(messages), null));
      messages.set(id, fresh);
      return;
    }
    default:
      throw invalid(field, `unknown field ${field}`);
  }
}

/**
 * Writes a whole content (a 'create' conflict's kept side) over `current`: texts as new
 * containers (all of them when `replaceAll`: keeping the merged state still replaces them, so
 * concurrent resolutions converge), everything else as the ordinary forward change.
 */
export function writeWholeContent(doc: Y.Doc, current: ProfileContent, target: ProfileContent, replaceAll: boolean): void {
  const currentMsgs = new Map(current.messages.map((m) => [m.id, m]));
  const messagesKeepingText = target.messages.map((m) => {
    const cur = currentMsgs.get(m.id);
    return cur === undefined ? m : { ...m, content: cur.content };
  });
  applyContent(doc, current, { ...target, description: current.description, systemMessage: current.systemMessage, templates: current.templates, messages: messagesKeepingText });
  const root = doc.getMap<unknown>(ROOT);
  for (const key of ['description', 'systemMessage'] as const) {
    if (replaceAll || current[key] !== target[key]) root.set(key, new Y.Text(target[key]));
  }
  const templates = root.get('templates') as Y.Map<unknown>;
  for (const name of Object.keys(current.templates)) if (!(name in target.templates)) templates.delete(name);
  for (const [name, t] of Object.entries(target.templates)) if (replaceAll || current.templates[name] !== t) templates.set(name, new Y.Text(t));
  const messages = root.get('messages') as Y.Map<unknown>;
  for (const m of target.messages) {
    const cur = currentMsgs.get(m.id);
    const ym = messages.get(m.id);
    if (cur !== undefined && ym instanceof Y.Map && (replaceAll || cur.content !== m.content)) ym.set('content', new Y.Text(m.content));
  }
}
