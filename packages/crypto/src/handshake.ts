import { createHash, createHmac } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { bytesEqual, concatBytes, toBase64Url, utf8, wipe } from './bytes.js';
import { CryptoErrorCode, cryptoError, type CryptoErrorCodeValue } from './errors.js';
import { encodePublicKey, fingerprint, parsePublicKey, verifySignature, type NodeIdentity } from './identity.js';
import { hkdf } from './kdf.js';
import { x25519, x25519KeyPair } from './nacl.js';
import { SECRETBOX_MAC_BYTES, SECRETBOX_NONCE_BYTES, secretboxOpen, secretboxSeal } from './secretbox.js';
import { SecureSession, type Role, type SessionOptions } from './session.js';

/**
 * Peer handshake: three messages, transport-agnostic (bytes in, bytes out).
 *
 *   initiator                                          responder
 *   hello   V|1|a_eph|HMAC(networkKey, V|1|a_eph)   -->
 *                                                   <--  reply  V|2|b_eph|box_k2(B|sig_B(h1))
 *   finish  V|3|box_k3(A|sig_A(h2|B))               -->
 *
 * ee = X25519(a_eph, b_eph); h1 = SHA-512(label|networkKey|hello|b_eph);
 * h2 = SHA-512(h1|reply); h3 = SHA-512(h2|finish); k2, k3 and the two session keys come
 * from HKDF-SHA-512 over ee salted with h1, h2, h3. docs/security.md has the full design.
 */
export const HANDSHAKE_VERSION = 1;
export const HELLO_BYTES = 2 + 32 + 32;
export const REPLY_BYTES = 2 + 32 + 32 + 64 + SECRETBOX_MAC_BYTES;
export const FINISH_BYTES = 2 + 32 + 64 + SECRETBOX_MAC_BYTES;

const LABEL = 'profilesync/handshake/v1';
const MSG_HELLO = 1;
const MSG_REPLY = 2;
const MSG_FINISH = 3;
const ZERO_NONCE = new Uint8Array(SECRETBOX_NONCE_BYTES);

/** Derives a 32-byte network key from a deployment name; peers with different keys cannot talk. */
export function networkKeyFor(name: string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(`profilesync/network/v1/${name}`, 'utf8').digest());
}

/** The network key used when none is configured. */
export const DEFAULT_NETWORK_KEY: Uint8Array = networkKeyFor('default');

export type AllowPolicy = (peerPublicKey: Uint8Array) => boolean;

/** An allow list of Ed25519 public keys (bytes or base64url text) as an AllowPolicy; a malformed key throws CRYPTO_BAD_PUBLIC_KEY. */
export function allowList(keys: Iterable<Uint8Array | string>): AllowPolicy {
  const set = new Set<string>();
  for (const k of keys) set.add(encodePublicKey(typeof k === 'string' ? parsePublicKey(k) : k));
  return (peerPublicKey) => set.has(toBase64Url(peerPublicKey));
}

/**
 * Remembers the ephemeral keys of recent hellos (FIFO, bounded) so a responder rejects a
 * replayed hello with CRYPTO_HANDSHAKE_REPLAY. Share one guard across all handshakes of a server.
 */
export class HandshakeReplayGuard {
  readonly capacity: number;
  #seen = new Set<string>();

  constructor(opts: { capacity?: number } = {}) {
    this.capacity = opts.capacity ?? 65_536;
    if (!Number.isSafeInteger(this.capacity) || this.capacity < 1) throw cryptoError(CryptoErrorCode.INVALID_ARGUMENT, 'capacity must be a positive integer');
  }

