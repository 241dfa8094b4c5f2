export { CryptoErrorCode, type CryptoErrorCodeValue } from './errors.js';
export { DEFAULT_SCRYPT, SCRYPT_LIMITS, isValidScryptParams, type ScryptParams } from './kdf.js';
export { RECOVERY_WORDS, normalizeRecoveryPhrase } from './recovery.js';
export { PASSPHRASE_MIN_BITS, PASSPHRASE_MIN_LENGTH, checkPassphrase, passphraseStrength, type PassphraseStrength } from './passphrase-policy.js';
export { KEYRING_FILE } from './keyring-file.js';
export {
  Keyring,
  initKeyring,
  unlockKeyring,
  isEncryptedDir,
  type InitKeyringOptions,
  type UnlockSecret,
  type UnlockOptions,
  type UnlockMethod,
  type KeyringEvents,
} from './keyring.js';
export {
  AT_REST_CODEC_ID,
  KIND_CODES,
  RECORD_OVERHEAD_BYTES,
  RECORD_VERSION,
  createAtRestCodec,
  recordAad,
  type AtRestCodec,
} from './codec.js';
export { IDENTITY_FILE, NodeIdentity, encodePublicKey, fingerprint, parsePublicKey, verifySignature } from './identity.js';
export { loadOrCreateIdentity, readPublicIdentity, type PublicIdentity } from './identity-store.js';
export { BLOB_OVERHEAD_BYTES, BLOB_VERSION, MAX_BLOB_PURPOSE_BYTES } from './blob.js';
export {
  DEFAULT_NETWORK_KEY,
  FINISH_BYTES,
  HANDSHAKE_VERSION,
  HELLO_BYTES,
  HandshakeInitiator,
  HandshakeReplayGuard,
  HandshakeResponder,
  REPLY_BYTES,
  allowList,
  networkKeyFor,
  type AllowPolicy,
  type HandshakeOptions,
  type HandshakeResult,
  type ResponderOptions,
} from './handshake.js';
export {
  DEFAULT_MAX_FRAME_BYTES,
  FRAME_OVERHEAD_BYTES,
  SecureSession,
  classifyCounter,
  type OpenedFrame,
  type Role,
  type SessionOptions,
} from './session.js';
