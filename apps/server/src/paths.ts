/**
 * The data dir layout (no heavy imports: the CLI loads this for every command).
 *   <data>/keyring.json         encrypted dirs only (crypto package)
 *   <data>/identity.json        plaintext dirs only (the identity lives in the keyring otherwise)
 *   <data>/log/                 the LevelDB event log
 *   <data>/admin.token          plaintext dirs: the first admin token, 0600
 *   <data>/admin.token.sealed   encrypted dirs: the same, sealed with the keyring
 */
import { existsSync } from 'node:fs';
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

/** Whether `dataDir` already holds a node (a log or a keyring). */
export function isNodeDir(dataDir: string): boolean {
  const p = nodePaths(dataDir);
  return existsSync(p.logDir) || existsSync(p.keyringFile);
}
