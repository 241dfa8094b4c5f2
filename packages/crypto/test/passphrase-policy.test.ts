import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { checkPassphrase, PASSPHRASE_MIN_BITS, PASSPHRASE_MIN_LENGTH, passphraseStrength } from '../src/index.js';

describe('passphrase policy', () => {
  it('checkPassphrase throws CRYPTO_PASSPHRASE_WEAK exactly when passphraseStrength says not ok, and never echoes the passphrase (property)', () => {
    fc.assert(
      // a marker makes an echo recognisable (a bare 'ngth' would be found in 'length')
      fc.property(fc.string({ minLength: 0, maxLength: 40 }).map((x) => `\u2603${x}`), (p) => {
        const s = passphraseStrength(p);
        expect(s.ok).toBe(s.length >= PASSPHRASE_MIN_LENGTH && s.bits >= PASSPHRASE_MIN_BITS);
        let err: { code?: string; message: string; details?: unknown } | undefined;
        try {
          checkPassphrase(p);
        } catch (e) {
          err = e as typeof err;
        }
        expect(err?.code).toBe(s.ok ? undefined : 'CRYPTO_PASSPHRASE_WEAK');
        if (err) {
          expect(err.message).not.toContain(p);
          expect(JSON.stringify(err.details)).not.toContain(p);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('more of the same never helps much, a new distinct character always adds bits (property)', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 2, maxLength: 30 }), (p) => {
        const s = passphraseStrength(p);
        const fresh = String.fromCodePoint(0x4e00 + s.distinct); // a CJK character not in p (p is short)
        if (![...p].includes(fresh)) expect(passphraseStrength(p + fresh).bits).toBeGreaterThan(s.bits);
        expect(passphraseStrength(p.repeat(2)).distinct).toBe(s.distinct);
      }),
    );
  });

  it('rejects non-strings as a bad argument', () => {
    expect(() => checkPassphrase(undefined as unknown as string)).toThrowError(expect.objectContaining({ code: 'CRYPTO_INVALID_ARGUMENT' }));
  });
});
