/**
 * Small in-memory index of every profile (built from the views at open, updated on each ack):
 * serves list()/filters, search() (text search, sorts, keyset pages) and versionHashes()
 * without loading docs or views.
 *
 * Memory: besides the summary, an entry keeps references to its view's text fields (no copy;
 * the strings are shared with the view) and, once searched, their lowercased copy. So the index
 * holds the text of every profile: about twice the sum of the profiles' text sizes after the
 * first search (10,000 profiles of 2 KB: ~40 MB).
 */
import { coreError, CoreErrorCode } from './errors.js';
import {
  compareKeys,
  decodeCursor,
  defaultOrder,
  describeMatch,
  encodeCursor,
  haystack,
  LIST_SORTS,
  matchesAll,
  MAX_PAGE,
  queryTerms,
  searchFields,
  sortKeys,
  type SearchField,
  type SortKeys,
} from './profile-search.js';
import type { ListFacets, ListFilter, ListPage, ListQuery, ListSort, ProfileSummary, ProfileView } from './types.js';
import { versionHash } from './version.js';

/** One profile's entry; updated in place by put() so the sorted arrays stay valid references. */
interface IndexEntry {
  summary: ProfileSummary;
  keys: SortKeys;
  fields: SearchField[];
  /** lowercased text of `fields`, built by the first search after a change */
  hay: string | undefined;
}

function passes(s: ProfileSummary, f: ListFilter): boolean {
  if (s.deleted && !f.includeDeleted) return false;
  if (f.modelId !== undefined && s.modelId !== f.modelId) return false;
  if (f.label !== undefined && f.label !== 'latest' && !s.labels.includes(f.label)) return false;
  if (f.tag !== undefined && !s.tags.includes(f.tag)) return false;
  if (f.withConflicts === true && !(s.conflicts > 0)) return false;
  return true;
}

/**
 * id -> versionHash(version), hashed on first read and then remembered: a write only records
 * its version (no SHA-256 per write); the sync digest hashes what it reads.
 */
class LazyVersionHashes implements ReadonlyMap<string, string> {
  readonly #versions = new Map<string, string>();
  readonly #hashes = new Map<string, string>();

