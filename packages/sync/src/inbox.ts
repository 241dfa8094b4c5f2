/**
 * FIFO of inbound messages of one session, with read backpressure: over `high` unread
 * messages it pauses the transport (TCP backpressure on the peer) and resumes at half.
 */
export class Inbox {
  readonly #high: number;
  readonly #pause: (() => void) | undefined;
  readonly #resume: (() => void) | undefined;
  #items: Uint8Array[] = [];
  #head = 0;
  #paused = false;

  constructor(high: number, pause?: () => void, resume?: () => void) {
    this.#high = high;
    this.#pause = pause;
    this.#resume = resume;
  }

  get size(): number {
    return this.#items.length - this.#head;
  }

  push(bytes: Uint8Array): void {
    this.#items.push(bytes);
    if (!this.#paused && this.#pause && this.size > this.#high) {
      this.#paused = true;
      this.#pause();
    }
  }

  shift(): Uint8Array | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const bytes = this.#items[this.#head++] as Uint8Array;
    if (this.#paused && this.size < this.#high / 2) {
      this.#paused = false;
      this.#resume?.();
    }
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return bytes;
  }

  clear(): void {
    this.#items = [];
    this.#head = 0;
  }
}
