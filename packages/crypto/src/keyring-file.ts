import { createHmac } from 'node:crypto';
import { join } from 'node:path';
import { bytesEqual, fromBase64, fromBase64Url, toBase64, toBase64Url } from './bytes.js';
import { CryptoErrorCode, cryptoError } from './errors.js';
import { isValidScryptParams, type ScryptParams } from './kdf.js';

/**
 * The keyring file (`keyring.json` in the data dir, mode 0600). It holds no secret in
 * plaintext: every secret is AES-256-GCM-wrapped; the whole body is authenticated by an
 * HMAC under a key derived from the master key, so a swapped active key id or a removed
 * key is detected after unlock. See docs/security.md for the hierarchy.
 */
export const KEYRING_FILE = 'keyring.json';
export const KEYRING_FORMAT = 'profilesync-keyring';
export const KEYRING_VERSION = 1;

/** nonce(12) + 32-byte secret + tag(16) */
export const WRAPPED_KEY_BYTES = 60;

export interface DataKeyEntry {
  /** key id, written into every record the key encrypts */
  id: number;
  /** ms since the epoch, from the injected clock */
  createdAt: number;
  wrapped: Uint8Array;
}

export interface KeyringFileData {
  kdf: ScryptParams & { salt: Uint8Array };
  /** master key wrapped by the scrypt(passphrase) key */
  passphraseSlot: Uint8Array;
  /** master key wrapped by HKDF(recovery entropy, salt) */
  recoverySlot: { salt: Uint8Array; wrapped: Uint8Array };
  activeKeyId: number;
  dataKeys: DataKeyEntry[];
  /** the HMAC key for names in LevelDB keys, wrapped by the master key (never rotated) */
  nameKey: Uint8Array;
  /** the node's Ed25519 seed, wrapped by the master key; null until first created */
  identity: { publicKey: Uint8Array; wrapped: Uint8Array } | null;
}

export const keyringPath = (dir: string): string => join(dir, KEYRING_FILE);

/** The body in a fixed field order: the exact bytes the MAC covers. */
function body(data: KeyringFileData): Record<string, unknown> {
  return {
    format: KEYRING_FORMAT,
    version: KEYRING_VERSION,
    cipher: 'aes-256-gcm',
    kdf: { name: 'scrypt', N: data.kdf.N, r: data.kdf.r, p: data.kdf.p, salt: toBase64(data.kdf.salt) },
    slots: {
      passphrase: toBase64(data.passphraseSlot),
      recovery: { salt: toBase64(data.recoverySlot.salt), wrapped: toBase64(data.recoverySlot.wrapped) },
    },
    activeKeyId: data.activeKeyId,
    dataKeys: data.dataKeys.map((k) => ({ id: k.id, createdAt: k.createdAt, wrapped: toBase64(k.wrapped) })),
    nameKey: toBase64(data.nameKey),
    identity:
      data.identity === null
        ? null
        : { publicKey: toBase64Url(data.identity.publicKey), wrapped: toBase64(data.identity.wrapped) },
  };
}

export function computeMac(macKey: Uint8Array, data: KeyringFileData): Buffer {
  return createHmac('sha256', macKey).update(JSON.stringify(body(data)), 'utf8').digest();
}

export function verifyMac(macKey: Uint8Array, data: KeyringFileData, mac: Uint8Array): boolean {
  return bytesEqual(computeMac(macKey, data), mac);
}

export function serializeKeyring(data: KeyringFileData, macKey: Uint8Array): string {
  return `${JSON.stringify({ ...body(data), mac: toBase64(computeMac(macKey, data)) }, null, 2)}\n`;
}

const corrupt = (what: string): Error =>
  cryptoError(CryptoErrorCode.KEYRING_CORRUPT, `keyring file is malformed: ${what}`, { field: what });

const isKeyId = (x: unknown): x is number => Number.isInteger(x) && (x as number) >= 1 && (x as number) <= 0xffff_ffff;

function wrappedField(value: unknown, what: string): Uint8Array {
  const bytes = fromBase64(value, WRAPPED_KEY_BYTES);
  if (!bytes) throw corrupt(what);
  return bytes;
}

function obj(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw corrupt(what);
  return value as Record<string, unknown>;
}

/** Parses and validates the file's structure (not its MAC: that needs the master key). */
export function parseKeyring(text: string): { data: KeyringFileData; mac: Uint8Array } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw corrupt('json');
  }
  const root = obj(raw, 'root');
  if (root.format !== KEYRING_FORMAT) throw corrupt('format');
  if (root.version !== KEYRING_VERSION) {
    throw cryptoError(CryptoErrorCode.KEYRING_CORRUPT, `unsupported keyring version ${String(root.version)}`, {
      field: 'version',
    });
  }
  if (root.cipher !== 'aes-256-gcm') throw corrupt('cipher');
  const kdf = obj(root.kdf, 'kdf');
  const salt = fromBase64(kdf.salt);
  if (kdf.name !== 'scrypt' || !isValidScryptParams(kdf) || !salt || salt.length < 16 || salt.length > 64) throw corrupt('kdf');
  const slots = obj(root.slots, 'slots');
  const recovery = obj(slots.recovery, 'slots.recovery');
  const recoverySalt = fromBase64(recovery.salt, 16);
  if (!recoverySalt) throw corrupt('slots.recovery.salt');
  if (!Array.isArray(root.dataKeys) || root.dataKeys.length === 0) throw corrupt('dataKeys');
  const ids = new Set<number>();
  const dataKeys = root.dataKeys.map((k: unknown, i: number): DataKeyEntry => {
    const entry = obj(k, `dataKeys[${i}]`);
    if (!isKeyId(entry.id) || ids.has(entry.id)) throw corrupt(`dataKeys[${i}].id`);
    if (!Number.isSafeInteger(entry.createdAt)) throw corrupt(`dataKeys[${i}].createdAt`);
    ids.add(entry.id);
    return { id: entry.id, createdAt: entry.createdAt as number, wrapped: wrappedField(entry.wrapped, `dataKeys[${i}].wrapped`) };
  });
  if (!isKeyId(root.activeKeyId) || !ids.has(root.activeKeyId)) throw corrupt('activeKeyId');
  let identity: KeyringFileData['identity'] = null;
  if (root.identity !== null) {
    const id = obj(root.identity, 'identity');
    const publicKey = fromBase64Url(id.publicKey, 32);
    if (!publicKey) throw corrupt('identity.publicKey');
    identity = { publicKey, wrapped: wrappedField(id.wrapped, 'identity.wrapped') };
  }
  const mac = fromBase64(root.mac, 32);
  if (!mac) throw corrupt('mac');
  return {
    data: {
      kdf: { N: kdf.N as number, r: kdf.r as number, p: kdf.p as number, salt },
      passphraseSlot: wrappedField(slots.passphrase, 'slots.passphrase'),
      recoverySlot: { salt: recoverySalt, wrapped: wrappedField(recovery.wrapped, 'slots.recovery.wrapped') },
      activeKeyId: root.activeKeyId,
      dataKeys,
      nameKey: wrappedField(root.nameKey, 'nameKey'),
      identity,
    },
    mac,
  };
}
