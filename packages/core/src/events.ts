/** Typed store events with durations; metrics and logs subscribe, core imports no metrics library. */
import type { StoreEventName, StoreEvents } from './types.js';

export type { StoreEventName, StoreEvents };

type Listener<E extends StoreEventName> = (payload: StoreEvents[E]) => void;

export class Emitter {
  readonly #listeners = new Map<StoreEventName, Set<Listener<never>>>();

  on<E extends StoreEventName>(event: E, listener: Listener<E>): () => void {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(listener as Listener<never>);
    return () => set.delete(listener as Listener<never>);
  }

  has(event: StoreEventName): boolean {
    return (this.#listeners.get(event)?.size ?? 0) > 0;
  }

  /** Listener errors are swallowed: an observer must not break a write that is already durable. */
  emit<E extends StoreEventName>(event: E, payload: StoreEvents[E]): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const l of set) {
      try {
        (l as Listener<E>)(payload);
      } catch {
        /* observer failure ignored by design */
      }
    }
  }
}

/** Monotonic milliseconds for durations (not the injected wall clock). */
export function monoMs(): number {
  return performance.now();
}
