/**
 * Per-profile serialized queues. Every operation that touches a profile's live doc or its log
 * stream runs through `run(id, fn)`: one at a time per profile, in call order; different
 * profiles run in parallel (and share the log's group commits).
 */
export class ProfileQueues {
  readonly #tails = new Map<string, Promise<void>>();
  readonly #active = new Map<string, number>();
  /** called before an operation is queued (the batchers close their open batches: call order holds) */
  readonly #onEnqueue: ((id: string) => void)[] = [];

  onEnqueue(fn: (id: string) => void): void {
    this.#onEnqueue.push(fn);
  }

  /** Whether an operation on `id` is running right now (it holds the live doc). */
  busy(id: string): boolean {
    return this.#active.has(id);
  }

  get pending(): number {
    return this.#tails.size;
  }

  run<T>(id: string, fn: () => Promise<T>): Promise<T> {
    for (const f of this.#onEnqueue) f(id);
    const start = async (): Promise<T> => {
      this.#active.set(id, (this.#active.get(id) ?? 0) + 1);
      try {
        return await fn();
      } finally {
        const n = (this.#active.get(id) ?? 1) - 1;
        if (n === 0) this.#active.delete(id);
        else this.#active.set(id, n);
      }
    };
    const prev = this.#tails.get(id);
    const p = prev === undefined ? start() : prev.then(start);
    const tail = p.then(
      () => undefined,
      () => undefined,
    );
    this.#tails.set(id, tail);
    void tail.then(() => {
      if (this.#tails.get(id) === tail) this.#tails.delete(id);
    });
    return p;
  }

  /** Resolves when every queued operation has settled. */
  async drain(): Promise<void> {
    while (this.#tails.size > 0) await Promise.all([...this.#tails.values()]);
  }
}
