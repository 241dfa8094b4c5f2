/**
 * Search and ordering policies of the profile list (ProfileIndex.search): what text a profile
 * is searched by, how a query matches, the total order of each sort, and the opaque cursor of
 * keyset pagination. Pure functions; the index owns the data.
 */
import { coreError, CoreErrorCode } from './errors.js';
import type { ListMatch, ListSort, ProfileView } from './types.js';

export const LIST_SORTS: readonly ListSort[] = ['name', 'updated', 'model', 'id'];
/** Most terms one query may hold (each term is one substring scan per profile). */
export const MAX_QUERY_TERMS = 16;
export const MAX_PAGE = 1000;

/** One searchable field: its dotted name and its text (references into the view: no copies). */
export type SearchField = readonly [field: string, text: string];

/**
 * The fields a query is matched against, in the order a match is reported: who it is (name,
 * id, model), then the prompt text (description, system message, templates, messages).
 */
export function searchFields(view: ProfileView): SearchField[] {
  const out: SearchField[] = [
    ['name', view.name],
    ['id', view.id],
    ['modelId', view.modelId],
  ];
  if (view.description) out.push(['description', view.description]);
  if (view.systemMessage) out.push(['systemMessage', view.systemMessage]);
  for (const [name, text] of Object.entries(view.templates)) if (text) out.push([`templates.${name}`, text]);
  // profile model v2: messages [{ role, content }] (absent on a v1 view)
  const messages = (view as { messages?: unknown }).messages;
  if (Array.isArray(messages)) {
    messages.forEach((m, i) => {
      const content = (m as { content?: unknown } | null)?.content;
      if (typeof content === 'string' && content !== '') out.push([`messages.${i}`, content]);
    });
  }
  return out;
}

/** The lowercased haystack of a profile: its fields joined by NUL (a term never spans two fields). */
export function haystack(fields: readonly SearchField[]): string {
  return fields.map((f) => f[1].toLowerCase()).join('\u0000');
}

/**
 * A query's terms: split on white space, lowercased, deduplicated; a profile matches when every
 * term occurs somewhere in its text (substring, case-insensitive). Refuses more than
 * MAX_QUERY_TERMS terms.
 */
export function queryTerms(q: string | undefined): string[] {
  if (q === undefined) return [];
  const terms = [...new Set(q.toLowerCase().split(/\s+/).filter((t) => t !== '' && !t.includes('\u0000')))];
  if (terms.length > MAX_QUERY_TERMS) {
    throw coreError(CoreErrorCode.LIST_INVALID, `a search may hold at most ${MAX_QUERY_TERMS} words`, { field: 'q', rule: 'terms' });
  }
  // longest first: the rarest term usually fails fastest
  return terms.sort((a, b) => b.length - a.length);
}

export function matchesAll(hay: string, terms: readonly string[]): boolean {
  for (const t of terms) if (!hay.includes(t)) return false;
  return true;
}

const SNIPPET_BEFORE = 40;
const SNIPPET_AFTER = 80;

/** Where the first term (in the order the user typed them) occurs first, with a one-line snippet around it. */
export function describeMatch(fields: readonly SearchField[], termsInOrder: readonly string[]): ListMatch | undefined {
  for (const term of termsInOrder) {
    for (const [field, text] of fields) {
      const lower = text.toLowerCase();
      const at = lower.indexOf(term);
      if (at < 0) continue;
      // toLowerCase keeps the length for almost all text; when it does not, cut the lowercased copy
      const src = lower.length === text.length ? text : lower;
      const from = Math.max(0, at - SNIPPET_BEFORE);
      const to = Math.min(src.length, at + term.length + SNIPPET_AFTER);
      const body = src.slice(from, to).replace(/\s+/g, ' ');
      return { field, snippet: `${from > 0 ? '…' : ''}${body}${to < src.length ? '…' : ''}` };
    }
  }
  return undefined;
}

/** The sort key of one profile: compared by compareKeys, then by id (ids are unique: a total order). */
export interface SortKeys {
  name: string;
  updated: string;
  model: string;
  id: string;
}

export function sortKeys(view: ProfileView): SortKeys {
  return {
    name: view.name.toLowerCase(),
    updated: view.updatedAt,
    // model, then name: profiles of one model read alphabetically
    model: `${view.modelId.toLowerCase()}\u0000${view.name.toLowerCase()}`,
    id: view.id,
  };
}

export function defaultOrder(sort: ListSort): 'asc' | 'desc' {
  return sort === 'updated' ? 'desc' : 'asc';
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Names and models sort as people read them: numbers by value ("Profile 9" before "Profile 10"),
 * case and accents ignored ("éclair" next to "eclair"). A fixed locale, so every node and every
 * process sorts alike; keys that collate equal fall back to code-point order, then the id.
 */
const collator = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });

/** Total order of two strings: numeric-aware collation, then code points (distinct strings never tie). */
export function collate(a: string, b: string): number {
  return collator.compare(a, b) || cmp(a, b);
}

function compareKey(sort: ListSort, a: string, b: string): number {
  if (sort === 'name') return collate(a, b);
  if (sort === 'model') {
    // "model\0name": each part on its own (the collator would ignore the \0 and run them together)
    const i = a.indexOf('\u0000');
    const j = b.indexOf('\u0000');
    const am = i < 0 ? a : a.slice(0, i);
    const bm = j < 0 ? b : b.slice(0, j);
    return collate(am, bm) || collate(i < 0 ? '' : a.slice(i + 1), j < 0 ? '' : b.slice(j + 1));
  }
  return cmp(a, b); // updated (ISO timestamps) and id: code points
}

/** Ascending comparison of (key, id) for `sort`: the order of the list and of its cursors. */
export function compareKeys(sort: ListSort, a: readonly [string, string], b: readonly [string, string]): number {
  return compareKey(sort, a[0], b[0]) || cmp(a[1], b[1]);
}

interface CursorBody {
  s: ListSort;
  o: 'asc' | 'desc';
  k: string;
  i: string;
}

/** Opaque cursor: the (sort, order, key, id) of the last row of a page, base64url JSON. */
export function encodeCursor(sort: ListSort, order: 'asc' | 'desc', key: string, id: string): string {
  const body: CursorBody = { s: sort, o: order, k: key, i: id };
  return Buffer.from(JSON.stringify(body), 'utf8').toString('base64url');
}

/** Decodes a cursor made for the same sort and order; anything else is PROFILE_LIST_INVALID. */
export function decodeCursor(cursor: string, sort: ListSort, order: 'asc' | 'desc'): readonly [string, string] {
  let body: Partial<CursorBody> | null = null;
  if (cursor.length <= 2048 && /^[A-Za-z0-9_-]+$/.test(cursor)) {
    try {
      body = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Partial<CursorBody>;
    } catch {
      body = null;
    }
  }
  if (body === null || typeof body !== 'object' || typeof body.k !== 'string' || typeof body.i !== 'string' || !LIST_SORTS.includes(body.s as ListSort) || (body.o !== 'asc' && body.o !== 'desc')) {
    throw coreError(CoreErrorCode.LIST_INVALID, 'the cursor is not one this node handed out (use nextCursor of the previous page)', { field: 'cursor', rule: 'cursor' });
  }
  if (body.s !== sort || body.o !== order) {
    throw coreError(CoreErrorCode.LIST_INVALID, `the cursor belongs to sort=${body.s}&order=${body.o}; ask again with those, or start without a cursor`, { field: 'cursor', rule: 'cursor-sort' });
  }
  return [body.k, body.i];
}
