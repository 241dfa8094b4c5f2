import { readU64, wipe, writeU64 } from './bytes.js';
import { CryptoErrorCode, cryptoError, type CryptoErrorCodeValue } from './errors.js';
import { SECRETBOX_MAC_BYTES, SECRETBOX_NONCE_BYTES, secretboxOpen, secretboxSealInto } from './secretbox.js';

/**
 * Frame cipher of a peer session (after the handshake).
 *
 * Frame: type(1) | counter(8, BE) | secretbox(payload) (MAC 16 + ciphertext); secretbox is
 * nacl.secretbox's XSalsa20-Poly1305, computed by libsodium via sodium-native (./secretbox.ts).
 * Nonce (24): direction(1) | type(1) | 14 zero bytes | counter(8, BE). Type and counter
 * are not secret but are authenticated through the nonce: changing either breaks the MAC.
 * Each direction has its own key and its own counter, starting at 0 and rising by one per
 * frame; the receiver accepts exactly the next counter, so a replayed, reordered or
 * dropped frame is detected. Any bad frame closes the session for good.
 */
export const FRAME_HEADER_BYTES = 9;
export const FRAME_OVERHEAD_BYTES = FRAME_HEADER_BYTES + SECRETBOX_MAC_BYTES;
/** default limit on a frame's payload (plaintext) */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;

export const FrameType = { data: 0, goodbye: 1 } as const;
export const Direction = { initiatorToResponder: 1, responderToInitiator: 2 } as const;
export type Role = 'initiator' | 'responder';

export type OpenedFrame = { type: 'data'; data: Uint8Array } | { type: 'goodbye' };

export interface SessionOptions {
  /** largest payload seal() accepts and open() lets through (default 1 MiB) */
  maxFrameBytes?: number;
}

/** The highest counter before a session must be replaced (2^53 - 1: never reached in practice). */
const MAX_COUNTER = Number.MAX_SAFE_INTEGER;

export function frameNonce(direction: number, type: number, counter: number): Uint8Array {
  const nonce = new Uint8Array(SECRETBOX_NONCE_BYTES);
  nonce[0] = direction;
  nonce[1] = type;
  writeU64(nonce, 16, counter);
  return nonce;
}

/** Pure policy: how a received counter compares with the one expected next. */
export function classifyCounter(received: number, expected: number): 'ok' | 'replay' | 'reorder' {
  if (received === expected) return 'ok';
  return received < expected ? 'replay' : 'reorder';
}

export class SecureSession {
  /** hex id shared by both ends (from the handshake transcript); safe to log */
  readonly id: string;
  readonly role: Role;
  readonly maxFrameBytes: number;
  #sendKey: Uint8Array;
  #receiveKey: Uint8Array;
  #sendDirection: number;
  #receiveDirection: number;
  #sendCounter = 0;
  #receiveCounter = 0;
  #sentGoodbye = false;
  #receivedGoodbye = false;
  #failure: CryptoErrorCodeValue | undefined;
  #destroyed = false;

  /** Keys are taken over (and zeroed when the session ends). Normally built by the handshake. */
  constructor(role: Role, sendKey: Uint8Array, receiveKey: Uint8Array, id: string, opts: SessionOptions = {}) {
    const max = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    if (!Number.isSafeInteger(max) || max < 1 || max > 0x7fff_ffff) {
      throw cryptoError(CryptoErrorCode.INVALID_ARGUMENT, 'maxFrameBytes must be a positive integer below 2 GiB');
    }
    if (sendKey.length !== 32 || receiveKey.length !== 32) throw cryptoError(CryptoErrorCode.INVALID_ARGUMENT, 'session keys are 32 bytes');
    this.role = role;
    this.id = id;
    this.maxFrameBytes = max;
    this.#sendKey = sendKey;
    this.#receiveKey = receiveKey;
    this.#sendDirection = role === 'initiator' ? Direction.initiatorToResponder : Direction.responderToInitiator;
    this.#receiveDirection = role === 'initiator' ? Direction.responderToInitiator : Direction.initiatorToResponder;
  }

  /** True once a goodbye was sent or received, or a frame failed. */
  get isClosed(): boolean {
    return this.#sentGoodbye || this.#receivedGoodbye || this.#failure !== undefined;
  }

