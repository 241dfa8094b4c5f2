import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import type { LogCodec, Place, RecordKind } from '@profilesync/log';
import { GCM_NONCE_BYTES, GCM_TAG_BYTES, NoncePool, gcmOpen, gcmSealInto } from './aead.js';
import { readU32, writeU32, writeU64 } from './bytes.js';
import { CryptoErrorCode, cryptoError } from './errors.js';
import { materialOf, type KeyMaterial } from './key-material.js';
import type { Keyring } from './keyring.js';

/** Codec id stored by the log at creation; a DB made with it cannot be opened without it. */
export const AT_REST_CODEC_ID = 'aes-256-gcm/v1';
export const RECORD_VERSION = 1;
/** version(1) + key id(4) + nonce(12) */
export const RECORD_HEADER_BYTES = 1 + 4 + GCM_NONCE_BYTES;
/** bytes a record grows by: header + GCM tag = 33 */
export const RECORD_OVERHEAD_BYTES = RECORD_HEADER_BYTES + GCM_TAG_BYTES;

/** Stable one-byte codes of record kinds (bound into the AAD; never renumber). */
export const KIND_CODES: Readonly<Record<RecordKind, number>> = Object.freeze({
  entry: 1,
  view: 2,
  snapshot: 3,
  catalog: 4,
  aux: 5,
});

export interface AtRestCodec extends LogCodec {
  /** HMAC-SHA-256 of `name` under the keyring's name key: a stable, opaque LevelDB key part. */
  keyFor(name: string): Uint8Array;
  /** RECORD_OVERHEAD_BYTES: every record is its plaintext + 33 bytes */
  readonly overhead: number;
  /** encode() written into out[offset, offset + plaintext.length + 33) (the log seals in place) */
  encodeInto(place: Place, plaintext: Uint8Array, out: Uint8Array, offset: number): void;
}

/**
 * Pure: the authenticated data of a record, 18 bytes:
 * version(1) | key id(4, BE) | kind code(1) | stream(4, BE) | seq(8, BE).
 */
export function recordAad(version: number, keyId: number, place: Place): Uint8Array {
  return recordAadInto(new Uint8Array(18), version, keyId, place);
}

/** recordAad written into `aad` (18 bytes; the codec reuses one buffer: setAAD copies it). */
function recordAadInto(aad: Uint8Array, version: number, keyId: number, place: Place): Uint8Array {
  const kind = KIND_CODES[place?.kind];
  const { stream, seq } = place ?? {};
  if (kind === undefined || !Number.isInteger(stream) || stream < 0 || stream > 0xffff_ffff || !Number.isSafeInteger(seq) || seq < 0) {
    throw cryptoError(CryptoErrorCode.INVALID_ARGUMENT, 'a place is { kind, stream: u32, seq: non-negative safe integer }', {
      kind: String(place?.kind),
    });
  }
  aad[0] = version;
  writeU32(aad, 1, keyId);
  aad[5] = kind;
  writeU32(aad, 6, stream);
  writeU64(aad, 10, seq);
  return aad;
}

/**
 * The at-rest codec: every stored payload becomes
 *   version(1) | key id(4) | nonce(12) | AES-256-GCM ciphertext | tag(16)
 * with the place (kind, stream, seq), the version and the key id as authenticated data.
 * New records use the keyring's active key; any key the keyring holds decrypts.
 */
