import { readFile, stat, writeFile, access } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  IDENTITY_FILE,
  KEYRING_FILE,
  NodeIdentity,
  encodePublicKey,
  fingerprint,
  initKeyring,
  loadOrCreateIdentity,
  parsePublicKey,
  unlockKeyring,
  verifySignature,
} from '../src/index.js';
import { FAST_SCRYPT, bytes, codeOf, codeOfSync, tempDir } from './helpers.js';

const exists = (p: string): Promise<boolean> => access(p).then(() => true, () => false);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('node identity without encryption', () => {
  it('creates identity.json (0600) once and loads the same key afterwards', async () => {
    const dir = await tempDir();
    const a = await loadOrCreateIdentity(dir);
    const st = await stat(join(dir, IDENTITY_FILE));
    expect(st.mode & 0o777).toBe(0o600);
    const b = await loadOrCreateIdentity(dir);
    expect(hex(b.publicKey)).toBe(hex(a.publicKey));
    const msg = bytes('transcript');
    expect(verifySignature(msg, b.sign(msg), a.publicKey)).toBe(true);
    expect(verifySignature(bytes('other'), b.sign(msg), a.publicKey)).toBe(false);
    a.close();
    expect(codeOfSync(() => a.sign(msg))).toBe('CRYPTO_IDENTITY_CLOSED');
    expect(a.isClosed).toBe(true);
    b.close();
  });

  it('two concurrent first calls agree on one identity', async () => {
    const dir = await tempDir();
    const [a, b] = await Promise.all([loadOrCreateIdentity(dir), loadOrCreateIdentity(dir)]);
    expect(hex(a.publicKey)).toBe(hex(b.publicKey));
  });

  it('rejects a malformed or inconsistent identity.json with CRYPTO_IDENTITY_CORRUPT', async () => {
    const dir = await tempDir();
    (await loadOrCreateIdentity(dir)).close();
    const path = join(dir, IDENTITY_FILE);
    const original = JSON.parse(await readFile(path, 'utf8'));
    const other = NodeIdentity.generate().identity;
    for (const bad of [
      '{',
      JSON.stringify({ ...original, publicKey: other.publicKeyText }),
      JSON.stringify({ ...original, seed: 'short' }),
      JSON.stringify({ ...original, algorithm: 'rsa' }),
    ]) {
      await writeFile(path, bad);
      expect(await codeOf(() => loadOrCreateIdentity(dir))).toBe('CRYPTO_IDENTITY_CORRUPT');
    }
  });
});

describe('node identity with encryption', () => {
  it('keeps the seed wrapped in the keyring, never in identity.json; stable across unlocks', async () => {
    const dir = await tempDir();
    const { keyring, recoveryPhrase } = await initKeyring(dir, { passphrase: 'p', scrypt: FAST_SCRYPT });
    const id = await loadOrCreateIdentity(dir, keyring);
    expect(await exists(join(dir, IDENTITY_FILE))).toBe(false);
    expect(hex(keyring.identityPublicKey!)).toBe(hex(id.publicKey));
    await keyring.close();
    expect(await codeOf(() => loadOrCreateIdentity(dir))).toBe('CRYPTO_KEYRING_LOCKED');
    expect(await exists(join(dir, IDENTITY_FILE))).toBe(false);
    const byPhrase = await unlockKeyring(dir, { recoveryPhrase });
    const again = await loadOrCreateIdentity(dir, byPhrase);
    expect(hex(again.publicKey)).toBe(hex(id.publicKey));
    const msg = bytes('m');
    expect(verifySignature(msg, again.sign(msg), id.publicKey)).toBe(true);
    await byPhrase.close();
    const file = await readFile(join(dir, KEYRING_FILE), 'utf8');
    expect(file).toContain(id.publicKeyText);
  });

  it('moves an existing plaintext identity.json into the keyring and deletes it', async () => {
    const dir = await tempDir();
    const plain = await loadOrCreateIdentity(dir);
    const { keyring } = await initKeyring(dir, { passphrase: 'p', scrypt: FAST_SCRYPT });
    const moved = await loadOrCreateIdentity(dir, keyring);
    expect(hex(moved.publicKey)).toBe(hex(plain.publicKey));
    expect(await exists(join(dir, IDENTITY_FILE))).toBe(false);
    await keyring.close();
    const k = await unlockKeyring(dir, { passphrase: 'p' });
    expect(hex((await loadOrCreateIdentity(dir, k)).publicKey)).toBe(hex(plain.publicKey));
    await k.close();
  });
});

describe('public key text and fingerprints', () => {
  it('round-trips the base64url form and rejects anything else with CRYPTO_BAD_PUBLIC_KEY', () => {
    const { identity } = NodeIdentity.generate();
    const textKey = identity.publicKeyText;
    expect(textKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(hex(parsePublicKey(`  ${textKey}\n`))).toBe(hex(identity.publicKey));
    expect(encodePublicKey(identity.publicKey)).toBe(textKey);
    for (const bad of ['', textKey.slice(1), `${textKey}A`, `${textKey.slice(0, 42)}+`, Buffer.from(identity.publicKey).toString('base64'), 42]) {
      expect(codeOfSync(() => parsePublicKey(bad))).toBe('CRYPTO_BAD_PUBLIC_KEY');
    }
    expect(codeOfSync(() => encodePublicKey(new Uint8Array(31)))).toBe('CRYPTO_BAD_PUBLIC_KEY');
    expect(codeOfSync(() => fingerprint(new Uint8Array(33)))).toBe('CRYPTO_BAD_PUBLIC_KEY');
    expect(JSON.stringify(identity)).toBe(JSON.stringify({ publicKey: textKey, fingerprint: identity.fingerprint }));
  });

  it('fingerprints are short, grouped, deterministic and differ between keys', () => {
    const a = NodeIdentity.generate().identity;
    const b = NodeIdentity.generate().identity;
    expect(a.fingerprint).toMatch(/^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$/);
    expect(fingerprint(a.publicKey)).toBe(a.fingerprint);
    expect(a.fingerprint).not.toBe(b.fingerprint);
    // known answer: all-zero key -> first 10 bytes of sha256(32 zero bytes) = 66687aadf862bd776c8f
    expect(fingerprint(new Uint8Array(32))).toBe('mzuh-vlpy-mk6x-o3ep');
  });

  it('builds an identity from a 32-byte seed only', () => {
    expect(codeOfSync(() => NodeIdentity.fromSeed(new Uint8Array(31)))).toBe('CRYPTO_INVALID_ARGUMENT');
    const seed = new Uint8Array(32).fill(7);
    expect(hex(NodeIdentity.fromSeed(seed).publicKey)).toBe(hex(NodeIdentity.fromSeed(seed).publicKey));
  });
});
