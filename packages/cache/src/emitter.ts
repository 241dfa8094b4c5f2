/**
 * A tiny typed event emitter. Caches emit facts (with durationMillis where something
 * took time); metrics and logs subscribe, the caches import neither.
 * A listener that throws is isolated: the error is swallowed so it can never break a
 * cache operation.
 */
export type Listener<T> = (event: T) => void;

export class TypedEmitter<Events extends { [K in keyof Events]: object }> {
  #listeners = new Map<keyof Events, Set<Listener<never>>>();

  /** Subscribes; returns the unsubscribe function. */
  on<K extends keyof Events>(name: K, listener: Listener<Events[K]>): () => void {
    let set = this.#listeners.get(name);
    if (!set) {
      set = new Set();
      this.#listeners.set(name, set);
    }
    set.add(listener as Listener<never>);
    return () => {
      set.delete(listener as Listener<never>);
    };
  }

  /** Resolves with the next event of that name. */
  once<K extends keyof Events>(name: K): Promise<Events[K]> {
    return new Promise((resolve) => {
      const off = this.on(name, (e) => {
        off();
        resolve(e);
      });
    });
  }

  protected emit<K extends keyof Events>(name: K, event: Events[K]): void {
    const set = this.#listeners.get(name);
    if (!set || set.size === 0) return;
    for (const l of [...set]) {
      try {
        (l as Listener<Events[K]>)(event);
      } catch {
        // listeners must not break the cache
      }
    }
  }

  protected hasListeners(name: keyof Events): boolean {
    return (this.#listeners.get(name)?.size ?? 0) > 0;
  }
}
