/** Typed store events with durations; metrics and logs subscribe, core imports no metrics library. */
export interface StoreEvents {
  /** a live Y.Doc was loaded from the log */
  'document-loaded': { id: string; bytes: number; snapshotSeq: number; tailEntries: number; durationMillis: number };
  /** a cold get() read a persisted view into the hot cache */
  'view-loaded': { id: string; bytes: number; source: 'view' | 'replay'; durationMillis: number };
  /** a change was made durable (local write, remote update, label move, revert, import) */
  'profile-written': { id: string; seq: number; bytes: number; action: string; origin: string; durationMillis: number };
  /** a write or remote update was refused (validation or append failure); nothing changed */
  'write-rejected': { id: string; code: string; origin: string; durationMillis: number };
  /** a remote update was applied (or found to add nothing) */
  'remote-applied': { id: string; applied: boolean; bytes: number; durationMillis: number };
  'conflict-recorded': { id: string; path: string; durationMillis: number };
  'doc-evicted': { id: string };
  'store-opened': { profiles: number; durationMillis: number };
}

export type StoreEventName = keyof StoreEvents;

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
