import { randomFillSync } from 'node:crypto';
import { GCM_NONCE_BYTES, GCM_TAG_BYTES, gcmOpen, gcmSealInto } from './aead.js';
import { concatBytes, utf8 } from './bytes.js';
import { CryptoErrorCode, cryptoError } from './errors.js';
import { hkdf } from './kdf.js';

/**
 * Sealed blobs: small secrets the node keeps in files outside the log (e.g. the admin
 * token file of an encrypted dir). Layout:
 *   version(1) = 1 | nonce(12, random) | AES-256-GCM ciphertext | tag(16)
 * Key: HKDF-SHA-256(master key, no salt, "profilesync/keyring/v1/blob") — the master key is
 * never rotated, so blobs stay openable across data key rotations and passphrase changes.
 * AAD: version(1) | UTF-8(purpose), so a blob sealed for one purpose never opens as another.
 */
export const BLOB_VERSION = 1;
export const BLOB_HEADER_BYTES = 1 + GCM_NONCE_BYTES;
/** bytes a sealed blob adds to its plaintext: 29 */
export const BLOB_OVERHEAD_BYTES = BLOB_HEADER_BYTES + GCM_TAG_BYTES;
/** purposes are short labels such as "admin-token" */
export const MAX_BLOB_PURPOSE_BYTES = 256;

export const blobKeyOf = (masterKey: Uint8Array): Buffer => hkdf('sha256', masterKey, new Uint8Array(0), 'profilesync/keyring/v1/blob', 32);

/** Pure policy: the AAD of a blob, or a CRYPTO_INVALID_ARGUMENT for a bad purpose. */
export function blobAad(version: number, purpose: unknown): Uint8Array {
  const label = typeof purpose === 'string' ? utf8(purpose) : undefined;
  if (!label || label.length === 0 || label.length > MAX_BLOB_PURPOSE_BYTES) {
    throw cryptoError(CryptoErrorCode.INVALID_ARGUMENT, `a blob purpose is a non-empty string of at most ${MAX_BLOB_PURPOSE_BYTES} bytes`);
  }
  return concatBytes(Uint8Array.of(version), label);
}

export function sealBlobWith(key: Uint8Array, purpose: string, plaintext: Uint8Array): Uint8Array {
  const aad = blobAad(BLOB_VERSION, purpose);
  if (!(plaintext instanceof Uint8Array)) throw cryptoError(CryptoErrorCode.INVALID_ARGUMENT, 'blob bytes must be a Uint8Array');
  const out = new Uint8Array(BLOB_OVERHEAD_BYTES + plaintext.length);
  out[0] = BLOB_VERSION;
  const nonce = out.subarray(1, BLOB_HEADER_BYTES);
  randomFillSync(nonce);
  gcmSealInto(key, nonce, aad, plaintext, out, BLOB_HEADER_BYTES);
  return out;
}

export function openBlobWith(key: Uint8Array, purpose: string, sealed: Uint8Array): Uint8Array {
  const aad = blobAad(BLOB_VERSION, purpose);
  if (!(sealed instanceof Uint8Array)) throw cryptoError(CryptoErrorCode.INVALID_ARGUMENT, 'a sealed blob must be a Uint8Array');
  if (sealed.length < BLOB_OVERHEAD_BYTES) {
    throw cryptoError(CryptoErrorCode.AUTH_FAILED, 'sealed blob is truncated', { purpose, length: sealed.length });
  }
  if (sealed[0] !== BLOB_VERSION) {
    throw cryptoError(CryptoErrorCode.UNSUPPORTED_FORMAT, `unknown sealed blob version ${sealed[0]}`, { purpose });
  }
  const plaintext = gcmOpen(key, sealed.subarray(1, BLOB_HEADER_BYTES), aad, sealed.subarray(BLOB_HEADER_BYTES));
  if (!plaintext) {
    throw cryptoError(CryptoErrorCode.AUTH_FAILED, 'sealed blob failed authentication (tampered, another purpose or another keyring)', { purpose });
  }
  return plaintext;
}
