import fc from 'fast-check';
import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import { secretboxOpen, secretboxSeal, secretboxSealInto } from '../src/secretbox.js';

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });

describe('secretbox (sodium-native) is nacl.secretbox byte for byte', () => {
  it('same boxes as tweetnacl; each opens the other', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), bytes(24), bytes(32), (message, nonce, key) => {
        const ours = secretboxSeal(message, nonce, key);
        const theirs = nacl.secretbox(message, nonce, key);
        expect(ours).toEqual(theirs);
        expect(secretboxOpen(theirs, nonce, key)).toEqual(message);
        expect(nacl.secretbox.open(ours, nonce, key)).toEqual(message);
        const framed = new Uint8Array(9 + ours.length + 3);
        secretboxSealInto(framed, 9, message, nonce, key);
        expect(framed.subarray(9, 9 + ours.length)).toEqual(theirs);
        expect([...framed.subarray(0, 9), ...framed.subarray(9 + ours.length)]).toEqual(new Array(12).fill(0));
      }),
      { numRuns: 300, seed: 20261121 },
    );
  });

  it('a flipped bit, a wrong key or nonce, or a short box fails to open (null)', () => {
    const key = nacl.randomBytes(32);
    const nonce = nacl.randomBytes(24);
    const box = secretboxSeal(new TextEncoder().encode('profile update'), nonce, key);
    for (let i = 0; i < box.length; i++) {
      const bad = box.slice();
      bad[i] = (bad[i] as number) ^ 0x01;
      expect(secretboxOpen(bad, nonce, key)).toBeNull();
    }
    expect(secretboxOpen(box, nonce, nacl.randomBytes(32))).toBeNull();
    expect(secretboxOpen(box, nacl.randomBytes(24), key)).toBeNull();
    expect(secretboxOpen(box.subarray(0, 15), nonce, key)).toBeNull();
    expect(secretboxOpen(box, nonce, key)).toEqual(new TextEncoder().encode('profile update'));
  });
});