  /** true when `ephemeral` is new (and now remembered); false when it was seen before */
  remember(ephemeral: Uint8Array): boolean {
    const key = toBase64Url(ephemeral);
    if (this.#seen.has(key)) return false;
    this.#seen.add(key);
    if (this.#seen.size > this.capacity) this.#seen.delete(this.#seen.values().next().value as string);
    return true;
  }

  get size(): number {
    return this.#seen.size;
  }
}

export interface HandshakeOptions {
  identity: NodeIdentity;
  /** the allow list: whether the peer's static public key may connect */
  isAllowed: AllowPolicy;
  /** 32 bytes shared by every node of a deployment (default DEFAULT_NETWORK_KEY) */
  networkKey?: Uint8Array;
  session?: SessionOptions;
}

export interface ResponderOptions extends HandshakeOptions {
  replayGuard?: HandshakeReplayGuard;
}

export interface HandshakeResult {
  session: SecureSession;
  peerPublicKey: Uint8Array;
  peerFingerprint: string;
  durationMillis: number;
}

const transcriptHash = (...parts: Uint8Array[]): Uint8Array => {
  const h = createHash('sha512');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};

const helloMac = (networkKey: Uint8Array, head: Uint8Array): Uint8Array =>
  new Uint8Array(createHmac('sha256', networkKey).update(`${LABEL}/hello`, 'utf8').update(head).digest());

/** Shared state and checks of both roles. */
abstract class HandshakeBase {
  protected readonly identity: NodeIdentity;
  protected readonly isAllowed: AllowPolicy;
  protected readonly networkKey: Uint8Array;
  protected readonly sessionOptions: SessionOptions;
  protected readonly ephemeral = x25519KeyPair();
  protected ee: Uint8Array | undefined;
  protected step = 0;
  protected failed = false;
  protected started = 0;

  constructor(opts: HandshakeOptions) {
    if (!opts || typeof opts.isAllowed !== 'function' || !opts.identity) {
      throw cryptoError(CryptoErrorCode.INVALID_ARGUMENT, 'a handshake needs { identity, isAllowed }');
    }
    const networkKey = opts.networkKey ?? DEFAULT_NETWORK_KEY;
    if (!(networkKey instanceof Uint8Array) || networkKey.length !== 32) {
      throw cryptoError(CryptoErrorCode.INVALID_ARGUMENT, 'a network key is 32 bytes');
    }
    this.identity = opts.identity;
    this.isAllowed = opts.isAllowed;
    this.networkKey = networkKey;
    this.sessionOptions = opts.session ?? {};
  }

  protected expectStep(step: number, what: string): void {
    if (this.failed || this.step !== step) {
      throw cryptoError(CryptoErrorCode.HANDSHAKE_FAILED, `handshake step out of order: ${what}`);
    }
  }

  /** Checks version, type and length of a received message. */
  protected checkMessage(message: Uint8Array, type: number, length: number): void {
    if (!(message instanceof Uint8Array) || message.length < 2) this.fail(CryptoErrorCode.HANDSHAKE_FAILED, 'handshake message too short');
    if (message[0] !== HANDSHAKE_VERSION) {
      this.fail(CryptoErrorCode.VERSION_MISMATCH, `peer speaks handshake version ${message[0]}, this node ${HANDSHAKE_VERSION}`, {
        peerVersion: message[0],
        version: HANDSHAKE_VERSION,
      });
    }
    if (message[1] !== type || message.length !== length) this.fail(CryptoErrorCode.HANDSHAKE_FAILED, `malformed handshake message (expected type ${type})`);
  }

  protected computeShared(peerEphemeral: Uint8Array): void {
    const ee = x25519(this.ephemeral.secretKey, peerEphemeral);
    wipe(this.ephemeral.secretKey);
    if (ee === null) this.fail(CryptoErrorCode.HANDSHAKE_FAILED, 'peer ephemeral key is a low-order point');
    this.ee = ee;
  }

  protected key(salt: Uint8Array, purpose: string, length = 32): Buffer {
    return hkdf('sha512', this.ee as Uint8Array, salt, `${LABEL}/${purpose}`, length);
  }

  /** Verifies the peer's signature, then the allow list. */
  protected authenticatePeer(peerPublicKey: Uint8Array, signature: Uint8Array, signed: Uint8Array): void {
    if (!verifySignature(signed, signature, peerPublicKey)) this.fail(CryptoErrorCode.HANDSHAKE_FAILED, 'peer signature over the transcript is invalid');
    let allowed: boolean;
    try {
      allowed = this.isAllowed(peerPublicKey) === true;
    } catch (err) {
      this.failed = true;
      wipe(this.ee);
      throw err;
    }
    if (!allowed) {
      this.fail(CryptoErrorCode.PEER_UNKNOWN, `peer ${fingerprint(peerPublicKey)} is not on the allow list`, {
        peerFingerprint: fingerprint(peerPublicKey),
      });
    }
  }

  protected makeResult(role: Role, h3: Uint8Array, peerPublicKey: Uint8Array): HandshakeResult {
    const keys = this.key(h3, 'session', 64);
    const i2r = new Uint8Array(keys.subarray(0, 32));
    const r2i = new Uint8Array(keys.subarray(32, 64));
    wipe(keys, this.ee);
    this.ee = undefined;
    this.step = 99;
    const id = Buffer.from(h3.subarray(0, 16)).toString('hex');
    const session = role === 'initiator' ? new SecureSession(role, i2r, r2i, id, this.sessionOptions) : new SecureSession(role, r2i, i2r, id, this.sessionOptions);
    return {
      session,
      peerPublicKey: new Uint8Array(peerPublicKey),
      peerFingerprint: fingerprint(peerPublicKey),
      durationMillis: performance.now() - this.started,
    };
  }

  protected fail(code: CryptoErrorCodeValue, message: string, details?: Record<string, unknown>): never {
    this.failed = true;
    wipe(this.ephemeral.secretKey, this.ee);
    this.ee = undefined;
    throw cryptoError(code, message, details);
  }
}

export class HandshakeInitiator extends HandshakeBase {
  #hello: Uint8Array | undefined;

  /** Message 1. */
  hello(): Uint8Array {
    this.expectStep(0, 'hello() must come first');
    this.started = performance.now();
    const head = new Uint8Array([HANDSHAKE_VERSION, MSG_HELLO, ...this.ephemeral.publicKey]);
    this.#hello = concatBytes(head, helloMac(this.networkKey, head));
    this.step = 1;
    return this.#hello;
  }

  /** Takes message 2, returns message 3 to send and the established session. */
  finish(reply: Uint8Array): { message: Uint8Array; result: HandshakeResult } {
    this.expectStep(1, 'finish() needs hello() first');
    this.checkMessage(reply, MSG_REPLY, REPLY_BYTES);
    const hello = this.#hello as Uint8Array;
    const peerEphemeral = reply.subarray(2, 34);
    this.computeShared(peerEphemeral);
    const h1 = transcriptHash(utf8(LABEL), this.networkKey, hello, peerEphemeral);
    const k2 = this.key(h1, 'k2');
    const opened = secretboxOpen(reply.subarray(34), ZERO_NONCE, k2);
    wipe(k2);
    if (!opened) this.fail(CryptoErrorCode.HANDSHAKE_FAILED, 'handshake reply failed authentication');
    const responderKey = opened.subarray(0, 32);
    this.authenticatePeer(responderKey, opened.subarray(32, 96), concatBytes(utf8(`${LABEL}/responder`), h1));

    const h2 = transcriptHash(h1, reply);
    const signature = this.identity.sign(concatBytes(utf8(`${LABEL}/initiator`), h2, responderKey));
    const k3 = this.key(h2, 'k3');
    const box = secretboxSeal(concatBytes(this.identity.publicKey, signature), ZERO_NONCE, k3);
    wipe(k3);
    const message = concatBytes(new Uint8Array([HANDSHAKE_VERSION, MSG_FINISH]), box);
    const h3 = transcriptHash(h2, message);
    return { message, result: this.makeResult('initiator', h3, responderKey) };
  }
}

export class HandshakeResponder extends HandshakeBase {
  readonly #replayGuard: HandshakeReplayGuard | undefined;
  #h2: Uint8Array | undefined;

  constructor(opts: ResponderOptions) {
    super(opts);
    this.#replayGuard = opts.replayGuard;
  }

  /** Takes message 1, returns message 2. */
  reply(hello: Uint8Array): Uint8Array {
    this.expectStep(0, 'reply() takes the first message');
    this.started = performance.now();
    this.checkMessage(hello, MSG_HELLO, HELLO_BYTES);
    if (!bytesEqual(hello.subarray(34), helloMac(this.networkKey, hello.subarray(0, 34)))) {
      this.fail(CryptoErrorCode.NETWORK_MISMATCH, 'hello is not authenticated by this network key (another deployment, or corrupted)');
    }
    const peerEphemeral = hello.subarray(2, 34);
    if (this.#replayGuard && !this.#replayGuard.remember(peerEphemeral)) {
      this.fail(CryptoErrorCode.HANDSHAKE_REPLAY, 'hello replays an ephemeral key already seen');
    }
    this.computeShared(peerEphemeral);
    const h1 = transcriptHash(utf8(LABEL), this.networkKey, hello, this.ephemeral.publicKey);
    const signature = this.identity.sign(concatBytes(utf8(`${LABEL}/responder`), h1));
    const k2 = this.key(h1, 'k2');
    const box = secretboxSeal(concatBytes(this.identity.publicKey, signature), ZERO_NONCE, k2);
    wipe(k2);
    const message = concatBytes(new Uint8Array([HANDSHAKE_VERSION, MSG_REPLY]), this.ephemeral.publicKey, box);
    this.#h2 = transcriptHash(h1, message);
    this.step = 1;
    return message;
  }

  /** Takes message 3; returns the established session once the initiator is authenticated and allowed. */
  finish(message: Uint8Array): HandshakeResult {
    this.expectStep(1, 'finish() needs reply() first');
    this.checkMessage(message, MSG_FINISH, FINISH_BYTES);
    const h2 = this.#h2 as Uint8Array;
    const k3 = this.key(h2, 'k3');
    const opened = secretboxOpen(message.subarray(2), ZERO_NONCE, k3);
    wipe(k3);
    if (!opened) this.fail(CryptoErrorCode.HANDSHAKE_FAILED, 'handshake finish failed authentication');
    const initiatorKey = opened.subarray(0, 32);
    this.authenticatePeer(initiatorKey, opened.subarray(32, 96), concatBytes(utf8(`${LABEL}/initiator`), h2, this.identity.publicKey));
    return this.makeResult('responder', transcriptHash(h2, message), initiatorKey);
  }
}
