/** A tiny typed emitter. Emitting costs one map lookup when nobody listens. */
export class Emitter<Events extends object> {
  readonly #listeners = new Map<keyof Events, Set<(payload: never) => void>>();

  on<E extends keyof Events>(event: E, listener: (payload: Events[E]) => void): () => void {
    let set = this.#listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener as (payload: never) => void);
    return () => {
      set.delete(listener as (payload: never) => void);
      if (set.size === 0) this.#listeners.delete(event);
    };
  }

  has(event: keyof Events): boolean {
    return this.#listeners.has(event);
  }

  /** Calls every listener; a throwing listener is reported as a process warning, never breaks the caller. */
  emit<E extends keyof Events>(event: E, payload: Events[E]): void {
    const set = this.#listeners.get(event);
    if (set === undefined) return;
    for (const l of [...set]) {
      try {
        (l as (p: Events[E]) => void)(payload);
      } catch (err) {
        process.emitWarning(`@profilesync/log listener for '${String(event)}' threw: ${String(err)}`);
      }
    }
  }
}
