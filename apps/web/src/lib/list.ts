/**
 * Small pure policies of the profile list: the sort menu, the "1–50 of 10,000" line, search
 * words marked in a snippet, the import report rows, a duplicate's name and id, lag in words.
 */
import type { ListSort } from '@profilesync/core';

export interface SortChoice {
  value: string;
  label: string;
  sort: ListSort;
  order: 'asc' | 'desc';
}

/** The sort menu: each choice is one (sort, order) the node understands. */
export const SORT_CHOICES: readonly SortChoice[] = [
  { value: 'name', label: 'Name (A–Z)', sort: 'name', order: 'asc' },
  { value: 'name-desc', label: 'Name (Z–A)', sort: 'name', order: 'desc' },
  { value: 'updated', label: 'Recently updated', sort: 'updated', order: 'desc' },
  { value: 'updated-asc', label: 'Least recently updated', sort: 'updated', order: 'asc' },
  { value: 'model', label: 'Model (A–Z)', sort: 'model', order: 'asc' },
  { value: 'id', label: 'Id (A–Z)', sort: 'id', order: 'asc' },
];

export function sortChoice(value: string): SortChoice {
  return SORT_CHOICES.find((c) => c.value === value) ?? (SORT_CHOICES[0] as SortChoice);
}

export const PAGE_SIZES = [25, 50, 100, 200] as const;
export const DEFAULT_PAGE_SIZE = 50;
export const DEFAULT_SORT = 'name';

/** The first request of the list as it opens (no search, no filter): primed before the first render. */
export function firstPageQuery(): { sort: ListSort; order: 'asc' | 'desc'; limit: number; facets: true } {
  const c = sortChoice(DEFAULT_SORT);
  return { sort: c.sort, order: c.order, limit: DEFAULT_PAGE_SIZE, facets: true };
}

const numberFormat = new Intl.NumberFormat('en-US');
const num = (n: number): string => numberFormat.format(n);

/** "1–50 of 10,000" for page `index` (0-based) holding `rows` rows. */
export function rangeText(index: number, pageSize: number, rows: number, total: number): string {
  if (rows === 0) return `0 of ${num(total)}`;
  const first = index * pageSize + 1;
  return `${num(first)}–${num(first + rows - 1)} of ${num(total)}`;
}

/** The words of a search (as the node splits them), lowercased. */
export function searchWords(q: string): string[] {
  return [...new Set(q.toLowerCase().split(/\s+/).filter((w) => w !== ''))];
}

/** A snippet cut into plain and marked parts: every occurrence of any word is marked. */
export function markWords(text: string, words: readonly string[]): { text: string; mark: boolean }[] {
  const lower = text.toLowerCase();
  if (words.length === 0 || lower.length !== text.length) return [{ text, mark: false }];
  const marked = new Array<boolean>(text.length).fill(false);
  for (const w of words) {
    for (let at = lower.indexOf(w); at >= 0; at = lower.indexOf(w, at + 1)) marked.fill(true, at, at + w.length);
  }
  const out: { text: string; mark: boolean }[] = [];
  for (let i = 0; i < text.length; ) {
    let j = i;
    while (j < text.length && marked[j] === marked[i]) j++;
    out.push({ text: text.slice(i, j), mark: marked[i] as boolean });
    i = j;
  }
  return out;
}

/** A match field in words: "system message", "template greet", "message 2". */
export function fieldLabel(field: string): string {
  if (field === 'systemMessage') return 'system message';
  if (field === 'modelId') return 'model';
  if (field.startsWith('templates.')) return `template ${field.slice('templates.'.length)}`;
  const m = /^messages\.(\d+)/.exec(field);
  if (m) return `message ${Number(m[1]) + 1}`;
  return field;
}

export type ImportOutcome = 'created' | 'updated' | 'unchanged' | 'rejected';

export interface ImportRow {
  /** the profile id (or "(item N)" when the item has none) */
  id: string;
  outcome: ImportOutcome;
  /** rejected: the error code, the field it names (details.path / details.field) and the reason */
  code?: string;
  field?: string;
  reason?: string;
}

export function importSummary(rows: readonly ImportRow[]): string {
  const n = (o: ImportOutcome) => rows.filter((r) => r.outcome === o).length;
  return `Import: ${n('created')} created, ${n('updated')} updated, ${n('unchanged')} unchanged, ${n('rejected')} rejected.`;
}

/** The suggested name and id of a copy: "Copy of X" / "x-copy" (then -copy-2, -copy-3 ... when taken). */
export function copyOf(name: string, id: string, taken: (id: string) => boolean): { name: string; id: string } {
  const base = `${id.slice(0, 120)}-copy`;
  let candidate = base;
  for (let n = 2; taken(candidate) && n < 1000; n++) candidate = `${base}-${n}`;
  return { name: `Copy of ${name}`.slice(0, 256), id: candidate };
}

/** A duration in human units: "45 s", "1 min 15 s", "2 h 5 min", "3 days 4 h". */
export function humanDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 === 0 ? `${m} min` : `${m} min ${s % 60} s`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 === 0 ? `${h} h` : `${h} h ${m % 60} min`;
  const d = Math.floor(h / 24);
  return h % 24 === 0 ? `${d} ${d === 1 ? 'day' : 'days'}` : `${d} ${d === 1 ? 'day' : 'days'} ${h % 24} h`;
}
