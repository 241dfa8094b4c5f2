/**
 * The NaCl constructions the handshake and the identity use, computed by libsodium through
 * sodium-native: Ed25519 signatures (nacl.sign), X25519 (nacl.scalarMult / nacl.box.keyPair).
 * Same algorithms and the same bytes as tweetnacl (tests compare both), but native: a
 * handshake costs well under a millisecond instead of ~17-30 ms of pure-JS curve arithmetic,
 * and there is no JIT warm-up on a freshly started node's first reconnects.
 */
import sodium from 'sodium-native';
import { buf } from './secretbox.js';

export const SIGN_PUBLIC_KEY_BYTES = 32;
export const SIGN_SECRET_KEY_BYTES = 64;
export const SIGNATURE_BYTES = 64;


/** Ed25519 key pair from a 32-byte seed; the secret key is seed | public key (as tweetnacl's). */
export function signKeyPairFromSeed(seed: Uint8Array): { publicKey: Uint8Array; secretKey: Uint8Array } {
  const publicKey = new Uint8Array(SIGN_PUBLIC_KEY_BYTES);
  const secretKey = new Uint8Array(SIGN_SECRET_KEY_BYTES);
  sodium.crypto_sign_seed_keypair(buf(publicKey), buf(secretKey), buf(seed));
  return { publicKey, secretKey };
}

export function signDetached(message: Uint8Array, secretKey: Uint8Array): Uint8Array {
  const signature = new Uint8Array(SIGNATURE_BYTES);
  sodium.crypto_sign_detached(buf(signature), buf(message), buf(secretKey));
  return signature;
}

/** Callers check the lengths first (signature 64, public key 32). */
export function verifyDetached(message: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): boolean {
  return sodium.crypto_sign_verify_detached(buf(signature), buf(message), buf(publicKey));
}

/** A fresh X25519 key pair (random secret, public = X25519(secret, base)). */
export function x25519KeyPair(): { publicKey: Uint8Array; secretKey: Uint8Array } {
  const publicKey = new Uint8Array(32);
  const secretKey = new Uint8Array(32);
  sodium.crypto_box_keypair(buf(publicKey), buf(secretKey));
  return { publicKey, secretKey };
}

/**
 * X25519(secret, peer). Returns null for a low-order peer point (the all-zero shared secret,
 * which libsodium refuses and tweetnacl would return as zeros).
 */
export function x25519(secretKey: Uint8Array, peerPublic: Uint8Array): Uint8Array | null {
  const out = new Uint8Array(32);
  try {
    sodium.crypto_scalarmult(buf(out), buf(secretKey), buf(peerPublic));
  } catch {
    return null;
  }
  return out.every((b) => b === 0) ? null : out;
}
