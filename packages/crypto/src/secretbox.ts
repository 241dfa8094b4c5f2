import sodium from 'sodium-native';

/**
 * XSalsa20-Poly1305 secretbox (the exact construction of nacl.secretbox, byte for byte),
 * computed by libsodium through sodium-native (prebuilt native binding). tweetnacl's pure-JS
 * secretbox runs at a fraction of its speed (see docs/benchmarks.md, crypto-frame-throughput),
 * and frames are the hot path of peer sync. Keys and signatures stay on tweetnacl (handshake only).
 */
/** sodium-native takes any Uint8Array (no copy); its types say Buffer. */
export const buf = (u: Uint8Array): Buffer => u as Buffer;

export const SECRETBOX_KEY_BYTES = 32;
export const SECRETBOX_NONCE_BYTES = 24;
export const SECRETBOX_MAC_BYTES = 16;

/**
 * Seals `message` into `out` at `offset`: MAC(16) | ciphertext, identical to
 * nacl.secretbox(message, nonce, key). `out` needs message.length + 16 bytes from `offset`.
 */
export function secretboxSealInto(out: Uint8Array, offset: number, message: Uint8Array, nonce: Uint8Array, key: Uint8Array): void {
  sodium.crypto_secretbox_easy(buf(out.subarray(offset, offset + message.length + SECRETBOX_MAC_BYTES)), buf(message), buf(nonce), buf(key));
}

/** Seals `message`: MAC(16) | ciphertext, identical to nacl.secretbox(message, nonce, key). */
export function secretboxSeal(message: Uint8Array, nonce: Uint8Array, key: Uint8Array): Uint8Array {
  const out = new Uint8Array(message.length + SECRETBOX_MAC_BYTES);
  secretboxSealInto(out, 0, message, nonce, key);
  return out;
}

/** Opens a box; null when authentication fails (like nacl.secretbox.open). */
export function secretboxOpen(box: Uint8Array, nonce: Uint8Array, key: Uint8Array): Uint8Array | null {
  if (box.length < SECRETBOX_MAC_BYTES) return null;
  const out = new Uint8Array(box.length - SECRETBOX_MAC_BYTES);
  return sodium.crypto_secretbox_open_easy(buf(out), buf(box), buf(nonce), buf(key)) ? out : null;
}
