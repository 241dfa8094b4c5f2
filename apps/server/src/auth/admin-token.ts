/**
 * The first admin token. When a node has no token yet, it creates one: the value of
 * PROFILESYNC_ADMIN_TOKEN if set (then no file is written: the operator already holds it),
 * otherwise a generated token that is printed once and written for the local CLI:
 *   plaintext dirs: <data>/admin.token, mode 0600
 *   encrypted dirs: <data>/admin.token.sealed, AES-256-GCM under the keyring (invariant 7:
 *                   no token in plaintext on disk); the CLI unlocks it with the passphrase.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { ProfileSyncError } from '@profilesync/errors';
import type { LogCodec, Place } from '@profilesync/log';
import { nodePaths, type PassphraseProvider } from '../paths.js';
import type { TokenStore } from './tokens.js';

/** Reserved codec place for the sealed admin token (never used by the log: stream 0xffffffff). */
export const ADMIN_TOKEN_PLACE: Place = Object.freeze({ kind: 'aux', stream: 0xffff_ffff, seq: 1 });
const SEALED_FORMAT = 'profilesync-sealed-admin-token/v1';

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
 * Creates the first admin token when the node has none. `codec` is the at-rest codec of an
 * encrypted dir (undefined for plaintext dirs).
 */
export async function ensureAdminToken(
  tokens: TokenStore,
  dataDir: string,
  codec: LogCodec | undefined,
  preset: string | undefined,
): Promise<AdminTokenResult> {
  if (tokens.size > 0) return { created: false };
  const { info, token } = await tokens.create({ name: 'admin', role: 'admin', profiles: null }, 'bootstrap', preset);
  if (preset !== undefined) return { created: true, tokenId: info.id };
  return { created: true, token, file: writeAdminTokenFile(dataDir, codec, token), tokenId: info.id };
}

/** Writes the local admin token file: plaintext 0600, or sealed with the codec of an encrypted dir. */
export function writeAdminTokenFile(dataDir: string, codec: LogCodec | undefined, token: string): string {
  const paths = nodePaths(dataDir);
  if (codec) {
    const sealed = codec.encode(ADMIN_TOKEN_PLACE, Buffer.from(token, 'utf8'));
    writeSecretFile(paths.sealedAdminTokenFile, JSON.stringify({ format: SEALED_FORMAT, codec: codec.id, sealed: Buffer.from(sealed).toString('base64') }));
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
    const { createAtRestCodec, unlockKeyring } = await import('@profilesync/crypto');
    const keyring = await unlockKeyring(dataDir, { passphrase: await passphrase({ reason: 'unlock', dataDir }) });
    try {
      const plain = createAtRestCodec(keyring).decode(ADMIN_TOKEN_PLACE, Buffer.from(parsed.sealed, 'base64'));
      return Buffer.from(plain).toString('utf8');
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
