/**
 * Small in-memory index of every profile (built from the views at open, updated on each ack):
 * serves list()/filters and versionHashes() without loading docs or views.
 */
import type { ListFilter, ProfileSummary, ProfileView } from './types.js';
import { versionHash } from './version.js';

interface IndexEntry {
  summary: ProfileSummary;
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

  put(view: ProfileView): void {
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
    });
    this.#entries.set(view.id, { summary });
    this.#hashes.set(view.id, view.version);
  }

  has(id: string): boolean {
    return this.#entries.has(id);
  }

  get size(): number {
    return this.#entries.size;
  }

  get(id: string): ProfileSummary | undefined {
    return this.#entries.get(id)?.summary;
  }

  list(filter: ListFilter = {}): ProfileSummary[] {
    const out: ProfileSummary[] = [];
    for (const { summary: s } of this.#entries.values()) {
      if (s.deleted && !filter.includeDeleted) continue;
      if (filter.modelId !== undefined && s.modelId !== filter.modelId) continue;
      if (filter.label !== undefined && filter.label !== 'latest' && !s.labels.includes(filter.label)) continue;
      if (filter.tag !== undefined && !s.tags.includes(filter.tag)) continue;
      out.push(s);
    }
    return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** id -> short hash of the current version ref (equal content => equal hash on every peer). */
  hashes(): ReadonlyMap<string, string> {
    return this.#hashes;
  }
}
