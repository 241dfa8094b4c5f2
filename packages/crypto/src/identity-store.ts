import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { wipe } from './bytes.js';
import { CryptoErrorCode, cryptoError } from './errors.js';
import { readTextIfExists, removeIfExists, writeFileAtomic } from './files.js';
import { IDENTITY_FILE, NodeIdentity, parseIdentityFile, serializeIdentityFile } from './identity.js';
import { isEncryptedDir, type Keyring } from './keyring.js';

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
