import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { unwrapSecret, wrapSecret } from './aead.js';
import { blobKeyOf, openBlobWith, sealBlobWith } from './blob.js';
import { bytesEqual, utf8, wipe } from './bytes.js';
import { CryptoErrorCode, cryptoError } from './errors.js';
import { TypedEvents } from './events.js';
import { readTextIfExists, writeFileAtomic } from './files.js';
import { NodeIdentity } from './identity.js';
import { deriveScrypt, hkdf, passphraseBytes, resolveScryptParams, type ScryptParams } from './kdf.js';
import { attachMaterial, type KeyMaterial } from './key-material.js';
import { keyringPath, parseKeyring, serializeKeyring, verifyMac, type KeyringFileData } from './keyring-file.js';
import { generateRecoverySecret, recoveryPhraseToEntropy } from './recovery.js';

export interface InitKeyringOptions {
  passphrase: string;
  /** scrypt cost; defaults to DEFAULT_SCRYPT (tests pass e.g. { N: 1024 }) */
  scrypt?: Partial<ScryptParams>;
  /** ms since the epoch, stamped on data keys */
  clock?: () => number;
}

export type UnlockSecret = { passphrase: string } | { recoveryPhrase: string };

export interface UnlockOptions {
  clock?: () => number;
}

export interface KeyringEvents {
  'key-rotated': { keyId: number; keys: number; durationMillis: number };
  'passphrase-changed': { durationMillis: number };
  'recovery-phrase-rotated': { durationMillis: number };
  closed: { durationMillis: number };
}

export type UnlockMethod = 'init' | 'passphrase' | 'recovery';

const aad = (purpose: string): Uint8Array => utf8(`profilesync/keyring/v1/${purpose}`);
const AAD_PASSPHRASE = aad('slot/passphrase');
const AAD_RECOVERY = aad('slot/recovery');
const AAD_NAME_KEY = aad('name-key');
const AAD_IDENTITY = aad('identity');
const aadDataKey = (id: number): Uint8Array => aad(`data-key/${id}`);

const recoveryKek = (entropy: Uint8Array, salt: Uint8Array): Buffer =>
  hkdf('sha256', entropy, salt, 'profilesync/keyring/v1/recovery-kek', 32);
const macKeyOf = (masterKey: Uint8Array): Buffer => hkdf('sha256', masterKey, new Uint8Array(0), 'profilesync/keyring/v1/mac', 32);

/**
 * An unlocked keyring. Key hierarchy (docs/security.md):
 *   passphrase --scrypt--> KEK_p --+
 *                                  +--wraps--> master key --wraps--> data keys (by id), name key, identity seed
 *   recovery phrase --HKDF--> KEK_r +
 * Create with initKeyring / unlockKeyring; close() zeroes every key buffer.
 */
export class Keyring {
  readonly dir: string;
  readonly unlockedWith: UnlockMethod;
  /** how long init/unlock took (scrypt dominates), for logs and metrics */
  readonly unlockDurationMillis: number;
  #data: KeyringFileData;
  #masterKey: Buffer;
  #macKey: Buffer;
  #blobKey: Buffer;
  #material: KeyMaterial;
  #identitySeed: Buffer | undefined;
  #clock: () => number;
  #queue: Promise<unknown> = Promise.resolve();
  #events = new TypedEvents<KeyringEvents>();

  private constructor(
    dir: string,
    data: KeyringFileData,
    masterKey: Buffer,
    material: KeyMaterial,
    identitySeed: Buffer | undefined,
    via: UnlockMethod,
    clock: () => number,
    started: number,
  ) {
    this.dir = dir;
    this.#data = data;
    this.#masterKey = masterKey;
    this.#macKey = macKeyOf(masterKey);
    this.#blobKey = blobKeyOf(masterKey);
    this.#material = material;
    this.#identitySeed = identitySeed;
    this.unlockedWith = via;
    this.unlockDurationMillis = performance.now() - started;
    this.#clock = clock;
    attachMaterial(this, material);
  }

