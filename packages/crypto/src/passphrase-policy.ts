/**
 * The minimum strength of a passphrase that a node accepts for its keyring (init --encrypt,
 * keys recover): a floor against one-character and pattern passphrases, not a dictionary
 * check. A passphrase (NFKC-normalized, counted in code points) passes when
 *   - it has at least PASSPHRASE_MIN_LENGTH (12) characters, and
 *   - length × log2(number of distinct characters) >= PASSPHRASE_MIN_BITS (40).
 * So 'aaaaaaaaaaaa' (0 bits), 'abcabcabcabc' (19) and '123456789012' (39.9) fail; four random
 * words ('correct horse battery staple', 103) or 12+ distinct random characters pass. The scrypt
 * KDF (docs/security.md §2.1) multiplies the cost of every guess; it cannot make a guessable
 * passphrase safe, which is why the floor exists. Pure: the keyring library itself stays
 * permissive; the node and the CLI call checkPassphrase before they set one.
 */
import { CryptoErrorCode, cryptoError } from './errors.js';

export const PASSPHRASE_MIN_LENGTH = 12;
export const PASSPHRASE_MIN_BITS = 40;

export interface PassphraseStrength {
  /** code points after NFKC */
  length: number;
  distinct: number;
  /** length × log2(distinct), the simple estimate the rule uses */
  bits: number;
  ok: boolean;
  /** the first rule it fails */
  rule?: 'length' | 'entropy';
}

export function passphraseStrength(passphrase: string): PassphraseStrength {
  const chars = [...passphrase.normalize('NFKC')];
  const length = chars.length;
  const distinct = new Set(chars).size;
  const bits = distinct > 1 ? Math.round(length * Math.log2(distinct) * 10) / 10 : 0;
  if (length < PASSPHRASE_MIN_LENGTH) return { length, distinct, bits, ok: false, rule: 'length' };
  if (bits < PASSPHRASE_MIN_BITS) return { length, distinct, bits, ok: false, rule: 'entropy' };
  return { length, distinct, bits, ok: true };
}

/** Throws CRYPTO_PASSPHRASE_WEAK (details: rule, length, bits and the minimums; never the passphrase). */
export function checkPassphrase(passphrase: string): void {
  if (typeof passphrase !== 'string') throw cryptoError(CryptoErrorCode.INVALID_ARGUMENT, 'the passphrase must be a string', { field: 'passphrase' });
  const s = passphraseStrength(passphrase);
  if (s.ok) return;
  const why =
    s.rule === 'length'
      ? `it has ${s.length} characters; at least ${PASSPHRASE_MIN_LENGTH} are required`
      : `it is too repetitive (${s.length} characters, ${s.distinct} distinct: about ${s.bits} bits by length × log2(distinct); at least ${PASSPHRASE_MIN_BITS} are required)`;
  throw cryptoError(CryptoErrorCode.PASSPHRASE_WEAK, `the passphrase is too weak: ${why}; use four or more random words`, {
    rule: s.rule,
    length: s.length,
    bits: s.bits,
    minLength: PASSPHRASE_MIN_LENGTH,
    minBits: PASSPHRASE_MIN_BITS,
  });
}