  set(id: string, version: string): void {
    if (this.#versions.get(id) === version) return;
    this.#versions.set(id, version);
    this.#hashes.delete(id);
  }

  delete(id: string): void {
    this.#versions.delete(id);
    this.#hashes.delete(id);
  }

  get(id: string): string | undefined {
    let h = this.#hashes.get(id);
    if (h !== undefined) return h;
    const v = this.#versions.get(id);
    if (v === undefined) return undefined;
    h = versionHash(v);
    this.#hashes.set(id, h);
    return h;
  }

  has(id: string): boolean {
    return this.#versions.has(id);
  }

  get size(): number {
    return this.#versions.size;
  }

  *entries(): MapIterator<[string, string]> {
    for (const id of this.#versions.keys()) yield [id, this.get(id) as string];
  }

  keys(): MapIterator<string> {
    return this.#versions.keys();
  }

  *values(): MapIterator<string> {
    for (const id of this.#versions.keys()) yield this.get(id) as string;
  }

  forEach(fn: (value: string, key: string, map: ReadonlyMap<string, string>) => void, thisArg?: unknown): void {
    for (const [id, h] of this.entries()) fn.call(thisArg, h, id, this);
  }

  [Symbol.iterator](): MapIterator<[string, string]> {
    return this.entries();
  }
}

export class ProfileIndex {
  readonly #entries = new Map<string, IndexEntry>();
  readonly #hashes = new LazyVersionHashes();
  readonly #syncKeys = new Map<string, string>();
  /** open conflict records over every profile (the /metrics gauge) */
  #open = 0;
  /** per sort: every entry in ascending (key, id) order; dropped when a key of that sort changes */
  readonly #sorted = new Map<ListSort, IndexEntry[]>();

  /**
   * `syncKey` names the whole doc state (content, labels, version records): the sync digest must
   * change with every change a peer has to receive, and view.version names the content only.
   */
  put(view: ProfileView, syncKey?: string): void {
    const tags = view.meta['tags'];
    const summary: ProfileSummary = Object.freeze({
      id: view.id,
      modelId: view.modelId,
      name: view.name,
      version: view.version,
      updatedAt: view.updatedAt,
      labels: Object.keys(view.labels).sort(),
      tags: Array.isArray(tags) ? tags.slice() : [],
      deleted: view.deleted,
      conflicts: view.conflicts ?? 0,
    });
    const keys = sortKeys(view);
    const fields = searchFields(view);
    const e = this.#entries.get(view.id);
    this.#open += summary.conflicts - (e?.summary.conflicts ?? 0);
    if (this.#open < 0) this.#open = 0;
    if (e === undefined) {
      this.#entries.set(view.id, { summary, keys, fields, hay: undefined });
      this.#sorted.clear();
    } else {
      for (const s of LIST_SORTS) if (e.keys[s] !== keys[s]) this.#sorted.delete(s);
      e.summary = summary;
      e.keys = keys;
      e.fields = fields;
      e.hay = undefined;
    }
    this.#hashes.set(view.id, syncKey ?? this.#syncKeys.get(view.id) ?? view.version);
    if (syncKey !== undefined) this.#syncKeys.set(view.id, syncKey);
  }

  /** Drops a profile (found damaged: it is listed again once repaired). */
  remove(id: string): void {
    const e = this.#entries.get(id);
    if (e === undefined || !this.#entries.delete(id)) return;
    this.#open = Math.max(0, this.#open - e.summary.conflicts);
    this.#sorted.clear();
    this.#hashes.delete(id);
  }

  has(id: string): boolean {
    return this.#entries.has(id);
  }

  /** Open conflict records over every profile, and how many profiles have one. */
  openConflicts(): { records: number; profiles: number } {
    let profiles = 0;
    if (this.#open > 0) for (const e of this.#entries.values()) if (e.summary.conflicts > 0) profiles++;
    return { records: this.#open, profiles };
  }

  get size(): number {
    return this.#entries.size;
  }

  get(id: string): ProfileSummary | undefined {
    return this.#entries.get(id)?.summary;
  }

  list(filter: ListFilter = {}): ProfileSummary[] {
    const out: ProfileSummary[] = [];
    for (const { summary: s } of this.#entries.values()) if (passes(s, filter)) out.push(s);
    return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  #ascending(sort: ListSort): IndexEntry[] {
    let arr = this.#sorted.get(sort);
    if (arr === undefined) {
      arr = [...this.#entries.values()].sort((a, b) => compareKeys(sort, [a.keys[sort], a.keys.id], [b.keys[sort], b.keys.id]));
      this.#sorted.set(sort, arr);
    }
    return arr;
  }

  /**
   * One page: filter, search (every term in the profile's text), sort, keyset pagination.
   * One pass over the sorted entries (the total counts every match); snippets only for the page.
   */
  search(query: ListQuery = {}): ListPage {
    const sort = query.sort ?? 'id';
    if (!LIST_SORTS.includes(sort)) throw coreError(CoreErrorCode.LIST_INVALID, `sort must be one of ${LIST_SORTS.join(', ')}`, { field: 'sort', rule: 'sort' });
    const order = query.order ?? defaultOrder(sort);
    if (order !== 'asc' && order !== 'desc') throw coreError(CoreErrorCode.LIST_INVALID, 'order must be asc or desc', { field: 'order', rule: 'order' });
    const limit = query.limit;
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE)) {
      throw coreError(CoreErrorCode.LIST_INVALID, `limit must be an integer 1..${MAX_PAGE}`, { field: 'limit', rule: 'limit' });
    }
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor, sort, order);
    const typed = queryTerms(query.q);
    const arr = this.#ascending(sort);
    const desc = order === 'desc';
    // the cursor's place in the sorted entries (two binary searches instead of a comparison per
    // row): ascending pages continue at `past`, descending ones below `before`
    let before = 0;
    let past = 0;
    if (after !== undefined) {
      const firstAtLeast = (orEqual: boolean): number => {
        let lo = 0;
        let hi = arr.length;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          const e = arr[mid] as IndexEntry;
          const c = compareKeys(sort, [e.keys[sort], e.keys.id], after);
          if (c < 0 || (orEqual && c === 0)) lo = mid + 1;
          else hi = mid;
        }
        return lo;
      };
      before = firstAtLeast(false);
      past = firstAtLeast(true);
    }
    const page: IndexEntry[] = [];
    let total = 0;
    let more = false;
    const n = arr.length;
    for (let k = 0; k < n; k++) {
      const at = desc ? n - 1 - k : k;
      const e = arr[at] as IndexEntry;
      if (!passes(e.summary, query)) continue;
      if (query.allow !== undefined && !query.allow(e.summary.id)) continue;
      if (typed.length > 0) {
        const hay = (e.hay ??= haystack(e.fields));
        if (!matchesAll(hay, typed)) continue;
      }
      total++;
      if (after !== undefined && (desc ? at >= before : at < past)) continue;
      if (limit === undefined || page.length < limit) page.push(e);
      else more = true;
    }
    let facets: ListFacets | undefined;
    if (query.facets === true) {
      const models = new Set<string>();
      const labels = new Set<string>();
      const tags = new Set<string>();
      for (const { summary: s } of this.#entries.values()) {
        if (s.deleted && !query.includeDeleted) continue;
        if (query.allow !== undefined && !query.allow(s.id)) continue;
        models.add(s.modelId);
        for (const l of s.labels) labels.add(l);
        for (const t of s.tags) tags.add(t);
      }
      const sorted = (x: Set<string>) => [...x].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      facets = { models: sorted(models), labels: sorted(labels), tags: sorted(tags) };
    }
    const inOrder = query.q === undefined ? [] : [...new Set(query.q.toLowerCase().split(/\s+/).filter((t) => t !== ''))];
    const last = page[page.length - 1];
    return {
      profiles: page.map((e) => {
        const match = typed.length > 0 ? describeMatch(e.fields, inOrder) : undefined;
        return match === undefined ? e.summary : { ...e.summary, match };
      }),
      total,
      nextCursor: more && last !== undefined ? encodeCursor(sort, order, last.keys[sort], last.keys.id) : null,
      ...(facets ? { facets } : {}),
    };
  }

  /** id -> short hash of the current version ref (equal content => equal hash on every peer). */
  hashes(): ReadonlyMap<string, string> {
    return this.#hashes;
  }
}
