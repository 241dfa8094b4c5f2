import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  IDENTITY_FILE,
  KEYRING_FILE,
  NodeIdentity,
  fingerprint,
  initKeyring,
  loadOrCreateIdentity,
  readPublicIdentity,
  unlockKeyring,
} from '../src/index.js';
import { unwrapSecret } from '../src/aead.js';
import { utf8 } from '../src/bytes.js';
import { deriveScrypt, hkdf } from '../src/kdf.js';
import { parseKeyring, serializeKeyring } from '../src/keyring-file.js';
import { FAST_SCRYPT, codeOf, tempDir } from './helpers.js';

const PASS = 'public identity passphrase';
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('readPublicIdentity, plain dirs', () => {
  it('reads identity.json without creating anything; undefined before the identity exists', async () => {
    const dir = await tempDir();
    expect(await readPublicIdentity(dir)).toBeUndefined();
    expect(await readPublicIdentity(join(dir, 'missing'))).toBeUndefined();
    expect(await readdir(dir)).toEqual([]);
    const id = await loadOrCreateIdentity(dir);
    const before = await readdir(dir);
    const pub = await readPublicIdentity(dir);
    expect(pub).toEqual({ publicKey: id.publicKey, publicKeyText: id.publicKeyText, fingerprint: id.fingerprint });
    expect(pub!.fingerprint).toBe(fingerprint(pub!.publicKey));
    expect(await readdir(dir)).toEqual(before);
    id.close();
  });

  it('a malformed or inconsistent identity.json is CRYPTO_IDENTITY_CORRUPT; a bad dir argument CRYPTO_INVALID_ARGUMENT', async () => {
    const dir = await tempDir();
    (await loadOrCreateIdentity(dir)).close();
    const path = join(dir, IDENTITY_FILE);
    const original = JSON.parse(await readFile(path, 'utf8'));
    for (const bad of ['{', JSON.stringify({ ...original, publicKey: NodeIdentity.generate().identity.publicKeyText }), JSON.stringify({ ...original, seed: 'x' })]) {
      await writeFile(path, bad);
      expect(await codeOf(() => readPublicIdentity(dir))).toBe('CRYPTO_IDENTITY_CORRUPT');
    }
    expect(await codeOf(() => readPublicIdentity(''))).toBe('CRYPTO_INVALID_ARGUMENT');
    expect(await codeOf(() => readPublicIdentity(undefined as unknown as string))).toBe('CRYPTO_INVALID_ARGUMENT');
  });
});

describe('readPublicIdentity, encrypted dirs', () => {
  it('reads the clear public key of keyring.json with no passphrase, while the keyring is open and after', async () => {
    const dir = await tempDir();
    const { keyring } = await initKeyring(dir, { passphrase: PASS, scrypt: FAST_SCRYPT });
    expect(await readPublicIdentity(dir)).toBeUndefined();
    const id = await loadOrCreateIdentity(dir, keyring);
    expect((await readPublicIdentity(dir))?.publicKeyText).toBe(id.publicKeyText);
    await keyring.close();
    const before = await readFile(join(dir, KEYRING_FILE), 'utf8');
    const pub = await readPublicIdentity(dir);
    expect(pub).toEqual({ publicKey: id.publicKey, publicKeyText: id.publicKeyText, fingerprint: id.fingerprint });
    expect(await readFile(join(dir, KEYRING_FILE), 'utf8')).toBe(before);
    expect(await readdir(dir)).toEqual([KEYRING_FILE]);
  });

  it('a keyring without an identity yet reports the plaintext identity.json the next unlock adopts', async () => {
    const dir = await tempDir();
    const plain = await loadOrCreateIdentity(dir);
    const { keyring } = await initKeyring(dir, { passphrase: PASS, scrypt: FAST_SCRYPT });
    expect((await readPublicIdentity(dir))?.publicKeyText).toBe(plain.publicKeyText);
    const moved = await loadOrCreateIdentity(dir, keyring);
    expect(moved.publicKeyText).toBe(plain.publicKeyText);
    expect((await readdir(dir)).includes(IDENTITY_FILE)).toBe(false);
    expect((await readPublicIdentity(dir))?.publicKeyText).toBe(plain.publicKeyText);
    await keyring.close();
  });

  it('a malformed keyring.json is CRYPTO_KEYRING_CORRUPT', async () => {
    const dir = await tempDir();
    const { keyring } = await initKeyring(dir, { passphrase: PASS, scrypt: FAST_SCRYPT });
    (await loadOrCreateIdentity(dir, keyring)).close();
    await keyring.close();
    const path = join(dir, KEYRING_FILE);
    const j = JSON.parse(await readFile(path, 'utf8'));
    j.identity.publicKey = 'short';
    await writeFile(path, JSON.stringify(j));
    expect(await codeOf(() => readPublicIdentity(dir))).toBe('CRYPTO_KEYRING_CORRUPT');
    await writeFile(path, '[');
    expect(await codeOf(() => readPublicIdentity(dir))).toBe('CRYPTO_KEYRING_CORRUPT');
  });

  it('unlock refuses a clear public key that does not match the wrapped seed, even under a valid MAC', async () => {
    const dir = await tempDir();
    const { keyring } = await initKeyring(dir, { passphrase: PASS, scrypt: FAST_SCRYPT });
    (await loadOrCreateIdentity(dir, keyring)).close();
    await keyring.close();
    // re-MAC the file the way only a holder of the master key could (the test derives MK itself)
    const path = join(dir, KEYRING_FILE);
    const { data } = parseKeyring(await readFile(path, 'utf8'));
    const kek = await deriveScrypt(PASS, data.kdf.salt, data.kdf);
    const mk = unwrapSecret(kek, data.passphraseSlot, utf8('profilesync/keyring/v1/slot/passphrase'))!;
    const macKey = hkdf('sha256', mk, new Uint8Array(0), 'profilesync/keyring/v1/mac', 32);
    const other = NodeIdentity.generate().identity;
    await writeFile(path, serializeKeyring({ ...data, identity: { publicKey: other.publicKey, wrapped: data.identity!.wrapped } }, macKey));
    // without a secret the clear key cannot be authenticated: readPublicIdentity reports what the file says
    expect((await readPublicIdentity(dir))?.publicKeyText).toBe(other.publicKeyText);
    await expect(unlockKeyring(dir, { passphrase: PASS })).rejects.toMatchObject({ code: 'CRYPTO_KEYRING_CORRUPT', details: { field: 'identity.publicKey' } });
    // the untouched file (same MAC key) still unlocks: the check is what refused the edit
    await writeFile(path, serializeKeyring(data, macKey));
    const ok = await unlockKeyring(dir, { passphrase: PASS });
    expect(hex(ok.identityPublicKey!)).toBe(hex(data.identity!.publicKey));
    await ok.close();
  });
});
