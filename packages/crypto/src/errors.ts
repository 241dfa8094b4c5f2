import { ProfileSyncError } from '@profilesync/errors';

/**
 * Stable error codes of @profilesync/crypto. Every failure a caller can act on is a
 * ProfileSyncError with one of these codes. Messages and details never carry key
 * material, passphrases, recovery phrases or plaintext.
 */
export const CryptoErrorCode = {
  /** a bad argument (empty passphrase, malformed place, wrong key length, ...) */
  INVALID_ARGUMENT: 'CRYPTO_INVALID_ARGUMENT',
  /** initKeyring on a dir that already has a keyring */
  KEYRING_EXISTS: 'CRYPTO_KEYRING_EXISTS',
  /** unlockKeyring on a dir without a keyring */
  KEYRING_NOT_FOUND: 'CRYPTO_KEYRING_NOT_FOUND',
  /** the keyring file is unreadable, malformed or was tampered with */
  KEYRING_CORRUPT: 'CRYPTO_KEYRING_CORRUPT',
  /** the keyring (or a codec/identity using it) was closed */
  KEYRING_CLOSED: 'CRYPTO_KEYRING_CLOSED',
  /** the dir is encrypted, but no unlocked keyring was given */
  KEYRING_LOCKED: 'CRYPTO_KEYRING_LOCKED',
  /** a new passphrase below the minimum strength (checkPassphrase: length and entropy floor) */
  PASSPHRASE_WEAK: 'CRYPTO_PASSPHRASE_WEAK',
  /** wrong passphrase (or a damaged passphrase slot) */
  BAD_PASSPHRASE: 'CRYPTO_BAD_PASSPHRASE',
  /** not a valid 24-word phrase, or not this keyring's phrase */
  BAD_RECOVERY_PHRASE: 'CRYPTO_BAD_RECOVERY_PHRASE',
  /** an at-rest record failed authentication: tampered, truncated, or moved to another place */
  AUTH_FAILED: 'CRYPTO_AUTH_FAILED',
  /** an at-rest record names a key id this keyring does not hold */
  UNKNOWN_KEY: 'CRYPTO_UNKNOWN_KEY',
  /** an at-rest record has an unknown format version */
  UNSUPPORTED_FORMAT: 'CRYPTO_UNSUPPORTED_FORMAT',
  /** the NodeIdentity was closed (its secret key is zeroed) */
  IDENTITY_CLOSED: 'CRYPTO_IDENTITY_CLOSED',
  /** identity.json is unreadable or malformed */
  IDENTITY_CORRUPT: 'CRYPTO_IDENTITY_CORRUPT',
  /** a public key string/bytes is not a valid Ed25519 public key encoding */
  BAD_PUBLIC_KEY: 'CRYPTO_BAD_PUBLIC_KEY',
  /** handshake: the peer speaks another protocol version */
  VERSION_MISMATCH: 'CRYPTO_VERSION_MISMATCH',
  /** handshake: hello not authenticated by our network key (other deployment, or corrupted) */
  NETWORK_MISMATCH: 'CRYPTO_NETWORK_MISMATCH',
  /** handshake: the peer's static key is not on the allow list */
  PEER_UNKNOWN: 'CRYPTO_PEER_UNKNOWN',
  /** handshake: a hello whose ephemeral key was already seen (replay) */
  HANDSHAKE_REPLAY: 'CRYPTO_HANDSHAKE_REPLAY',
  /** handshake: malformed message, bad signature, failed decryption, or out-of-order call */
  HANDSHAKE_FAILED: 'CRYPTO_HANDSHAKE_FAILED',
  /** frame: counter not greater than the last accepted one (a replay) */
  FRAME_REPLAY: 'CRYPTO_FRAME_REPLAY',
  /** frame: counter skips ahead (a frame was reordered or dropped) */
  FRAME_REORDER: 'CRYPTO_FRAME_REORDER',
  /** frame: shorter than the frame header + MAC */
  FRAME_TRUNCATED: 'CRYPTO_FRAME_TRUNCATED',
  /** frame: payload over the session's size limit */
  FRAME_TOO_LARGE: 'CRYPTO_FRAME_TOO_LARGE',
  /** frame: unknown frame type */
  FRAME_MALFORMED: 'CRYPTO_FRAME_MALFORMED',
  /** frame: MAC check failed (tampered, wrong key or wrong direction) */
  DECRYPT_FAILED: 'CRYPTO_DECRYPT_FAILED',
  /** session: used after goodbye or after a failed frame */
  SESSION_CLOSED: 'CRYPTO_SESSION_CLOSED',
} as const;

export type CryptoErrorCodeValue = (typeof CryptoErrorCode)[keyof typeof CryptoErrorCode];

export function cryptoError(
  code: CryptoErrorCodeValue,
  message: string,
  details?: Record<string, unknown>,
  cause?: unknown,
): ProfileSyncError {
  const options: { details?: Record<string, unknown>; cause?: unknown } = {};
  if (details !== undefined) options.details = details;
  if (cause !== undefined) options.cause = cause;
  return new ProfileSyncError(code, message, options);
}
