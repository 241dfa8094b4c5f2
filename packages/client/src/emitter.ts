/** A tiny typed event emitter that runs everywhere (no Node `events`); a throwing listener never breaks the SDK. */
export type Listener<T> = (payload: T) => void;

export class Events<M extends object> {
  readonly #listeners = new Map<keyof M, Set<Listener<never>>>();

  on<E extends keyof M>(event: E, listener: Listener<M[E]>): () => void {
    let set = this.#listeners.get(event);
    if (!set) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener as Listener<never>);
    return () => this.off(event, listener);
  }

  off<E extends keyof M>(event: E, listener: Listener<M[E]>): void {
    this.#listeners.get(event)?.delete(listener as Listener<never>);
  }

  has(event: keyof M): boolean {
    return (this.#listeners.get(event)?.size ?? 0) > 0;
  }

  emit<E extends keyof M>(event: E, payload: M[E]): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const l of [...set]) {
      try {
        (l as Listener<M[E]>)(payload);
      } catch {
        /* a listener's failure is its own */
      }
    }
  }
}