export function createAtRestCodec(keyring: Keyring): AtRestCodec {
  const material = materialOf(keyring);
  if (!material) throw cryptoError(CryptoErrorCode.INVALID_ARGUMENT, 'createAtRestCodec needs a Keyring from initKeyring/unlockKeyring');
  const nonces = new NoncePool();
  const aad = new Uint8Array(18);
  /**
   * KeyObjects of the data keys, made once per key buffer (createCipheriv with a KeyObject skips
   * re-importing the raw key on every record). Dropped as soon as the keyring is seen closed.
   */
  let keyObjects = new WeakMap<Buffer, KeyObject>();
  const live = (): KeyMaterial => {
    if (material.closed) {
      keyObjects = new WeakMap();
      throw cryptoError(CryptoErrorCode.KEYRING_CLOSED, 'the keyring was closed');
    }
    return material;
  };
  const keyObject = (m: KeyMaterial, keyId: number): KeyObject | undefined => {
    // looked up through the keyring's own map each time: a key it no longer holds is gone here too
    const raw = m.dataKeys.get(keyId);
    if (raw === undefined) return undefined;
    let k = keyObjects.get(raw);
    if (k === undefined) {
      k = createSecretKey(raw);
      keyObjects.set(raw, k);
    }
    return k;
  };
  const sealInto = (place: Place, plaintext: Uint8Array, out: Uint8Array, offset: number): void => {
    const m = live();
    if (!(plaintext instanceof Uint8Array)) throw cryptoError(CryptoErrorCode.INVALID_ARGUMENT, 'plaintext must be a Uint8Array');
    if (!(out instanceof Uint8Array) || !Number.isSafeInteger(offset) || offset < 0 || out.length - offset < RECORD_OVERHEAD_BYTES + plaintext.length) {
      throw cryptoError(CryptoErrorCode.INVALID_ARGUMENT, 'out needs plaintext.length + 33 bytes from offset');
    }
    const keyId = m.activeKeyId;
    const key = keyObject(m, keyId) as KeyObject;
    recordAadInto(aad, RECORD_VERSION, keyId, place);
    out[offset] = RECORD_VERSION;
    writeU32(out, offset + 1, keyId);
    const nonce = out.subarray(offset + 5, offset + RECORD_HEADER_BYTES);
    nonce.set(nonces.next());
    gcmSealInto(key, nonce, aad, plaintext, out, offset + RECORD_HEADER_BYTES);
  };

  return {
    id: AT_REST_CODEC_ID,

    overhead: RECORD_OVERHEAD_BYTES,

    encode(place: Place, plaintext: Uint8Array): Uint8Array {
      if (!(plaintext instanceof Uint8Array)) {
        live();
        throw cryptoError(CryptoErrorCode.INVALID_ARGUMENT, 'plaintext must be a Uint8Array');
      }
      const out = new Uint8Array(RECORD_OVERHEAD_BYTES + plaintext.length);
      sealInto(place, plaintext, out, 0);
      return out;
    },

    encodeInto: sealInto,

    decode(place: Place, stored: Uint8Array): Uint8Array {
      const m = live();
      const where = { kind: place?.kind, stream: place?.stream, seq: place?.seq };
      if (!(stored instanceof Uint8Array) || stored.length < RECORD_OVERHEAD_BYTES) {
        throw cryptoError(CryptoErrorCode.AUTH_FAILED, 'encrypted record is truncated', where);
      }
      if (stored[0] !== RECORD_VERSION) {
        throw cryptoError(CryptoErrorCode.UNSUPPORTED_FORMAT, `unknown encrypted record version ${stored[0]}`, where);
      }
      const keyId = readU32(stored, 1);
      const key = keyObject(m, keyId);
      if (!key) throw cryptoError(CryptoErrorCode.UNKNOWN_KEY, `record needs data key ${keyId}, which this keyring does not hold`, { ...where, keyId });
      recordAadInto(aad, RECORD_VERSION, keyId, place);
      const plaintext = gcmOpen(key, stored.subarray(5, RECORD_HEADER_BYTES), aad, stored.subarray(RECORD_HEADER_BYTES));
      if (!plaintext) throw cryptoError(CryptoErrorCode.AUTH_FAILED, 'encrypted record failed authentication (tampered or moved)', where);
      return plaintext;
    },

    keyFor(name: string): Uint8Array {
      const m = live();
      if (typeof name !== 'string') throw cryptoError(CryptoErrorCode.INVALID_ARGUMENT, 'a name must be a string');
      const mac = createHmac('sha256', m.nameKey).update('profilesync/name/v1\0', 'utf8').update(name, 'utf8').digest();
      return new Uint8Array(mac.buffer, mac.byteOffset, mac.byteLength);
    },
  };
}
