/**
 * FIFO of inbound messages of one session, with read backpressure: over `high` unread
 * messages, or over `highBytes` unread bytes (a message may be up to maxMessageBytes, so a
 * count alone would let a peer park thousands of 64 MiB messages), it pauses the transport (TCP
 * backpressure on the peer) and resumes once both are under half.
 */
export class Inbox {
  readonly #high: number;
  readonly #highBytes: number;
  #bytes = 0;
  readonly #pause: (() => void) | undefined;
  readonly #resume: (() => void) | undefined;
  #items: Uint8Array[] = [];
  #head = 0;
  #paused = false;

  constructor(high: number, pause?: () => void, resume?: () => void, highBytes = Number.POSITIVE_INFINITY) {
    this.#high = high;
    this.#highBytes = highBytes;
    this.#pause = pause;
    this.#resume = resume;
  }

  get size(): number {
    return this.#items.length - this.#head;
  }

  /** unread bytes */
  get bytes(): number {
    return this.#bytes;
  }

  push(bytes: Uint8Array): void {
    this.#items.push(bytes);
    this.#bytes += bytes.byteLength;
    if (!this.#paused && this.#pause && (this.size > this.#high || this.#bytes > this.#highBytes)) {
      this.#paused = true;
      this.#pause();
    }
  }

  shift(): Uint8Array | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const bytes = this.#items[this.#head++] as Uint8Array;
    this.#bytes -= bytes.byteLength;
    if (this.#paused && this.size < this.#high / 2 && this.#bytes < this.#highBytes / 2) {
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
    this.#bytes = 0;
    this.#items = [];
    this.#head = 0;
  }
}
