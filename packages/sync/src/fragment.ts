/**
 * Message fragmentation: an application message larger than one frame's payload is cut into
 * pieces. Frame payload = flag(1) | bytes. Flag 0: a whole message; 1: a fragment, more follow;
 * 2: the last fragment. Pure functions plus a small reassembler with a size limit.
 */
import { SyncErrorCode, syncError } from './errors.js';

export const FragmentFlag = { whole: 0, more: 1, last: 2 } as const;

/** Splits one message into frame payloads of at most `maxPayload` bytes (flag included). */
export function fragment(message: Uint8Array, maxPayload: number): Uint8Array[] {
  const room = maxPayload - 1;
  if (room < 1) throw syncError(SyncErrorCode.INVALID_ARGUMENT, 'frame payload limit too small for fragmentation');
  if (message.length <= room) {
    const out = new Uint8Array(message.length + 1);
    out[0] = FragmentFlag.whole;
    out.set(message, 1);
    return [out];
  }
  const parts: Uint8Array[] = [];
  for (let off = 0; off < message.length; off += room) {
    const end = Math.min(message.length, off + room);
    const p = new Uint8Array(end - off + 1);
    p[0] = end === message.length ? FragmentFlag.last : FragmentFlag.more;
    p.set(message.subarray(off, end), 1);
    parts.push(p);
  }
  return parts;
}

/**
 * Reassembles payloads into messages; SYNC_BAD_MESSAGE on a bad flag or a fragment without
 * bytes, SYNC_MESSAGE_TOO_LARGE over the limit. Fragments are copied into one growing buffer
 * (capacity doubled as needed), so a pending message holds at most 2x its counted bytes, however
 * small the fragments a peer sends (no per-fragment objects kept).
 */
export class Reassembler {
  readonly #maxMessageBytes: number;
  #buf: Uint8Array | undefined;
  #bytes = 0;

  constructor(maxMessageBytes: number) {
    this.#maxMessageBytes = maxMessageBytes;
  }

  /** Feeds one payload; returns the completed message or undefined while fragments are pending. */
  push(payload: Uint8Array): Uint8Array | undefined {
    if (payload.length < 1) throw syncError(SyncErrorCode.BAD_MESSAGE, 'empty frame payload');
    const flag = payload[0];
    const body = payload.subarray(1);
    if (flag === FragmentFlag.whole) {
      if (this.#buf !== undefined) throw syncError(SyncErrorCode.BAD_MESSAGE, 'whole message inside a fragmented one');
      if (body.length > this.#maxMessageBytes) throw this.#tooLarge(body.length);
      return body;
    }
    if (flag !== FragmentFlag.more && flag !== FragmentFlag.last) throw syncError(SyncErrorCode.BAD_MESSAGE, `unknown fragment flag ${flag}`);
    if (body.length === 0) throw syncError(SyncErrorCode.BAD_MESSAGE, 'a fragment without bytes');
    const total = this.#bytes + body.length;
    if (total > this.#maxMessageBytes) throw this.#tooLarge(total);
    if (this.#buf === undefined || this.#buf.length < total) {
      const grown = new Uint8Array(Math.min(this.#maxMessageBytes, Math.max(total, 2 * (this.#buf?.length ?? 0))));
      if (this.#buf !== undefined) grown.set(this.#buf.subarray(0, this.#bytes));
      this.#buf = grown;
    }
    this.#buf.set(body, this.#bytes);
    this.#bytes = total;
    if (flag === FragmentFlag.more) return undefined;
    const out = this.#buf.subarray(0, total);
    this.#buf = undefined;
    this.#bytes = 0;
    return out;
  }

  #tooLarge(bytes: number): Error {
    return syncError(SyncErrorCode.MESSAGE_TOO_LARGE, `message of ${bytes} bytes is over the ${this.#maxMessageBytes} byte limit`, { bytes, limit: this.#maxMessageBytes });
  }
}
