import fc from 'fast-check';
import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import { signDetached, signKeyPairFromSeed, verifyDetached, x25519, x25519KeyPair } from '../src/nacl.js';

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });

describe('libsodium (sodium-native) gives the bytes of tweetnacl', () => {
  it('Ed25519: same key pairs and signatures; each verifies the other', () => {
    fc.assert(
      fc.property(bytes(32), fc.uint8Array({ maxLength: 300 }), (seed, message) => {
        const ours = signKeyPairFromSeed(seed);
        const theirs = nacl.sign.keyPair.fromSeed(seed);
        expect(ours.publicKey).toEqual(theirs.publicKey);
        expect(ours.secretKey).toEqual(theirs.secretKey);
        const sig = signDetached(message, ours.secretKey);
        expect(sig).toEqual(nacl.sign.detached(message, theirs.secretKey));
        expect(nacl.sign.detached.verify(message, sig, theirs.publicKey)).toBe(true);
        expect(verifyDetached(message, nacl.sign.detached(message, theirs.secretKey), ours.publicKey)).toBe(true);
        const tampered = sig.slice();
        tampered[0] = (tampered[0] as number) ^ 1;
        expect(verifyDetached(message, tampered, ours.publicKey)).toBe(false);
      }),
      { numRuns: 200, seed: 20261121 },
    );
  });

  it('X25519: same shared secrets as nacl.scalarMult; key pairs are (secret, base * secret)', () => {
    fc.assert(
      fc.property(bytes(32), bytes(32), (a, b) => {
        const bPublic = nacl.scalarMult.base(b);
        const shared = x25519(a, bPublic);
        expect(shared).toEqual(nacl.scalarMult(a, bPublic));
        expect(shared).toEqual(x25519(b, nacl.scalarMult.base(a)));
      }),
      { numRuns: 200, seed: 7 },
    );
    const pair = x25519KeyPair();
    expect(pair.publicKey).toEqual(nacl.scalarMult.base(pair.secretKey));
    expect(x25519KeyPair().secretKey).not.toEqual(pair.secretKey);
  });

  it('a low-order peer point gives null, never an all-zero shared secret', () => {
    const secret = x25519KeyPair().secretKey;
    const lowOrder = [
      new Uint8Array(32), // 0
      Uint8Array.of(1, ...new Array(31).fill(0)), // 1
      Uint8Array.from(Buffer.from('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800', 'hex')), // order 8
    ];
    for (const p of lowOrder) {
      expect(nacl.scalarMult(secret, p).every((x) => x === 0)).toBe(true);
      expect(x25519(secret, p)).toBeNull();
    }
  });
});
