/**
 * Opens (or creates) a node's data dir: keyring (encrypted dirs), node identity, event log,
 * profile store. Used by the server and by the CLI's offline commands, so both agree on the
 * layout (paths.ts).
 */
import { mkdirSync } from 'node:fs';
import { ProfileSyncError } from '@profilesync/errors';
import { openLog, type EventLog, type LogCodec } from '@profilesync/log';
import { openStore, PROFILE_SNAPSHOT_POLICY, type ProfileStoreImpl } from '@profilesync/core';
import {
  checkPassphrase,
  createAtRestCodec,
  initKeyring,
  isEncryptedDir,
  loadOrCreateIdentity,
  unlockKeyring,
  type Keyring,
  type NodeIdentity,
} from '@profilesync/crypto';
import { isNodeDir, nodePaths, type NodePaths, type PassphraseProvider } from './paths.js';
import { restrictOwnerOnly, tightenDataDir } from './file-modes.js';

export { isNodeDir, nodePaths, type NodePaths, type PassphraseProvider };

export interface StoreTuning {
  hotCacheBytes?: number;
  maxDocs?: number;
  maxProfileBytes?: number;
  /** versions.idle_ms: the idle gap that closes a run into a version */
  versionsIdleMs?: number;
}

export interface OpenNodeOptions extends StoreTuning {
  dataDir: string;
  /** passphrase source for encrypted dirs (required to open or create one) */
  passphrase?: PassphraseProvider;
  /** create the dir when it holds no node yet (default false: NODE_NOT_INITIALIZED) */
  create?: boolean;
  /** when creating: encrypt at rest */
  encrypt?: boolean;
  /** scrypt cost override (tests) */
  scrypt?: { N?: number; r?: number; p?: number };
  clock?: () => number;
}

export interface NodeHandle {
  paths: NodePaths;
  encrypted: boolean;
  /** true when this call created the node */
  created: boolean;
  /** paths whose group/other permission bits were removed at this open (data dir, log dir, their files) */
  tightened: string[];
  /** shown once when an encrypted node was created */
  recoveryPhrase?: string;
  keyring?: Keyring;
  codec?: LogCodec;
  identity: NodeIdentity;
  log: EventLog;
  store: ProfileStoreImpl;
  close(): Promise<void>;
}

async function needPassphrase(opts: OpenNodeOptions, reason: 'unlock' | 'create'): Promise<string> {
  if (!opts.passphrase) {
    throw new ProfileSyncError('CRYPTO_PASSPHRASE_REQUIRED', `the data dir ${opts.dataDir} is encrypted: set PROFILESYNC_PASSPHRASE or run on a terminal`, { details: { dir: opts.dataDir } });
  }
  return opts.passphrase({ reason, dataDir: opts.dataDir });
}

/** Opens the keyring of an encrypted dir (undefined for plaintext dirs). */
export async function unlockNodeKeyring(dataDir: string, passphrase: PassphraseProvider | undefined, clock?: () => number): Promise<Keyring | undefined> {
  if (!(await isEncryptedDir(dataDir))) return undefined;
  const secret = await needPassphrase({ dataDir, ...(passphrase ? { passphrase } : {}) }, 'unlock');
  return unlockKeyring(dataDir, { passphrase: secret }, clock ? { clock } : {});
}

export async function openNode(opts: OpenNodeOptions): Promise<NodeHandle> {
  const paths = nodePaths(opts.dataDir);
  const existing = isNodeDir(opts.dataDir);
  if (!existing && !opts.create) {
    throw new ProfileSyncError('NODE_NOT_INITIALIZED', `no profilesync node in ${opts.dataDir}; run \`profilesync init --data ${opts.dataDir}\` first`, { details: { dir: opts.dataDir } });
  }
  let keyring: Keyring | undefined;
  let recoveryPhrase: string | undefined;
  let created = false;
  const cleanup: (() => Promise<void> | void)[] = [];
  // owner-only from here on: files LevelDB creates later are 0600, directories 0700
  restrictOwnerOnly();
  let tightened: string[] = [];
  try {
    if (existing) {
      tightened = tightenDataDir(opts.dataDir);
      keyring = await unlockNodeKeyring(opts.dataDir, opts.passphrase, opts.clock);
    } else {
      // a weak passphrase is refused before anything is created
      const passphrase = opts.encrypt ? await needPassphrase(opts, 'create') : undefined;
      if (passphrase !== undefined) checkPassphrase(passphrase);
      mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
      tightened = tightenDataDir(opts.dataDir);
      if (passphrase !== undefined) {
        const init = await initKeyring(opts.dataDir, { passphrase, ...(opts.scrypt ? { scrypt: opts.scrypt } : {}), ...(opts.clock ? { clock: opts.clock } : {}) });
        keyring = init.keyring;
        recoveryPhrase = init.recoveryPhrase;
      }
      created = true;
    }
    if (keyring) cleanup.push(() => keyring!.close());
    const codec = keyring ? createAtRestCodec(keyring) : undefined;
    const identity = await loadOrCreateIdentity(opts.dataDir, keyring);
    cleanup.push(() => identity.close());
    const log = await openLog({ dir: paths.logDir, snapshotPolicy: PROFILE_SNAPSHOT_POLICY, ...(codec ? { codec } : {}), ...(opts.clock ? { clock: opts.clock } : {}) });
    cleanup.push(() => log.close().catch(() => undefined));
    const store = await openStore({
      log,
      ...(opts.clock ? { clock: opts.clock } : {}),
      ...(opts.hotCacheBytes !== undefined ? { hotCacheBytes: opts.hotCacheBytes } : {}),
      ...(opts.maxDocs !== undefined ? { maxDocs: opts.maxDocs } : {}),
      ...(opts.maxProfileBytes !== undefined ? { maxProfileBytes: opts.maxProfileBytes } : {}),
      ...(opts.versionsIdleMs !== undefined ? { versions: { idleMs: opts.versionsIdleMs } } : {}),
      // version records name the node that closed them
      nodeId: identity.fingerprint,
    });
    let closing: Promise<void> | undefined;
    const handle: NodeHandle = {
      paths,
      encrypted: keyring !== undefined,
      created,
      tightened,
      ...(recoveryPhrase !== undefined ? { recoveryPhrase } : {}),
      ...(keyring ? { keyring, codec: codec! } : {}),
      identity,
      log,
      store,
      close() {
        closing ??= (async () => {
          await store.close();
          for (const c of cleanup.reverse()) await c();
        })();
        return closing;
      },
    };
    return handle;
  } catch (err) {
    for (const c of cleanup.reverse()) await Promise.resolve(c()).catch(() => undefined);
    throw err;
  }
}
