import sodium from 'libsodium-wrappers';

/**
 * XSalsa20-Poly1305 secretbox (the exact construction of nacl.secretbox, byte for byte),
 * computed by libsodium compiled to WebAssembly. tweetnacl's pure-JS secretbox runs at about a
 * third of the speed (see docs/benchmarks.md, crypto-frame-throughput), and frames are the
 * hot path of peer sync. Keys and signatures stay on tweetnacl (handshake only).
 */
await sodium.ready;

export const SECRETBOX_KEY_BYTES = 32;
export const SECRETBOX_NONCE_BYTES = 24;
export const SECRETBOX_MAC_BYTES = 16;

/** Seals `message`: MAC(16) | ciphertext, identical to nacl.secretbox(message, nonce, key). */
export function secretboxSeal(message: Uint8Array, nonce: Uint8Array, key: Uint8Array): Uint8Array {
  return sodium.crypto_secretbox_easy(message, nonce, key);
}

/** Opens a box; null when authentication fails (like nacl.secretbox.open). */
export function secretboxOpen(box: Uint8Array, nonce: Uint8Array, key: Uint8Array): Uint8Array | null {
  if (box.length < SECRETBOX_MAC_BYTES) return null;
  try {
    return sodium.crypto_secretbox_open_easy(box, nonce, key);
  } catch {
    return null;
  }
}