  /** undefined while open; 'goodbye' after a clean close; else the error code that closed it */
  get closeReason(): 'goodbye' | CryptoErrorCodeValue | undefined {
    if (this.#failure !== undefined) return this.#failure;
    return this.#sentGoodbye || this.#receivedGoodbye ? 'goodbye' : undefined;
  }

  /** Frames sent and received so far. */
  get counters(): { sent: number; received: number } {
    return { sent: this.#sendCounter, received: this.#receiveCounter };
  }

  /** Encrypts one payload into a frame (a view into a fresh buffer). */
  seal(data: Uint8Array): Uint8Array {
    if (!(data instanceof Uint8Array)) throw cryptoError(CryptoErrorCode.INVALID_ARGUMENT, 'a frame payload must be a Uint8Array');
    if (data.length > this.maxFrameBytes) {
      throw cryptoError(CryptoErrorCode.FRAME_TOO_LARGE, `payload of ${data.length} bytes is over the ${this.maxFrameBytes} byte frame limit`, {
        bytes: data.length,
        limit: this.maxFrameBytes,
      });
    }
    this.#assertCanSend();
    return this.#sealFrame(FrameType.data, data);
  }

  /**
   * Seals the authenticated goodbye frame: the clean end of this direction. Later seal()
   * calls fail with CRYPTO_SESSION_CLOSED; open() still accepts the peer's remaining frames
   * up to its goodbye.
   */
  goodbye(): Uint8Array {
    this.#assertCanSend();
    const frame = this.#sealFrame(FrameType.goodbye, new Uint8Array(0));
    this.#sentGoodbye = true;
    wipe(this.#sendKey);
    if (this.#receivedGoodbye) wipe(this.#receiveKey);
    return frame;
  }

  /** Verifies and decrypts one frame. Any failure closes the session with that code. */
  open(frame: Uint8Array): OpenedFrame {
    if (this.#failure !== undefined || this.#receivedGoodbye || this.#destroyed) {
      throw cryptoError(CryptoErrorCode.SESSION_CLOSED, 'the session is closed', { reason: this.closeReason });
    }
    if (!(frame instanceof Uint8Array)) throw cryptoError(CryptoErrorCode.INVALID_ARGUMENT, 'a frame must be a Uint8Array');
    if (frame.length < FRAME_OVERHEAD_BYTES) {
      return this.#fail(CryptoErrorCode.FRAME_TRUNCATED, `frame of ${frame.length} bytes is shorter than the ${FRAME_OVERHEAD_BYTES} byte minimum`);
    }
    if (frame.length > this.maxFrameBytes + FRAME_OVERHEAD_BYTES) {
      return this.#fail(CryptoErrorCode.FRAME_TOO_LARGE, `frame of ${frame.length} bytes is over the ${this.maxFrameBytes} byte limit`);
    }
    const type = frame[0] as number;
    if (type !== FrameType.data && type !== FrameType.goodbye) {
      return this.#fail(CryptoErrorCode.FRAME_MALFORMED, `unknown frame type ${type}`);
    }
    const counter = readU64(frame, 1);
    const order = classifyCounter(counter, this.#receiveCounter);
    if (order === 'replay') {
      return this.#fail(CryptoErrorCode.FRAME_REPLAY, `frame counter ${counter} was already used (expected ${this.#receiveCounter})`);
    }
    if (order === 'reorder') {
      return this.#fail(CryptoErrorCode.FRAME_REORDER, `frame counter ${counter} skips ahead (expected ${this.#receiveCounter})`);
    }
    const nonce = frameNonce(this.#receiveDirection, type, counter);
    const data = secretboxOpen(frame.subarray(FRAME_HEADER_BYTES), nonce, this.#receiveKey);
    if (data === null) return this.#fail(CryptoErrorCode.DECRYPT_FAILED, 'frame failed authentication');
    this.#receiveCounter = counter + 1;
    if (type === FrameType.goodbye) {
      this.#receivedGoodbye = true;
      wipe(this.#receiveKey);
      if (this.#sentGoodbye) wipe(this.#sendKey);
      return { type: 'goodbye' };
    }
    return { type: 'data', data };
  }

  /** Ends the session without a goodbye (e.g. the transport dropped) and zeroes its keys. */
  destroy(): void {
    if (this.#failure === undefined && !this.#sentGoodbye && !this.#receivedGoodbye) this.#failure = CryptoErrorCode.SESSION_CLOSED;
    this.#destroyed = true;
    wipe(this.#sendKey, this.#receiveKey);
  }

  #assertCanSend(): void {
    if (this.#failure !== undefined || this.#sentGoodbye || this.#destroyed) {
      throw cryptoError(CryptoErrorCode.SESSION_CLOSED, 'the session is closed for sending', { reason: this.closeReason });
    }
    if (this.#sendCounter >= MAX_COUNTER) {
      throw cryptoError(CryptoErrorCode.SESSION_CLOSED, 'frame counter exhausted: start a new session');
    }
  }

  #sealFrame(type: number, data: Uint8Array): Uint8Array {
    const counter = this.#sendCounter++;
    const frame = new Uint8Array(FRAME_HEADER_BYTES + SECRETBOX_MAC_BYTES + data.length);
    frame[0] = type;
    writeU64(frame, 1, counter);
    secretboxSealInto(frame, FRAME_HEADER_BYTES, data, frameNonce(this.#sendDirection, type, counter), this.#sendKey);
    return frame;
  }

  #fail(code: CryptoErrorCodeValue, message: string): never {
    this.#failure = code;
    wipe(this.#sendKey, this.#receiveKey);
    throw cryptoError(code, message, { session: this.id });
  }
}
