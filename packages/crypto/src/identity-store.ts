import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { wipe } from './bytes.js';
import { CryptoErrorCode, cryptoError } from './errors.js';
import { readTextIfExists, removeIfExists, writeFileAtomic } from './files.js';
import { IDENTITY_FILE, NodeIdentity, encodePublicKey, fingerprint, parseIdentityFile, parseIdentityPublicKey, serializeIdentityFile } from './identity.js';
import { isEncryptedDir, type Keyring } from './keyring.js';
import { keyringPath, parseKeyring } from './keyring-file.js';

/** A node's public identity: what `peer add URL --key` takes on the other node. No secret. */
export interface PublicIdentity {
  publicKey: Uint8Array;
  /** base64url, 43 characters */
  publicKeyText: string;
  /** `xxxx-xxxx-xxxx-xxxx`, for eyeballing */
  fingerprint: string;
}

/**
 * The node's PUBLIC identity of a data dir, read without any secret (no passphrase, no
 * keyring unlock, no LevelDB lock: it works while a server holds the dir). Creates nothing.
 * - Encrypted dirs: `identity.publicKey` of keyring.json, kept in the clear. It is covered
 *   by the file's HMAC, which only an unlock can check; unlock also checks that it matches
 *   the wrapped seed (CRYPTO_KEYRING_CORRUPT otherwise). A keyring without an identity yet
 *   falls back to a plaintext identity.json, which the next unlock moves into the keyring.
 * - Plain dirs: identity.json (format and seed/public key match checked; the seed is zeroed).
 * undefined when the dir holds no identity yet. Malformed files: CRYPTO_KEYRING_CORRUPT /
 * CRYPTO_IDENTITY_CORRUPT.
 */
export async function readPublicIdentity(dir: string): Promise<PublicIdentity | undefined> {
  if (typeof dir !== 'string' || dir.length === 0) throw cryptoError(CryptoErrorCode.INVALID_ARGUMENT, 'a data dir is a non-empty path');
  const ring = await readTextIfExists(keyringPath(dir));
  if (ring !== undefined) {
    const stored = parseKeyring(ring).data.identity;
    if (stored) return publicIdentityOf(stored.publicKey);
  }
  const text = await readTextIfExists(join(dir, IDENTITY_FILE));
  return text === undefined ? undefined : publicIdentityOf(parseIdentityPublicKey(text));
}

const publicIdentityOf = (publicKey: Uint8Array): PublicIdentity => ({
  publicKey,
  publicKeyText: encodePublicKey(publicKey),
  fingerprint: fingerprint(publicKey),
});

/**
 * Loads the node identity of a data dir, creating it on first use.
 * - With a keyring (encryption on): the seed is kept wrapped in keyring.json. A plaintext
 *   identity.json left from before is moved into the keyring and deleted.
 * - Without: `identity.json`, mode 0600. On an encrypted dir this fails with
 *   CRYPTO_KEYRING_LOCKED rather than writing a plaintext secret next to encrypted data.
 */
export async function loadOrCreateIdentity(dir: string, keyring?: Keyring): Promise<NodeIdentity> {
  const path = join(dir, IDENTITY_FILE);
  if (keyring) {
    if (keyring.identityPublicKey) return keyring.loadOrCreateIdentity();
    const text = await readTextIfExists(path);
    if (text === undefined) return keyring.loadOrCreateIdentity();
    const seed = parseIdentityFile(text);
    try {
      const identity = await keyring.loadOrCreateIdentity(seed);
      await removeIfExists(path);
      return identity;
    } finally {
      wipe(seed);
    }
  }
  if (await isEncryptedDir(dir)) {
    throw cryptoError(CryptoErrorCode.KEYRING_LOCKED, 'this data dir is encrypted: unlock its keyring to load the node identity', { dir });
  }
  const existing = await readTextIfExists(path);
  if (existing !== undefined) {
    const seed = parseIdentityFile(existing);
    try {
      return NodeIdentity.fromSeed(seed);
    } finally {
      wipe(seed);
    }
  }
  const seed = randomBytes(32);
  const identity = NodeIdentity.fromSeed(seed);
  try {
    await writeFileAtomic(path, serializeIdentityFile(identity, seed), { createOnly: true });
    return identity;
  } catch (err) {
    identity.close();
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return loadOrCreateIdentity(dir);
    throw err;
  } finally {
    wipe(seed);
  }
}
