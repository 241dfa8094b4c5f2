import { hkdfSync, scrypt } from 'node:crypto';
import { CryptoErrorCode, cryptoError } from './errors.js';

/** scrypt cost parameters, stored in the keyring file beside the salt. */
export interface ScryptParams {
  /** CPU/memory cost, a power of two */
  N: number;
  /** block size */
  r: number;
  /** parallelism */
  p: number;
}

/** Default: N = 2^17, r = 8, p = 1 (128 MiB, roughly 0.3-0.6 s here). */
export const DEFAULT_SCRYPT: Readonly<ScryptParams> = Object.freeze({ N: 2 ** 17, r: 8, p: 1 });

/** Bounds accepted from options and from a keyring file (a tampered file cannot ask for 64 GiB). */
export const SCRYPT_LIMITS = Object.freeze({ minLogN: 10, maxLogN: 22, maxR: 32, maxP: 16, maxMemBytes: 1024 * 1024 * 1024 });

/** Pure policy: whether scrypt parameters are acceptable. */
export function isValidScryptParams(params: unknown): params is ScryptParams {
  if (typeof params !== 'object' || params === null) return false;
  const { N, r, p } = params as Record<string, unknown>;
  if (!Number.isSafeInteger(N) || !Number.isSafeInteger(r) || !Number.isSafeInteger(p)) return false;
  const n = N as number;
  const logN = Math.log2(n);
  if (!Number.isInteger(logN) || logN < SCRYPT_LIMITS.minLogN || logN > SCRYPT_LIMITS.maxLogN) return false;
  if ((r as number) < 1 || (r as number) > SCRYPT_LIMITS.maxR || (p as number) < 1 || (p as number) > SCRYPT_LIMITS.maxP) return false;
  return scryptMemory(params as ScryptParams) <= SCRYPT_LIMITS.maxMemBytes;
}

function scryptMemory({ N, r, p }: ScryptParams): number {
  return 128 * N * r + 128 * r * p;
}

export function resolveScryptParams(overrides: Partial<ScryptParams> | undefined): ScryptParams {
  const params: ScryptParams = { ...DEFAULT_SCRYPT, ...overrides };
  if (!isValidScryptParams(params as unknown)) {
    throw cryptoError(CryptoErrorCode.INVALID_ARGUMENT, 'scrypt parameters out of range', {
      N: params.N,
      r: params.r,
      p: params.p,
    });
  }
  return params;
}

/** Passphrases are normalized (NFKC) so the same words typed on another system unlock. */
export function passphraseBytes(passphrase: unknown): Buffer {
  if (typeof passphrase !== 'string' || passphrase.length === 0 || passphrase.length > 4096) {
    throw cryptoError(CryptoErrorCode.INVALID_ARGUMENT, 'a passphrase must be a non-empty string of at most 4096 characters');
  }
  return Buffer.from(passphrase.normalize('NFKC'), 'utf8');
}

/** Derives a 32-byte key-encryption key from a passphrase (async: does not block the event loop). */
export function deriveScrypt(passphrase: string, salt: Uint8Array, params: ScryptParams): Promise<Buffer> {
  const secret = passphraseBytes(passphrase);
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, 32, { N: params.N, r: params.r, p: params.p, maxmem: scryptMemory(params) + 1024 * 1024 }, (err, key) => {
      secret.fill(0);
      if (err) reject(cryptoError(CryptoErrorCode.INVALID_ARGUMENT, 'scrypt failed', { N: params.N, r: params.r, p: params.p }));
      else resolve(key);
    });
  });
}

/** HKDF (RFC 5869) over node:crypto; returns a fresh Buffer of `length` bytes. */
export function hkdf(hash: 'sha256' | 'sha512', ikm: Uint8Array, salt: Uint8Array, info: string | Uint8Array, length: number): Buffer {
  return Buffer.from(hkdfSync(hash, ikm, salt, typeof info === 'string' ? Buffer.from(info, 'utf8') : info, length));
}