  /** Creates keyring.json in `dir` (fails with CRYPTO_KEYRING_EXISTS when present). */
  static async init(dir: string, opts: InitKeyringOptions): Promise<{ keyring: Keyring; recoveryPhrase: string }> {
    const started = performance.now();
    passphraseBytes(opts?.passphrase).fill(0);
    const params = resolveScryptParams(opts.scrypt);
    const clock = opts.clock ?? Date.now;
    const salt = randomBytes(16);
    const masterKey = randomBytes(32);
    const dataKey = randomBytes(32);
    const nameKey = randomBytes(32);
    const recovery = generateRecoverySecret();
    const recoverySalt = randomBytes(16);
    const kekP = await deriveScrypt(opts.passphrase, salt, params);
    const kekR = recoveryKek(recovery.entropy, recoverySalt);
    const data: KeyringFileData = {
      kdf: { ...params, salt },
      passphraseSlot: wrapSecret(kekP, masterKey, AAD_PASSPHRASE),
      recoverySlot: { salt: recoverySalt, wrapped: wrapSecret(kekR, masterKey, AAD_RECOVERY) },
      activeKeyId: 1,
      dataKeys: [{ id: 1, createdAt: clock(), wrapped: wrapSecret(masterKey, dataKey, aadDataKey(1)) }],
      nameKey: wrapSecret(masterKey, nameKey, AAD_NAME_KEY),
      identity: null,
    };
    wipe(kekP, kekR, recovery.entropy);
    try {
      await writeFileAtomic(keyringPath(dir), serializeKeyring(data, macKeyOf(masterKey)), { createOnly: true });
    } catch (err) {
      wipe(masterKey, dataKey, nameKey);
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        throw cryptoError(CryptoErrorCode.KEYRING_EXISTS, 'this data dir already has a keyring', { dir });
      }
      throw err;
    }
    const material: KeyMaterial = { activeKeyId: 1, dataKeys: new Map([[1, dataKey]]), nameKey, closed: false };
    const keyring = new Keyring(dir, data, masterKey, material, undefined, 'init', clock, started);
    return { keyring, recoveryPhrase: recovery.phrase };
  }

  /** Opens keyring.json with the passphrase or the recovery phrase. */
  static async unlock(dir: string, secret: UnlockSecret, opts: UnlockOptions = {}): Promise<Keyring> {
    const started = performance.now();
    const text = await readTextIfExists(keyringPath(dir));
    if (text === undefined) throw cryptoError(CryptoErrorCode.KEYRING_NOT_FOUND, 'no keyring in this data dir', { dir });
    const { data, mac } = parseKeyring(text);
    let masterKey: Uint8Array | undefined;
    let via: UnlockMethod;
    if (typeof secret === 'object' && secret !== null && 'passphrase' in secret) {
      via = 'passphrase';
      const kek = await deriveScrypt(secret.passphrase, data.kdf.salt, data.kdf);
      masterKey = unwrapSecret(kek, data.passphraseSlot, AAD_PASSPHRASE);
      wipe(kek);
      if (!masterKey) throw cryptoError(CryptoErrorCode.BAD_PASSPHRASE, 'wrong passphrase');
    } else if (typeof secret === 'object' && secret !== null && 'recoveryPhrase' in secret) {
      via = 'recovery';
      const entropy = recoveryPhraseToEntropy(secret.recoveryPhrase);
      const kek = recoveryKek(entropy, data.recoverySlot.salt);
      masterKey = unwrapSecret(kek, data.recoverySlot.wrapped, AAD_RECOVERY);
      wipe(kek, entropy);
      if (!masterKey) throw cryptoError(CryptoErrorCode.BAD_RECOVERY_PHRASE, 'this recovery phrase does not unlock this keyring');
    } else {
      throw cryptoError(CryptoErrorCode.INVALID_ARGUMENT, 'unlock needs { passphrase } or { recoveryPhrase }');
    }
    const mk = Buffer.from(masterKey);
    wipe(masterKey);
    const unwrapped: Buffer[] = [];
    const open = (wrapped: Uint8Array, purpose: Uint8Array, field: string): Buffer => {
      const secretBytes = unwrapSecret(mk, wrapped, purpose);
      if (!secretBytes) {
        wipe(mk, ...unwrapped);
        throw cryptoError(CryptoErrorCode.KEYRING_CORRUPT, `keyring entry ${field} fails authentication`, { field });
      }
      const out = Buffer.from(secretBytes);
      wipe(secretBytes);
      unwrapped.push(out);
      return out;
    };
    const macKey = macKeyOf(mk);
    const macOk = verifyMac(macKey, data, mac);
    wipe(macKey);
    if (!macOk) {
      wipe(mk);
      throw cryptoError(CryptoErrorCode.KEYRING_CORRUPT, 'keyring file was modified outside profilesync', { field: 'mac' });
    }
    const dataKeys = new Map<number, Buffer>();
    for (const k of data.dataKeys) dataKeys.set(k.id, open(k.wrapped, aadDataKey(k.id), `dataKeys.${k.id}`));
    const nameKey = open(data.nameKey, AAD_NAME_KEY, 'nameKey');
    const identitySeed = data.identity ? open(data.identity.wrapped, AAD_IDENTITY, 'identity') : undefined;
    if (data.identity && !seedMatchesPublicKey(identitySeed!, data.identity.publicKey)) {
      // the MAC covers the clear public key, so only a writer holding MK (or a bug) gets here
      wipe(mk, ...unwrapped);
      throw cryptoError(CryptoErrorCode.KEYRING_CORRUPT, 'the identity public key in the keyring does not match its wrapped seed', {
        field: 'identity.publicKey',
      });
    }
    const material: KeyMaterial = { activeKeyId: data.activeKeyId, dataKeys, nameKey, closed: false };
    return new Keyring(dir, data, mk, material, identitySeed, via, opts.clock ?? Date.now, started);
  }

  get activeKeyId(): number {
    return this.#material.activeKeyId;
  }

  /** Ids and creation times of every data key (no key bytes). */
  get keys(): { id: number; createdAt: number; active: boolean }[] {
    return this.#data.dataKeys.map((k) => ({ id: k.id, createdAt: k.createdAt, active: k.id === this.#material.activeKeyId }));
  }

  get scryptParams(): ScryptParams {
    const { N, r, p } = this.#data.kdf;
    return { N, r, p };
  }

  get isClosed(): boolean {
    return this.#material.closed;
  }

  on<E extends keyof KeyringEvents>(event: E, listener: (payload: KeyringEvents[E]) => void): () => void {
    return this.#events.on(event, listener);
  }

  /** A new data key for new writes; older keys stay (wrapped) so history stays readable. */
  rotateDataKey(): Promise<{ keyId: number }> {
    return this.#exclusive(async () => {
      const started = performance.now();
      const id = Math.max(...this.#data.dataKeys.map((k) => k.id)) + 1;
      if (id > 0xffff_ffff) throw cryptoError(CryptoErrorCode.INVALID_ARGUMENT, 'no key ids left');
      const key = randomBytes(32);
      const next: KeyringFileData = {
        ...this.#data,
        activeKeyId: id,
        dataKeys: [...this.#data.dataKeys, { id, createdAt: this.#clock(), wrapped: wrapSecret(this.#masterKey, key, aadDataKey(id)) }],
      };
      await this.#persist(next).catch((err: unknown) => {
        wipe(key);
        throw err;
      });
      this.#material.dataKeys.set(id, key);
      this.#material.activeKeyId = id;
      this.#events.emit('key-rotated', { keyId: id, keys: next.dataKeys.length, durationMillis: performance.now() - started });
      return { keyId: id };
    });
  }

  /** Rewraps the master key under a new passphrase after checking the current one. No data is touched. */
  changePassphrase(oldPassphrase: string, newPassphrase: string, opts: { scrypt?: Partial<ScryptParams> } = {}): Promise<void> {
    return this.#exclusive(async () => {
      passphraseBytes(newPassphrase).fill(0);
      const kek = await deriveScrypt(oldPassphrase, this.#data.kdf.salt, this.#data.kdf);
      const mk = unwrapSecret(kek, this.#data.passphraseSlot, AAD_PASSPHRASE);
      wipe(kek);
      const ok = mk !== undefined && bytesEqual(mk, this.#masterKey);
      wipe(mk);
      if (!ok) throw cryptoError(CryptoErrorCode.BAD_PASSPHRASE, 'wrong current passphrase');
      await this.#setPassphrase(newPassphrase, opts.scrypt);
    });
  }

  /**
   * Sets a new passphrase without the old one (the keyring is already unlocked, e.g. with
   * the recovery phrase: `profilesync keys recover`).
   */
  resetPassphrase(newPassphrase: string, opts: { scrypt?: Partial<ScryptParams> } = {}): Promise<void> {
    return this.#exclusive(() => this.#setPassphrase(newPassphrase, opts.scrypt));
  }

  /** Replaces the recovery phrase (the old one stops working); returns the new phrase, shown once. */
  rotateRecoveryPhrase(): Promise<{ recoveryPhrase: string }> {
    return this.#exclusive(async () => {
      const started = performance.now();
      const recovery = generateRecoverySecret();
      const salt = randomBytes(16);
      const kek = recoveryKek(recovery.entropy, salt);
      const next: KeyringFileData = { ...this.#data, recoverySlot: { salt, wrapped: wrapSecret(kek, this.#masterKey, AAD_RECOVERY) } };
      wipe(kek, recovery.entropy);
      await this.#persist(next);
      this.#events.emit('recovery-phrase-rotated', { durationMillis: performance.now() - started });
      return { recoveryPhrase: recovery.phrase };
    });
  }

  /**
   * The node identity kept (wrapped) in this keyring; created on first call. `adoptSeed`
   * stores a given seed instead of a new one when the keyring has none yet (used to move a
   * plaintext identity.json into the keyring).
   */
  loadOrCreateIdentity(adoptSeed?: Uint8Array): Promise<NodeIdentity> {
    return this.#exclusive(async () => {
      if (this.#identitySeed) return NodeIdentity.fromSeed(this.#identitySeed);
      const seed = adoptSeed ? Buffer.from(adoptSeed) : randomBytes(32);
      const identity = NodeIdentity.fromSeed(seed);
      const next: KeyringFileData = {
        ...this.#data,
        identity: { publicKey: identity.publicKey, wrapped: wrapSecret(this.#masterKey, seed, AAD_IDENTITY) },
      };
      try {
        await this.#persist(next);
      } catch (err) {
        wipe(seed);
        identity.close();
        throw err;
      }
      this.#identitySeed = seed;
      return identity;
    });
  }

  /** The node's public key when an identity is stored, without unwrapping anything. */
  get identityPublicKey(): Uint8Array | undefined {
    return this.#data.identity?.publicKey;
  }

  /**
   * Seals a small secret for a file outside the log: AES-256-GCM under a key derived from
   * the master key (HKDF, label "profilesync/keyring/v1/blob"), `purpose` as AAD. Layout and
   * guarantees: blob.ts and docs/security.md §2.6.
   */
  sealBlob(purpose: string, bytes: Uint8Array): Uint8Array {
    if (this.#material.closed) throw closedError();
    return sealBlobWith(this.#blobKey, purpose, bytes);
  }

  /**
   * Opens a blob from sealBlob. CRYPTO_AUTH_FAILED when it was altered, truncated, sealed
   * for another purpose or by another keyring; CRYPTO_UNSUPPORTED_FORMAT for an unknown version.
   */
  openBlob(purpose: string, sealed: Uint8Array): Uint8Array {
    if (this.#material.closed) throw closedError();
    return openBlobWith(this.#blobKey, purpose, sealed);
  }

  /** Waits for in-flight changes, then zeroes every key buffer. Idempotent. */
  async close(): Promise<void> {
    if (this.#material.closed) return;
    const started = performance.now();
    this.#material.closed = true;
    await this.#queue.catch(() => undefined);
    wipe(this.#masterKey, this.#macKey, this.#blobKey, this.#material.nameKey, this.#identitySeed, ...this.#material.dataKeys.values());
    this.#material.dataKeys.clear();
    this.#identitySeed = undefined;
    this.#events.emit('closed', { durationMillis: performance.now() - started });
  }

  async #setPassphrase(passphrase: string, scrypt: Partial<ScryptParams> | undefined): Promise<void> {
    const started = performance.now();
    const params = resolveScryptParams(scrypt ?? this.scryptParams);
    const salt = randomBytes(16);
    const kek = await deriveScrypt(passphrase, salt, params);
    const next: KeyringFileData = {
      ...this.#data,
      kdf: { ...params, salt },
      passphraseSlot: wrapSecret(kek, this.#masterKey, AAD_PASSPHRASE),
    };
    wipe(kek);
    await this.#persist(next);
    this.#events.emit('passphrase-changed', { durationMillis: performance.now() - started });
  }

  async #persist(next: KeyringFileData): Promise<void> {
    await writeFileAtomic(keyringPath(this.dir), serializeKeyring(next, this.#macKey));
    this.#data = next;
  }

  /** Runs keyring-changing operations one at a time; refuses them after close(). */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#material.closed) return Promise.reject(closedError());
    // operations queued before close() still run: close() waits for them before wiping keys
    const run = this.#queue.then(fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }
}

/** Whether an Ed25519 seed yields `publicKey` (the derived secret key is zeroed). */
function seedMatchesPublicKey(seed: Uint8Array, publicKey: Uint8Array): boolean {
  const identity = NodeIdentity.fromSeed(seed);
  const ok = bytesEqual(identity.publicKey, publicKey);
  identity.close();
  return ok;
}

const closedError = (): Error => cryptoError(CryptoErrorCode.KEYRING_CLOSED, 'the keyring was closed');

export const initKeyring = (dir: string, opts: InitKeyringOptions): Promise<{ keyring: Keyring; recoveryPhrase: string }> =>
  Keyring.init(dir, opts);

export const unlockKeyring = (dir: string, secret: UnlockSecret, opts?: UnlockOptions): Promise<Keyring> =>
  Keyring.unlock(dir, secret, opts);

/** Whether `dir` holds a keyring (i.e. was initialized with encryption on). */
export async function isEncryptedDir(dir: string): Promise<boolean> {
  try {
    return (await stat(keyringPath(dir))).isFile();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return false;
    throw err;
  }
}
