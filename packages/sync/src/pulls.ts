/**
 * The pulls of one session: profiles we sent a STEP1 for and whose STEP2 has not been applied
 * yet. done() resolves once none is outstanding and no apply runs (`busy()` is false).
 * Duplicated or unsolicited STEP2s never make a count negative.
 */
export class PullTracker {
  readonly #outstanding = new Map<string, number>();
  readonly #busy: () => boolean;
  #waiters: (() => void)[] = [];

  constructor(busy: () => boolean) {
    this.#busy = busy;
  }

  get size(): number {
    return this.#outstanding.size;
  }

  ids(): IterableIterator<string> {
    return this.#outstanding.keys();
  }

  add(id: string): void {
    this.#outstanding.set(id, (this.#outstanding.get(id) ?? 0) + 1);
  }

  /** A STEP2 for `id` was applied (or was empty). */
  resolve(id: string): void {
    const n = this.#outstanding.get(id);
    if (n !== undefined && n <= 1) this.#outstanding.delete(id);
    else if (n !== undefined) this.#outstanding.set(id, n - 1);
    this.check();
  }

  /** Wakes the waiters if nothing is outstanding or being applied. */
  check(): void {
    if (this.#outstanding.size > 0 || this.#busy()) return;
    for (const w of this.#waiters.splice(0)) w();
  }

  done(): Promise<void> {
    if (this.#outstanding.size === 0 && !this.#busy()) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** The session ended: release every waiter. */
  releaseAll(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  get waiting(): number {
    return this.#waiters.length;
  }
}
