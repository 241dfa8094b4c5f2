import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import type { BatchSealer, LogCodec, Place, RecordKind } from '@profilesync/log';
import { GCM_NONCE_BYTES, GCM_TAG_BYTES, NoncePool, gcmOpen } from './aead.js';
import { readU32, writeU32, writeU64 } from './bytes.js';
import { BLOCKS_PER_NONCE, CTR_IV_BYTES, CTR_NONCE_BYTES, CtrPolyBatch, POLY_TAG_BYTES, ctrPolyOpen, regionBytes } from './ctr-poly.js';
import { hkdf } from './kdf.js';
import { CryptoErrorCode, cryptoError } from './errors.js';
import { materialOf, type KeyMaterial } from './key-material.js';
import type { Keyring } from './keyring.js';

/**
 * Codec id stored by the log at creation; a DB made with it cannot be opened without it. It names
 * the keyring-based at-rest codec; each record carries its own version byte (1 or 2, below), and
 * this codec reads both, so the id did not change when version 2 came.
 */
export const AT_REST_CODEC_ID = 'aes-256-gcm/v1';
/** the version new records are written with: AES-256-CTR + Poly1305, one nonce per write batch */
export const RECORD_VERSION = 2;
/** the version written until 2026-12: AES-256-GCM with a random nonce per record (still read) */
export const RECORD_VERSION_GCM = 1;
/** version 2: version(1) + key id(4) + iv(16) = nonce(12) | first block counter(4) */
export const RECORD_HEADER_BYTES = 1 + 4 + CTR_IV_BYTES;
/** bytes a version-2 record grows by: header + Poly1305 tag = 37 */
export const RECORD_OVERHEAD_BYTES = RECORD_HEADER_BYTES + POLY_TAG_BYTES;
/** version 1: version(1) + key id(4) + nonce(12) */
const GCM_HEADER_BYTES = 1 + 4 + GCM_NONCE_BYTES;
/** bytes a version-1 record grows by: 33 */
export const RECORD_OVERHEAD_BYTES_GCM = GCM_HEADER_BYTES + GCM_TAG_BYTES;
/** HKDF label of the version-2 record key (derived from each data key) */
const V2_KEY_INFO = 'profilesync/at-rest/v2/aes-256-ctr+poly1305';

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
  /** RECORD_OVERHEAD_BYTES: every new record is its plaintext + 37 bytes */
  readonly overhead: number;
  /** encode() written into out[offset, offset + plaintext.length + 37) (the log seals in place) */
  encodeInto(place: Place, plaintext: Uint8Array, out: Uint8Array, offset: number): void;
  /** seals the records of one write batch together: one nonce and one AES-256-CTR call per batch */
  batchSealer(): BatchSealer;
}

/**
 * Pure: the authenticated data of a record, 18 bytes:
 * version(1) | key id(4, BE) | kind code(1) | stream(4, BE) | seq(8, BE).
 */
export function recordAad(version: number, keyId: number, place: Place): Uint8Array {
  return recordAadInto(new Uint8Array(18), version, keyId, place);
}

/** KIND_CODES as a switch: no keyed property lookup per record on the commit path. */
function kindCode(kind: unknown): number {
  switch (kind) {
    case 'entry': return 1;
    case 'view': return 2;
    case 'snapshot': return 3;
    case 'catalog': return 4;
    case 'aux': return 5;
    default: return 0;
  }
}

/** The kind code of a valid place; CRYPTO_INVALID_ARGUMENT for anything else. */
function checkPlace(place: Place): number {
  const kind = typeof place === 'object' && place !== null ? kindCode(place.kind) : 0;
  // (x >>> 0) === x: an integer number in [0, 2^32)
  if (kind === 0 || (place.stream >>> 0) !== place.stream || !Number.isSafeInteger(place.seq) || place.seq < 0) {
    throw cryptoError(CryptoErrorCode.INVALID_ARGUMENT, 'a place is { kind, stream: u32, seq: non-negative safe integer }', {
      kind: String(place?.kind),
    });
  }
  return kind;
}

/** recordAad written into `aad` (18 bytes; the codec reuses one buffer: setAAD copies it). */
function recordAadInto(aad: Uint8Array, version: number, keyId: number, place: Place): Uint8Array {
  const kind = checkPlace(place);
  const { stream, seq } = place;
  aad[0] = version;
  writeU32(aad, 1, keyId);
  aad[5] = kind;
  writeU32(aad, 6, stream);
  writeU64(aad, 10, seq);
  return aad;
}

/**
 * The at-rest codec. New records (version 2, see ctr-poly.ts) are
 *   version(1) = 2 | key id(4) | iv(16) = nonce(12) | block counter(4) | AES-256-CTR ciphertext | Poly1305 tag(16)
 * Version-1 records (written before; entries are never rewritten, their chain hash covers them)
 *   version(1) = 1 | key id(4) | nonce(12) | AES-256-GCM ciphertext | tag(16)
 * are still read. Either way the place (kind, stream, seq), the version and the key id are
 * authenticated data. New records use the keyring's active key; any key the keyring holds decrypts.
 */
