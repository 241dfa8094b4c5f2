/**
 * Serialized profile views for GET responses, keyed by the frozen view object the store
 * hands out. A write REPLACES the view object in the store, so an old entry becomes
 * unreachable and is collected with it: no invalidation, never a stale body.
 */
import { createHash } from 'node:crypto';
import type { CacheStatsSnapshot, ProfileView } from '@profilesync/core';

export interface SerializedView {
  json: string;
  etag: string;
}

export class ViewJsonCache {
  readonly name = 'http-views';
  #map = new WeakMap<object, SerializedView>();
  #generation = 0;
  #size = 0;
  #hits = 0;
  #misses = 0;
  #finalizer = new FinalizationRegistry<number>((gen) => {
    if (gen === this.#generation) this.#size--;
  });

  get(view: ProfileView): SerializedView {
    let e = this.#map.get(view);
    if (e) {
      this.#hits++;
      return e;
    }
    this.#misses++;
    const json = JSON.stringify(view);
    e = { json, etag: `"${createHash('sha1').update(json).digest('base64url')}"` };
    if (Object.isFrozen(view)) {
      this.#map.set(view, e);
      this.#size++;
      this.#finalizer.register(view, this.#generation);
    }
    return e;
  }

  clear(): void {
    this.#map = new WeakMap();
    this.#generation++;
    this.#size = 0;
  }

  stats(): CacheStatsSnapshot {
    const total = this.#hits + this.#misses;
    return { name: this.name, hits: this.#hits, misses: this.#misses, size: this.#size, hit_rate: total === 0 ? 0 : this.#hits / total, ttl: null, evictions: 0 };
  }
}
