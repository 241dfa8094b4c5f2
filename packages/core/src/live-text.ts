/**
 * Text edits checked in place (issue 17.1): the work of a remote update that only types into
 * or deletes from the texts of a profile (systemMessage, description, templates.<name>,
 * messages.<id>.content) is proportional to the update, not to the document.
 *
 * The content before the update is valid (every accepted state is), and the text rules of the
 * one validator (@profilesync/model checkString) are: at most N characters, no NUL, no lone
 * UTF-16 surrogate. A surrogate is lone exactly when its neighbour in the string is not its
 * partner, so a well-formed text stays well-formed when no ADJACENT pair of characters that the
 * update created involves a surrogate. An update is taken here (a "quick" step) only when, for
 * every text it touched, it:
 *   - only added visible plain-string items, or only deleted plain-string items (not both: a
 *     pure insert or a pure delete always changes the string, so the entry's fields are known
 *     without reading it);
 *   - added no NUL and no surrogate, and each added or deleted item's nearest visible
 *     neighbours (within a bounded walk) end/start with no surrogate;
 *   - leaves the Y.Text's length (an upper bound of the string's) at most the field's limit;
 *   - sits where readContent reads it (the current value of its key, all the way up).
 * Anything else is a "full" step: the whole content is read and validated as before. So a
 * quick step is accepted exactly when full validation would accept it (property-tested in
 * packages/core/test/live-text.test.ts), and the content it leaves is read lazily: each touched
 * text is re-read once when a view is built (LiveContent), not once per keystroke.
 */
import * as Y from 'yjs';
import { FIELD_LIMITS } from '@profilesync/model';
import type { TextEdit, Touched } from './content-state.js';
import { canonicalContent, ROOT, schemaOf, type ProfileContent } from './model.js';

/** Where a Y.Text's string goes in the content. */
export interface TextField {
  /** dotted path as changedPaths names it */
  path: string;
  /** sort key: the order diffContent lists paths in */
  order: string;
  max: number;
  /** the content with this field's string replaced */
  put(c: ProfileContent, text: string): ProfileContent;
}

const NUL_OR_SURROGATE = /[\u0000\ud800-\udfff]/;
/** Items a neighbour walk may pass (deleted or not strings) before the step counts as full. */
const MAX_WALK = 64;
const NONE = -1;
const TOO_FAR = -2;

const isSurrogate = (u: number): boolean => u >= 0xd800 && u <= 0xdfff;

function plainString(item: Y.Item): string | undefined {
  const c = item.content;
  return c instanceof Y.ContentString ? c.str : undefined;
}

/** Last code unit of the nearest visible string to the left (NONE at the start, TOO_FAR past the walk limit). */
function leftUnit(item: Y.Item): number {
  let it = item.left;
  for (let n = 0; it !== null; n++) {
    if (n > MAX_WALK) return TOO_FAR;
    if (!it.deleted) {
      const s = plainString(it);
      if (s !== undefined && s.length > 0) return s.charCodeAt(s.length - 1);
    }
    it = it.left;
  }
  return NONE;
}

function rightUnit(item: Y.Item): number {
  let it = item.right;
  for (let n = 0; it !== null; n++) {
    if (n > MAX_WALK) return TOO_FAR;
    if (!it.deleted) {
      const s = plainString(it);
      if (s !== undefined && s.length > 0) return s.charCodeAt(0);
    }
    it = it.right;
  }
  return NONE;
}

const safeNeighbour = (u: number): boolean => u === NONE || (u >= 0 && !isSurrogate(u));

/** The content field a Y.Text holds, when it is the current value at its place; undefined otherwise. */
export function fieldOf(doc: Y.Doc, text: Y.Text): TextField | undefined {
  const item = text._item;
  if (item === null || item.deleted) return undefined;
  const root = doc.share.get(ROOT);
  const parent = item.parent as Y.AbstractType<unknown> | null;
  const key = item.parentSub;
  if (root === undefined || parent === null || key === null) return undefined;
  if (parent === root) {
    if (key === 'description') return { path: 'description', order: '1', max: FIELD_LIMITS.descriptionChars, put: (c, t) => ({ ...c, description: t }) };
    if (key === 'systemMessage') return { path: 'systemMessage', order: '9', max: FIELD_LIMITS.systemMessageChars, put: (c, t) => ({ ...c, systemMessage: t }) };
    return undefined;
  }
  const up = parent._item;
  if (!(parent instanceof Y.Map) || up === null || up.deleted) return undefined;
  if (up.parent === root && up.parentSub === 'templates') {
    return { path: `templates.${key}`, order: `a${key}`, max: FIELD_LIMITS.templateChars, put: (c, t) => ({ ...c, templates: { ...c.templates, [key]: t } }) };
  }
  // messages.<id>.content: a message map inside the schema-2 messages map
  const list = up.parent as Y.AbstractType<unknown> | null;
  const listItem = list?._item;
  if (key !== 'content' || !(list instanceof Y.Map) || listItem === null || listItem === undefined || listItem.deleted) return undefined;
  if (listItem.parent !== root || listItem.parentSub !== 'messages' || schemaOf(doc) !== 2) return undefined;
  const id = up.parentSub;
  if (id === null) return undefined;
  return {
    path: `messages.${id}.content`,
    order: `4${id}`,
    max: FIELD_LIMITS.messageChars,
    put: (c, t) => ({ ...c, messages: c.messages.map((m) => (m.id === id ? { ...m, content: t } : m)) }),
  };
}