export function createAtRestCodec(keyring: Keyring): AtRestCodec {
  const material = materialOf(keyring);
  if (!material) throw cryptoError(CryptoErrorCode.INVALID_ARGUMENT, 'createAtRestCodec needs a Keyring from initKeyring/unlockKeyring');
  const nonces = new NoncePool();
  const aad = new Uint8Array(18);
  /**
   * KeyObjects made once per data key buffer: the key itself (version 1, AES-256-GCM) and the
   * version-2 key HKDF-derived from it. Looked up through the keyring's own map each time (a key
   * it no longer holds is gone here too); dropped as soon as the keyring is seen closed.
   */
  let gcmKeys = new WeakMap<Buffer, KeyObject>();
  let ctrKeys = new WeakMap<Buffer, KeyObject>();
  const live = (): KeyMaterial => {
    if (material.closed) {
      gcmKeys = new WeakMap();
      ctrKeys = new WeakMap();
      throw cryptoError(CryptoErrorCode.KEYRING_CLOSED, 'the keyring was closed');
    }
    return material;
  };
  const gcmKey = (m: KeyMaterial, keyId: number): KeyObject | undefined => {
    const raw = m.dataKeys.get(keyId);
    if (raw === undefined) return undefined;
    let k = gcmKeys.get(raw);
    if (k === undefined) {
      k = createSecretKey(raw);
      gcmKeys.set(raw, k);
    }
    return k;
  };
  const ctrKey = (m: KeyMaterial, keyId: number): KeyObject | undefined => {
    const raw = m.dataKeys.get(keyId);
    if (raw === undefined) return undefined;
    let k = ctrKeys.get(raw);
    if (k === undefined) {
      const derived = hkdf('sha256', raw, new Uint8Array(0), V2_KEY_INFO, 32);
      k = createSecretKey(derived);
      derived.fill(0);
      ctrKeys.set(raw, k);
    }
    return k;
  };

  /**
   * A sealer for one batch: add() checks a record, writes its header (the iv is this batch's
   * nonce and the record's own first block counter) and queues it; seal() encrypts all of
   * them with one keystream. Records of one sealer use the data key active when it was made.
   */
  const makeSealer = (): BatchSealer => {
    const m = live();
    const keyId = m.activeKeyId;
    const key = ctrKey(m, keyId) as KeyObject;
    const done: CtrPolyBatch[] = [];
    let current = new CtrPolyBatch(nonces.next(), RECORD_VERSION, keyId);
    let sealed = false;
    return {
      add(place: Place, plaintext: Uint8Array, out: Uint8Array, offset: number): void {
        if (sealed) throw cryptoError(CryptoErrorCode.INVALID_ARGUMENT, 'this batch was already sealed');
        if (material.closed) live();
        if (!(plaintext instanceof Uint8Array)) throw cryptoError(CryptoErrorCode.INVALID_ARGUMENT, 'plaintext must be a Uint8Array');
        if (!(out instanceof Uint8Array) || !Number.isSafeInteger(offset) || offset < 0 || out.length - offset < RECORD_OVERHEAD_BYTES + plaintext.length) {
          throw cryptoError(CryptoErrorCode.INVALID_ARGUMENT, `out needs plaintext.length + ${RECORD_OVERHEAD_BYTES} bytes from offset`);
        }
        const kind = checkPlace(place);
        if ((current.total + regionBytes(plaintext.length)) / 16 > BLOCKS_PER_NONCE) {
          // the low 32 bits of the counter would wrap: the rest of the batch gets a new nonce
          done.push(current);
          current = new CtrPolyBatch(nonces.next(), RECORD_VERSION, keyId);
        }
        const counter = current.add(plaintext, out, offset + RECORD_HEADER_BYTES, kind, place.stream, place.seq);
        out[offset] = RECORD_VERSION;
        writeU32(out, offset + 1, keyId);
        out.set(current.nonce, offset + 5);
        writeU32(out, offset + 5 + CTR_NONCE_BYTES, counter);
      },
      seal(): void {
        if (sealed) return;
        sealed = true;
        live();
        done.push(current);
        for (const b of done) b.seal(key);
      },
    };
  };

  const sealInto = (place: Place, plaintext: Uint8Array, out: Uint8Array, offset: number): void => {
    const sealer = makeSealer();
    sealer.add(place, plaintext, out, offset);
    sealer.seal();
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

    batchSealer: makeSealer,

    decode(place: Place, stored: Uint8Array): Uint8Array {
      const m = live();
      const where = { kind: place?.kind, stream: place?.stream, seq: place?.seq };
      if (!(stored instanceof Uint8Array) || stored.length < 1) {
        throw cryptoError(CryptoErrorCode.AUTH_FAILED, 'encrypted record is truncated', where);
      }
      const version = stored[0];
      if (version !== RECORD_VERSION && version !== RECORD_VERSION_GCM) {
        throw cryptoError(CryptoErrorCode.UNSUPPORTED_FORMAT, `unknown encrypted record version ${version}`, where);
      }
      const v2 = version === RECORD_VERSION;
      if (stored.length < (v2 ? RECORD_OVERHEAD_BYTES : RECORD_OVERHEAD_BYTES_GCM)) {
        throw cryptoError(CryptoErrorCode.AUTH_FAILED, 'encrypted record is truncated', where);
      }
      const keyId = readU32(stored, 1);
      const key = v2 ? ctrKey(m, keyId) : gcmKey(m, keyId);
      if (!key) throw cryptoError(CryptoErrorCode.UNKNOWN_KEY, `record needs data key ${keyId}, which this keyring does not hold`, { ...where, keyId });
      let plaintext: Uint8Array | undefined;
      if (v2) {
        const kind = checkPlace(place);
        plaintext = ctrPolyOpen(key, stored.subarray(5, RECORD_HEADER_BYTES), stored.subarray(RECORD_HEADER_BYTES), version, keyId, kind, place.stream, place.seq);
      } else {
        recordAadInto(aad, version, keyId, place);
        plaintext = gcmOpen(key, stored.subarray(5, GCM_HEADER_BYTES), aad, stored.subarray(GCM_HEADER_BYTES));
      }
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
