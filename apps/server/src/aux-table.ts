/**
 * A small table kept as ONE JSON array in one aux record of the log, so it is encrypted at
 * rest whenever the log is: the API tokens ('auth/tokens') and the peers added at run time
 * ('sync/peers'). Writes are serialized and copy-on-write: memory changes only after the
 * durable write, and a failed write changes nothing.
 */

/** The slice of the event log a table needs. */
export interface AuxStore {
  getAux(name: string): Promise<Uint8Array | undefined>;
  putAux(name: string, value: Uint8Array): Promise<void>;
}

export class AuxTable<T extends { id: string }> {
  readonly #aux: AuxStore;
  readonly #name: string;
  #writing: Promise<unknown> = Promise.resolve();

  constructor(aux: AuxStore, name: string) {
    this.#aux = aux;
    this.#name = name;
  }

  /** The stored records ([] when none were ever written); an unreadable record throws `corrupt(cause)`. */
  async load(corrupt: (cause: unknown) => Error): Promise<T[]> {
    const raw = await this.#aux.getAux(this.#name);
    if (!raw) return [];
    try {
      const list = JSON.parse(Buffer.from(raw).toString('utf8')) as T[];
      if (!Array.isArray(list)) throw new Error('not an array');
      return list;
    } catch (err) {
      throw corrupt(err);
    }
  }

  /**
   * Queues one write: after the writes before it, copies `current()`, applies `change` to the
   * copy, stores the copy, and only then hands it to `commit`.
   */
  write(current: () => ReadonlyMap<string, T>, change: (next: Map<string, T>) => void, commit: (next: Map<string, T>) => void): Promise<void> {
    const run = this.#writing.then(async () => {
      const next = new Map(current());
      change(next);
      await this.#aux.putAux(this.#name, Buffer.from(JSON.stringify([...next.values()]), 'utf8'));
      commit(next);
    });
    this.#writing = run.catch(() => undefined);
    return run;
  }
}