/** Whether one text's edit can be taken in place (see the module comment). */
function quickEdit(text: Y.Text, e: TextEdit, max: number): boolean {
  if (e.ins.length > 0 && e.del.length > 0) return false;
  if (text.length > max) return false;
  for (const it of e.ins) {
    if (it.deleted) return false;
    const s = plainString(it);
    if (s === undefined || NUL_OR_SURROGATE.test(s)) return false;
    if (!safeNeighbour(leftUnit(it)) || !safeNeighbour(rightUnit(it))) return false;
  }
  for (const it of e.del) {
    if (plainString(it) === undefined) return false;
    if (!safeNeighbour(leftUnit(it)) || !safeNeighbour(rightUnit(it))) return false;
  }
  return true;
}

/** The text fields a transaction changed, when it can be taken in place (sorted as changedPaths sorts); undefined: read and validate in full. */
export function quickStep(doc: Y.Doc, touched: Touched): { text: Y.Text; field: TextField }[] | undefined {
  if (touched.other || touched.texts.size === 0) return undefined;
  const out: { text: Y.Text; field: TextField }[] = [];
  for (const [text, e] of touched.texts) {
    const field = fieldOf(doc, text);
    if (field === undefined || !quickEdit(text, e, field.max)) return undefined;
    out.push({ text, field });
  }
  return out.sort((a, b) => (a.field.order < b.field.order ? -1 : a.field.order > b.field.order ? 1 : 0));
}

/**
 * The content a live doc holds: the last content read in full, plus the texts changed since
 * (quick steps), re-read only when the content is asked for.
 */
export class LiveContent {
  #content: ProfileContent;
  readonly #dirty = new Map<string, { text: Y.Text; field: TextField }>();

  constructor(content: ProfileContent) {
    this.#content = canonicalContent(content);
  }

  get dirty(): boolean {
    return this.#dirty.size > 0;
  }

  /** The content as read last (texts changed since hold their old strings): for fields a quick step does not change. */
  get stale(): ProfileContent {
    return this.#content;
  }

  /**
   * The exact content before the doc's last transaction (call right after it): texts changed
   * by earlier quick steps are read, those the transaction touched as they were before it.
   * Afterwards the content is that exact content with nothing marked.
   */
  before(tx: Y.Transaction | undefined, touched: Touched): ProfileContent {
    if (this.#dirty.size === 0) return this.#content;
    let c = this.#content;
    for (const { text, field } of this.#dirty.values()) {
      const edited = touched.texts.has(text);
      if (edited && tx === undefined) throw new Error('the transaction to look behind is unknown');
      c = field.put(c, edited ? textBefore(text, tx as Y.Transaction) : text.toString());
    }
    this.#dirty.clear();
    this.#content = canonicalContent(c);
    return this.#content;
  }

  mark(changed: readonly { text: Y.Text; field: TextField }[]): void {
    for (const c of changed) this.#dirty.set(c.field.path, c);
  }

  /** The exact content (canonical), reading the texts changed since the last read. */
  read(): ProfileContent {
    if (this.#dirty.size === 0) return this.#content;
    let c = this.#content;
    for (const { text, field } of this.#dirty.values()) c = field.put(c, text.toString());
    this.#dirty.clear();
    this.#content = canonicalContent(c);
    return this.#content;
  }

  /** Replaces the content after a full read (canonical from here on: views are canonical JSON). */
  set(content: ProfileContent): void {
    this.#dirty.clear();
    this.#content = canonicalContent(content);
  }
}

/**
 * The string a Y.Text had before transaction `tx` (call right after it): a character was there
 * when its clock is below the transaction's start state of its client and it was either not
 * deleted or deleted by `tx` itself.
 */
export function textBefore(text: Y.Text, tx: Y.Transaction): string {
  let out = '';
  for (let it = text._start; it !== null; it = it.right) {
    const s = plainString(it);
    if (s === undefined) continue;
    const { client, clock } = it.id;
    const old = Math.min(s.length, Math.max(0, (tx.beforeState.get(client) ?? 0) - clock));
    if (old === 0) continue;
    if (!it.deleted) {
      out += s.slice(0, old);
      continue;
    }
    const ranges = tx.deleteSet.clients.get(client);
    if (ranges === undefined) continue;
    for (const r of ranges) {
      const from = Math.max(r.clock, clock);
      const to = Math.min(r.clock + r.len, clock + old);
      if (to > from) out += s.slice(from - clock, to - clock);
    }
  }
  return out;
}

/**
 * Upper bound of the growth of a view's JSON bytes by a quick step: each added UTF-16 unit is
 * at most 6 bytes of JSON (a control character as \u00XX; anything else 1-3 UTF-8 bytes, or 4
 * for a pair of units, or 2 when escaped).
 */
export function growthBound(touched: Touched): number {
  let units = 0;
  for (const e of touched.texts.values()) for (const it of e.ins) units += it.length;
  return 6 * units;
}
