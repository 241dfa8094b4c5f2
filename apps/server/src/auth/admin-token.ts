/**
 * The first admin token. When a node has no token yet, it creates one: the value of
 * PROFILESYNC_ADMIN_TOKEN if set (then no file is written: the operator already holds it),
 * otherwise a generated token that is printed once and written for the local CLI:
 *   plaintext dirs: <data>/admin.token, mode 0600
 *   encrypted dirs: <data>/admin.token.sealed, `keyring.sealBlob(ADMIN_TOKEN_PURPOSE, token)`
 *                   (AES-256-GCM, invariant 7: no token in plaintext on disk); the CLI
 *                   unlocks the keyring with the passphrase to open it.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { ProfileSyncError, errorCode } from '@profilesync/errors';
import { nodePaths, type PassphraseProvider } from '../paths.js';
import type { TokenStore } from './tokens.js';

/** The blob purpose (AAD) of the sealed admin token: it opens as nothing else. */
export const ADMIN_TOKEN_PURPOSE = 'profilesync/server/admin-token';
/**
 * v2: a keyring sealed blob. (v1, sealed with the at-rest codec at a reserved place, never
 * shipped; such a file is reported as an unknown format.)
 */
const SEALED_FORMAT = 'profilesync-sealed-admin-token/v2';

/** What sealing the token needs from an unlocked keyring (`Keyring` fits). */
export interface SecretSealer {
  sealBlob(purpose: string, bytes: Uint8Array): Uint8Array;
  openBlob(purpose: string, sealed: Uint8Array): Uint8Array;
}

/** Writes `bytes` to `path` atomically (temp file, fsync, rename) with mode 0600. */
export function writeSecretFile(path: string, bytes: Uint8Array | string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

export interface AdminTokenResult {
  /** true when this call created the first admin token */
  created: boolean;
  /** the generated token (only when created and not preset): print it once */
  token?: string;
  /** where it was written for the local CLI */
  file?: string;
  tokenId?: string;
}

/**
 * Creates the first admin token when the node has none. `keyring` is the unlocked keyring of
 * an encrypted dir (undefined for plaintext dirs).
 */
export async function ensureAdminToken(
  tokens: TokenStore,
  dataDir: string,
  keyring: SecretSealer | undefined,
  preset: string | undefined,
): Promise<AdminTokenResult> {
  if (tokens.size > 0) return { created: false };
  const { info, token } = await tokens.create({ name: 'admin', role: 'admin', profiles: null }, 'bootstrap', preset);
  if (preset !== undefined) return { created: true, tokenId: info.id };
  return { created: true, token, file: writeAdminTokenFile(dataDir, keyring, token), tokenId: info.id };
}

/** Writes the local admin token file: plaintext 0600, or sealed with the keyring of an encrypted dir. */
export function writeAdminTokenFile(dataDir: string, keyring: SecretSealer | undefined, token: string): string {
  const paths = nodePaths(dataDir);
  if (keyring) {
    const sealed = keyring.sealBlob(ADMIN_TOKEN_PURPOSE, Buffer.from(token, 'utf8'));
    writeSecretFile(paths.sealedAdminTokenFile, JSON.stringify({ format: SEALED_FORMAT, sealed: Buffer.from(sealed).toString('base64') }));
    rmSync(paths.adminTokenFile, { force: true });
    return paths.sealedAdminTokenFile;
  }
  writeSecretFile(paths.adminTokenFile, `${token}\n`);
  return paths.adminTokenFile;
}

/**
 * Reads the local admin token of a data dir (for the CLI). Encrypted dirs need the
 * passphrase (the keyring is unlocked just to open the sealed file, then closed).
 */
export async function readAdminToken(dataDir: string, passphrase?: PassphraseProvider): Promise<string | undefined> {
  const paths = nodePaths(dataDir);
  if (existsSync(paths.keyringFile)) {
    let text: string;
    try {
      text = readFileSync(paths.sealedAdminTokenFile, 'utf8');
    } catch {
      return undefined;
    }
    let parsed: { format?: string; sealed?: string };
    try {
      parsed = JSON.parse(text) as { format?: string; sealed?: string };
    } catch (err) {
      throw new ProfileSyncError('ADMIN_TOKEN_UNAVAILABLE', `${paths.sealedAdminTokenFile} is unreadable`, { cause: err });
    }
    if (parsed.format !== SEALED_FORMAT || typeof parsed.sealed !== 'string') {
      throw new ProfileSyncError('ADMIN_TOKEN_UNAVAILABLE', `${paths.sealedAdminTokenFile} has an unknown format`);
    }
    if (!passphrase) {
      throw new ProfileSyncError('CRYPTO_PASSPHRASE_REQUIRED', 'the admin token of an encrypted data dir is sealed: set PROFILESYNC_PASSPHRASE (or PROFILESYNC_TOKEN)');
    }
    const { unlockKeyring } = await import('@profilesync/crypto');
    const keyring = await unlockKeyring(dataDir, { passphrase: await passphrase({ reason: 'unlock', dataDir }) });
    try {
      return Buffer.from(keyring.openBlob(ADMIN_TOKEN_PURPOSE, Buffer.from(parsed.sealed, 'base64'))).toString('utf8');
    } catch (err) {
      const code = errorCode(err);
      if (code === 'CRYPTO_AUTH_FAILED' || code === 'CRYPTO_UNSUPPORTED_FORMAT') {
        throw new ProfileSyncError('ADMIN_TOKEN_UNAVAILABLE', `${paths.sealedAdminTokenFile} does not open with this keyring (damaged or from another data dir)`, { cause: err });
      }
      throw err;
    } finally {
      await keyring.close();
    }
  }
  try {
    return readFileSync(paths.adminTokenFile, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}
