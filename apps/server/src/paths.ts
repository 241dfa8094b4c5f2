/**
 * The data dir layout (no heavy imports: the CLI loads this for every command).
 *   <data>/keyring.json         encrypted dirs only (crypto package)
 *   <data>/identity.json        plaintext dirs only (the identity lives in the keyring otherwise)
 *   <data>/log/                 the LevelDB event log
 *   <data>/admin.token          plaintext dirs: the first admin token, 0600
 *   <data>/admin.token.sealed   encrypted dirs: the same, sealed with the keyring
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { ProfileSyncError } from '@profilesync/errors';
import { join } from 'node:path';

export type PassphraseProvider = (purpose: { reason: 'unlock' | 'create'; dataDir: string }) => Promise<string>;

export interface NodePaths {
  dataDir: string;
  logDir: string;
  keyringFile: string;
  adminTokenFile: string;
  sealedAdminTokenFile: string;
}

export function nodePaths(dataDir: string): NodePaths {
  return {
    dataDir,
    logDir: join(dataDir, 'log'),
    keyringFile: join(dataDir, 'keyring.json'),
    adminTokenFile: join(dataDir, 'admin.token'),
    sealedAdminTokenFile: join(dataDir, 'admin.token.sealed'),
  };
}

/** DATA_DIR_ACCESS_DENIED: this user may not read `dataDir` (or a file of it); `code` is the errno (EACCES, EPERM). */
export function dataDirAccessDenied(dataDir: string, code: string): ProfileSyncError {
  const uid = typeof process.getuid === 'function' ? ` (uid ${process.getuid()})` : '';
  return new ProfileSyncError('DATA_DIR_ACCESS_DENIED', `the data dir ${dataDir} cannot be read by this user${uid}: ${code}; run as the user that owns it`, { details: { dir: dataDir, errno: code } });
}

/**
 * Whether `dataDir` already holds a node (a log or a keyring). A dir this user may not list
 * (another user's 0700 data dir: the node was started as someone else) is
 * DATA_DIR_ACCESS_DENIED, never "no node here": that answer would invite an `init` over it.
 */
export function isNodeDir(dataDir: string): boolean {
  const p = nodePaths(dataDir);
  try {
    accessSync(dataDir, constants.R_OK | constants.X_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') throw dataDirAccessDenied(dataDir, code);
    // ENOENT (and ENOTDIR): no node here
  }
  return existsSync(p.logDir) || existsSync(p.keyringFile);
}
