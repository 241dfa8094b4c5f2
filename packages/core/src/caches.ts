/**
 * The two bounded caches of the store:
 * - HotViews: frozen materialized views, byte-bounded (lru-cache maxSize + sizeCalculation).
 *   A hit is one Map lookup plus a counter: no I/O, no Yjs, no promise.
 * - LiveDocs: Y.Docs of profiles being written or synced, bounded by count and bytes; an evicted
 *   doc is destroyed unless an operation holds it (then it is simply no longer cached).
 */
import { LRUCache } from 'lru-cache';
import type * as Y from 'yjs';
import { CacheCounters } from './stats.js';
import type { ContentTracker } from './content-state.js';
import type { VersionIndex } from './versions.js';
import type { VersionTracker } from './version.js';
import type { CacheStatsSnapshot, ProfileView } from './types.js';

export const DEFAULT_HOT_CACHE_BYTES = 64 * 1024 * 1024;
export const DEFAULT_MAX_DOCS = 512;
export const DEFAULT_MAX_DOC_BYTES = 256 * 1024 * 1024;

export class HotViews {
  readonly counters = new CacheCounters();
  readonly #lru: LRUCache<string, ProfileView>;
  readonly #maxBytes: number;

  constructor(maxBytes = DEFAULT_HOT_CACHE_BYTES) {
    this.#maxBytes = maxBytes;
    this.#lru = new LRUCache<string, ProfileView>({
      maxSize: maxBytes,
      sizeCalculation: (_v, _k) => 1, // replaced per set() with the view's byte length
      dispose: (_v, _k, reason) => {
        if (reason === 'evict') this.counters.evictions++;
      },
    });
  }

  /** Hot path. */
  get(id: string): ProfileView | undefined {
    const v = this.#lru.get(id);
    if (v !== undefined) this.counters.hits++;
    else this.counters.misses++;
    return v;
  }

  peek(id: string): ProfileView | undefined {
    return this.#lru.peek(id);
  }

  /** The serialized size a view was stored with (undefined when it is not cached). */
  bytesOf(id: string): number | undefined {
    return this.#lru.info(id)?.size;
  }

  /** Write-through replace; `bytes` is the view's serialized size. */
  set(id: string, view: ProfileView, bytes: number): void {
    this.#lru.set(id, view, { size: Math.max(1, Math.min(bytes, this.#maxBytes)) });
  }

  delete(id: string): void {
    this.#lru.delete(id);
  }

  clear(): void {
    this.#lru.clear();
  }

  get size(): number {
    return this.#lru.size;
  }

  stats(name: string): CacheStatsSnapshot {
    return this.counters.snapshot(name, this.#lru, { maxBytes: this.#maxBytes });
  }
}

export interface LiveDoc {
  doc: Y.Doc;
  /** incremental content snapshot (the version hash) of this doc */
  tracker: ContentTracker;
  /** the doc's closed versions, sorted on demand */
  versions: VersionIndex;
  /** incremental full snapshot (every struct and deletion): the sync digest */
  full: VersionTracker;
  /** estimated bytes (size of the state it was loaded from, plus appended updates) */
  bytes: number;
}

export class LiveDocs {
  readonly counters = new CacheCounters();
  readonly #lru: LRUCache<string, LiveDoc>;
  readonly #busy: (id: string) => boolean;
  readonly #maxDocs: number;
  readonly #maxBytes: number;
  /** the id resize() is re-inserting: its removal is not a dispose */
  #moving: string | undefined;

  /** `busy(id)`: whether an operation currently holds the doc (then eviction leaves destroy to it). */
  constructor(busy: (id: string) => boolean, maxDocs = DEFAULT_MAX_DOCS, maxBytes = DEFAULT_MAX_DOC_BYTES) {
    this.#busy = busy;
    this.#maxDocs = maxDocs;
    this.#maxBytes = maxBytes;
    this.#lru = new LRUCache<string, LiveDoc>({
      max: maxDocs,
      maxSize: maxBytes,
      sizeCalculation: (v) => Math.max(1, Math.min(v.bytes, maxBytes)),
      dispose: (v, id, reason) => {
        if (id === this.#moving && reason === 'delete') return;
        if (reason === 'evict') this.counters.evictions++;
        if (!this.#busy(id)) v.doc.destroy();
      },
    });
  }

  get(id: string): LiveDoc | undefined {
    const v = this.#lru.get(id);
    if (v !== undefined) this.counters.hits++;
    else this.counters.misses++;
    return v;
  }

  peek(id: string): LiveDoc | undefined {
    return this.#lru.peek(id);
  }

  set(id: string, live: LiveDoc): void {
    this.#lru.set(id, live);
  }

  /**
   * Takes the doc's new size estimate (`live.bytes`). lru-cache keeps an entry's size when the
   * same value is set again, so the entry is taken out (without destroying the doc) and put back.
   */
  resize(id: string, live: LiveDoc): void {
    if (this.#lru.peek(id) !== live) return;
    this.#moving = id;
    try {
      this.#lru.delete(id);
    } finally {
      this.#moving = undefined;
    }
    this.#lru.set(id, live);
  }

  /**
   * Removes the doc (used after a refused write: memory never keeps what the log refused). It is
   * destroyed now unless an operation holds it; an operation that still holds it finishes with
   * it, and the next operation loads a fresh doc from the log.
   */
  drop(id: string): void {
    this.#lru.delete(id);
  }

  clear(): void {
    this.#lru.clear();
  }

  get size(): number {
    return this.#lru.size;
  }

  stats(name: string): CacheStatsSnapshot {
    return this.counters.snapshot(name, this.#lru, { maxBytes: this.#maxBytes, maxEntries: this.#maxDocs });
  }
}
