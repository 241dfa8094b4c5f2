/**
 * The typed event emitter of every package (log, core, sync, cache): components emit facts
 * (with durationMillis where something took time); metrics and logs subscribe, and the
 * components import neither. Emitting costs one map lookup when nobody listens.
 *
 * A listener that throws never breaks the caller of emit (a write that is already durable, a
 * cache read, a sync round): the error becomes a process warning naming the source and event.
 */
export type Listener<T> = (payload: T) => void;

/** For classes that emit their own events: `emit` and `hasListeners` are protected. */
export class TypedEmitter<Events extends object> {
  readonly #listeners = new Map<keyof Events, Set<Listener<never>>>();
  readonly #source: string;

  /** `source` names the emitter in warnings about throwing listeners (e.g. '@profilesync/log'). */
  constructor(source: string) {
    this.#source = source;
  }

  /** Subscribes; returns the unsubscribe function. */
  on<E extends keyof Events>(event: E, listener: Listener<Events[E]>): () => void {
    let set = this.#listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener as Listener<never>);
    return () => {
      set.delete(listener as Listener<never>);
      if (set.size === 0 && this.#listeners.get(event) === set) this.#listeners.delete(event);
    };
  }

  /** Resolves with the next event of that name. */
  once<E extends keyof Events>(event: E): Promise<Events[E]> {
    return new Promise((resolve) => {
      const off = this.on(event, (payload) => {
        off();
        resolve(payload);
      });
    });
  }

  protected hasListeners(event: keyof Events): boolean {
    return this.#listeners.has(event);
  }

  protected emit<E extends keyof Events>(event: E, payload: Events[E]): void {
    const set = this.#listeners.get(event);
    if (set === undefined) return;
    for (const l of [...set]) {
      try {
        (l as Listener<Events[E]>)(payload);
      } catch (err) {
        process.emitWarning(`${this.#source} listener for '${String(event)}' threw: ${String(err)}`);
      }
    }
  }
}

/** For a component that emits through a member (`this.events.emit(...)`): `emit` and `has` are public. */
export class Emitter<Events extends object> extends TypedEmitter<Events> {
  has(event: keyof Events): boolean {
    return this.hasListeners(event);
  }

  override emit<E extends keyof Events>(event: E, payload: Events[E]): void {
    super.emit(event, payload);
  }
}
