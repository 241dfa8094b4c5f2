/**
 * Small in-memory index of every profile (built from the views at open, updated on each ack):
 * serves list()/filters and versionHashes() without loading docs or views.
 */
import type { ListFilter, ProfileSummary, ProfileView } from './types.js';
import { versionHash } from './version.js';

interface IndexEntry {
  summary: ProfileSummary;
  hash: string;
}

export class ProfileIndex {
  readonly #entries = new Map<string, IndexEntry>();
  readonly #hashes = new Map<string, string>();

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
    const hash = versionHash(view.version);
    this.#entries.set(view.id, { summary, hash });
    this.#hashes.set(view.id, hash);
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
