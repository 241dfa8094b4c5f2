import { randomBytes } from 'node:crypto';
import { entropyToMnemonic, mnemonicToEntropy } from '@scure/bip39';
import { wordlist } from '@scure/bip39/wordlists/english.js';
import { CryptoErrorCode, cryptoError } from './errors.js';

/** 24 words = 256 bits of entropy (+ 8 checksum bits), BIP-39 English wordlist. */
export const RECOVERY_WORDS = 24;
export const RECOVERY_ENTROPY_BYTES = 32;

export interface RecoverySecret {
  /** the 32 random bytes the phrase encodes; zero it when done */
  entropy: Buffer;
  /** the 24-word phrase, shown once at init */
  phrase: string;
}

export function generateRecoverySecret(): RecoverySecret {
  const entropy = randomBytes(RECOVERY_ENTROPY_BYTES);
  return { entropy, phrase: entropyToMnemonic(entropy, wordlist) };
}

/** Pure: lowercases and collapses whitespace, so a phrase pasted with line breaks still works. */
export function normalizeRecoveryPhrase(phrase: string): string {
  return phrase.normalize('NFKD').trim().toLowerCase().split(/\s+/u).join(' ');
}

/**
 * Decodes a phrase back to its entropy. A phrase that is not 24 known words with a valid
 * checksum fails with CRYPTO_BAD_RECOVERY_PHRASE (the message never echoes the words).
 */
export function recoveryPhraseToEntropy(phrase: unknown): Buffer {
  if (typeof phrase !== 'string') {
    throw cryptoError(CryptoErrorCode.BAD_RECOVERY_PHRASE, 'the recovery phrase must be a string of 24 words');
  }
  const normalized = normalizeRecoveryPhrase(phrase);
  const words = normalized.split(' ').length;
  if (words !== RECOVERY_WORDS) {
    throw cryptoError(CryptoErrorCode.BAD_RECOVERY_PHRASE, `the recovery phrase must have 24 words, got ${words}`, { words });
  }
  let entropy: Uint8Array;
  try {
    entropy = mnemonicToEntropy(normalized, wordlist);
  } catch {
    throw cryptoError(CryptoErrorCode.BAD_RECOVERY_PHRASE, 'the recovery phrase has an unknown word or a bad checksum');
  }
  const out = Buffer.from(entropy);
  entropy.fill(0);
  return out;
}
