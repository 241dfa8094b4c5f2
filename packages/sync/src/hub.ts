/**
 * One per node: the store subscription, the shared digest and the fan-out of durable changes to
 * every peer session (skipping the peer the change came from) and to /yjs rooms.
 */
import type { ChangeEvent, ProfileStore } from '@profilesync/core';
import { StateDigest } from './digest.js';
import type { SyncEngine } from './engine.js';

export class SyncHub {
  readonly store: ProfileStore;
  readonly digest: StateDigest;
  readonly #engines = new Set<SyncEngine>();
  readonly #listeners = new Set<(e: ChangeEvent) => void>();
  readonly #unsubscribe: () => void;

  constructor(store: ProfileStore) {
    this.store = store;
    this.digest = new StateDigest(() => store.versionHashes());
    this.#unsubscribe = store.subscribe((e) => this.#onChange(e));
  }

  attach(engine: SyncEngine): void {
    this.#engines.add(engine);
  }

  detach(engine: SyncEngine): void {
    this.#engines.delete(engine);
  }

  get engines(): ReadonlySet<SyncEngine> {
    return this.#engines;
  }

  /** Listens to every durable change (the /yjs rooms use this). */
  onChange(listener: (e: ChangeEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  close(): void {
    this.#unsubscribe();
    this.#engines.clear();
    this.#listeners.clear();
  }

  #onChange(e: ChangeEvent): void {
    this.digest.markDirty(e.id);
    const from = originPeer(e.origin);
    for (const engine of this.#engines) if (engine.peerId !== from) engine.pushUpdate(e.id, e.update);
    for (const l of this.#listeners) {
      try {
        l(e);
      } catch {
        /* a room's failure must not stop the fan-out */
      }
    }
  }
}

/** 'peer:<peerId>' -> peerId; anything else -> undefined. */
export function originPeer(origin: string): string | undefined {
  return origin.startsWith('peer:') ? origin.slice(5) : undefined;
}
