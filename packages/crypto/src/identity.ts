import { createHash, randomBytes } from 'node:crypto';
import { fromBase64, fromBase64Url, toBase32, toBase64, toBase64Url, wipe } from './bytes.js';
import { CryptoErrorCode, cryptoError } from './errors.js';
import { SIGNATURE_BYTES, signDetached, signKeyPairFromSeed, verifyDetached } from './nacl.js';

export const PUBLIC_KEY_BYTES = 32;
export const SEED_BYTES = 32;

/**
 * The node's long-term Ed25519 identity (libsodium via sodium-native; the bytes of tweetnacl's nacl.sign). Signs only during handshakes.
 * The secret key lives in a private Buffer and is zeroed by close().
 */
export class NodeIdentity {
  readonly publicKey: Uint8Array;
  #secretKey: Uint8Array | undefined;

  private constructor(publicKey: Uint8Array, secretKey: Uint8Array) {
    this.publicKey = publicKey;
    this.#secretKey = secretKey;
  }

  /** Builds the identity from its 32-byte seed (the seed is copied, the caller may zero it). */
  static fromSeed(seed: Uint8Array): NodeIdentity {
    if (!(seed instanceof Uint8Array) || seed.length !== SEED_BYTES) {
      throw cryptoError(CryptoErrorCode.INVALID_ARGUMENT, 'an identity seed is 32 bytes');
    }
    const pair = signKeyPairFromSeed(seed);
    return new NodeIdentity(pair.publicKey, pair.secretKey);
  }

  /** A fresh random identity; returns its seed too, for storage (zero it after storing). */
  static generate(): { identity: NodeIdentity; seed: Buffer } {
    const seed = randomBytes(SEED_BYTES);
    return { identity: NodeIdentity.fromSeed(seed), seed };
  }

  /** base64url of the public key: what `peer add URL --key PUBKEY` takes on the other node. */
  get publicKeyText(): string {
    return encodePublicKey(this.publicKey);
  }

  get fingerprint(): string {
    return fingerprint(this.publicKey);
  }

  get isClosed(): boolean {
    return this.#secretKey === undefined;
  }

  /** Ed25519 detached signature (64 bytes). */
  sign(message: Uint8Array): Uint8Array {
    if (this.#secretKey === undefined) throw cryptoError(CryptoErrorCode.IDENTITY_CLOSED, 'the node identity was closed');
    return signDetached(message, this.#secretKey);
  }

  /** Zeroes the secret key; later sign() calls fail with CRYPTO_IDENTITY_CLOSED. */
  close(): void {
    wipe(this.#secretKey);
    this.#secretKey = undefined;
  }

  toJSON(): { publicKey: string; fingerprint: string } {
    return { publicKey: this.publicKeyText, fingerprint: this.fingerprint };
  }
}

export function verifySignature(message: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): boolean {
  return (
    signature instanceof Uint8Array &&
    publicKey instanceof Uint8Array &&
    message instanceof Uint8Array &&
    signature.length === SIGNATURE_BYTES &&
    publicKey.length === PUBLIC_KEY_BYTES &&
    verifyDetached(message, signature, publicKey)
  );
}

export function encodePublicKey(publicKey: Uint8Array): string {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== PUBLIC_KEY_BYTES) {
    throw cryptoError(CryptoErrorCode.BAD_PUBLIC_KEY, 'an Ed25519 public key is 32 bytes');
  }
  return toBase64Url(publicKey);
}

/** Parses a copy-pasted public key (43 base64url characters; surrounding whitespace ignored). */
export function parsePublicKey(text: unknown): Uint8Array {
  const bytes = typeof text === 'string' ? fromBase64Url(text.trim(), PUBLIC_KEY_BYTES) : undefined;
  if (!bytes) {
    throw cryptoError(CryptoErrorCode.BAD_PUBLIC_KEY, 'not a public key: expected 43 base64url characters (32 bytes)');
  }
  return bytes;
}

/**
 * Short human form of a public key: the first 80 bits of SHA-256(publicKey) in base32,
 * in four groups of four, e.g. `k3xq-7fne-2m4a-rv9c`. For eyeballing, not for allow lists
 * (allow lists hold the full key).
 */
export function fingerprint(publicKey: Uint8Array): string {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== PUBLIC_KEY_BYTES) {
    throw cryptoError(CryptoErrorCode.BAD_PUBLIC_KEY, 'an Ed25519 public key is 32 bytes');
  }
  const digest = createHash('sha256').update(publicKey).digest().subarray(0, 10);
  return toBase32(digest).match(/.{4}/gu)!.join('-');
}

/** identity.json (plaintext mode only): format, public key, seed. */
export const IDENTITY_FILE = 'identity.json';
const IDENTITY_FORMAT = 'profilesync-identity';

export function serializeIdentityFile(identity: NodeIdentity, seed: Uint8Array): string {
  const body = {
    format: IDENTITY_FORMAT,
    version: 1,
    algorithm: 'ed25519',
    publicKey: identity.publicKeyText,
    seed: toBase64(seed),
  };
  return `${JSON.stringify(body, null, 2)}\n`;
}

/** Parses identity.json; the stored public key must match the seed. Returns the seed (caller zeroes it). */
export function parseIdentityFile(text: string): Uint8Array {
  return parseIdentity(text).seed;
}

/**
 * The public key of identity.json, after the same checks as parseIdentityFile (format,
 * and that the stored key matches the seed). The seed is zeroed before returning.
 */
export function parseIdentityPublicKey(text: string): Uint8Array {
  const { seed, publicKey } = parseIdentity(text);
  wipe(seed);
  return publicKey;
}

function parseIdentity(text: string): { seed: Uint8Array; publicKey: Uint8Array } {
  const bad = (field: string): Error =>
    cryptoError(CryptoErrorCode.IDENTITY_CORRUPT, `identity file is malformed: ${field}`, { field });
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw bad('json');
  }
  if (typeof raw !== 'object' || raw === null) throw bad('root');
  const r = raw as Record<string, unknown>;
  if (r.format !== IDENTITY_FORMAT || r.version !== 1 || r.algorithm !== 'ed25519') throw bad('format');
  const seed = fromBase64(r.seed, SEED_BYTES);
  const publicKey = fromBase64Url(r.publicKey, PUBLIC_KEY_BYTES);
  if (!seed) throw bad('seed');
  if (!publicKey) throw bad('publicKey');
  const derived = signKeyPairFromSeed(seed);
  const matches = Buffer.from(derived.publicKey).equals(publicKey);
  wipe(derived.secretKey);
  if (!matches) {
    wipe(seed);
    throw bad('publicKey');
  }
  return { seed, publicKey };
}
