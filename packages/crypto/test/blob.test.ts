import { describe, expect, it } from 'vitest';
import { BLOB_OVERHEAD_BYTES, MAX_BLOB_PURPOSE_BYTES, initKeyring, unlockKeyring, type Keyring } from '../src/index.js';
import { FAST_SCRYPT, bytes, codeOfSync, tempDir } from './helpers.js';

const PASS = 'blob passphrase 1';
const text = (b: Uint8Array): string => new TextDecoder().decode(b);

async function fresh(): Promise<{ dir: string; keyring: Keyring; recoveryPhrase: string }> {
  const dir = await tempDir();
  const { keyring, recoveryPhrase } = await initKeyring(dir, { passphrase: PASS, scrypt: FAST_SCRYPT });
  return { dir, keyring, recoveryPhrase };
}

describe('sealed blobs', () => {
  it('round trip; opens after unlock by passphrase or phrase, after key rotation and passphrase change', async () => {
    const { dir, keyring, recoveryPhrase } = await fresh();
    const secret = 'ps_0123456789abcdef_secret-token-value';
    const sealed = keyring.sealBlob('admin-token', bytes(secret));
    expect(sealed.length).toBe(bytes(secret).length + BLOB_OVERHEAD_BYTES);
    expect(Buffer.from(sealed).includes(Buffer.from(secret))).toBe(false);
    expect(text(keyring.openBlob('admin-token', sealed))).toBe(secret);
    // random nonces: sealing twice gives different bytes, both open
    const again = keyring.sealBlob('admin-token', bytes(secret));
    expect(Buffer.from(again).equals(Buffer.from(sealed))).toBe(false);
    expect(text(keyring.openBlob('admin-token', again))).toBe(secret);
    expect(keyring.openBlob('empty', keyring.sealBlob('empty', new Uint8Array(0)))).toHaveLength(0);
    await keyring.rotateDataKey();
    await keyring.changePassphrase(PASS, 'another passphrase 2');
    await keyring.close();
    const byPhrase = await unlockKeyring(dir, { recoveryPhrase });
    expect(text(byPhrase.openBlob('admin-token', sealed))).toBe(secret);
    await byPhrase.close();
    const byPass = await unlockKeyring(dir, { passphrase: 'another passphrase 2' });
    expect(text(byPass.openBlob('admin-token', sealed))).toBe(secret);
    await byPass.close();
  });

  it('a blob sealed for one purpose never opens as another (CRYPTO_AUTH_FAILED)', async () => {
    const { keyring } = await fresh();
    const sealed = keyring.sealBlob('admin-token', bytes('x'));
    for (const other of ['admin-token2', 'Admin-token', 'admin-toke', 'peer-secret']) {
      expect(codeOfSync(() => keyring.openBlob(other, sealed))).toBe('CRYPTO_AUTH_FAILED');
    }
    await keyring.close();
  });

  it('any changed, cut or appended byte fails with CRYPTO_AUTH_FAILED; an unknown version with CRYPTO_UNSUPPORTED_FORMAT', async () => {
    const { keyring } = await fresh();
    const sealed = keyring.sealBlob('p', bytes('sixteen byte val'));
    for (let i = 1; i < sealed.length; i++) {
      const bad = Uint8Array.from(sealed);
      bad[i]! ^= 0x01;
      expect(codeOfSync(() => keyring.openBlob('p', bad))).toBe('CRYPTO_AUTH_FAILED');
    }
    const version = Uint8Array.from(sealed);
    version[0] = 2;
    expect(codeOfSync(() => keyring.openBlob('p', version))).toBe('CRYPTO_UNSUPPORTED_FORMAT');
    for (const cut of [0, 1, BLOB_OVERHEAD_BYTES - 1, BLOB_OVERHEAD_BYTES, sealed.length - 1]) {
      expect(codeOfSync(() => keyring.openBlob('p', sealed.subarray(0, cut)))).toBe('CRYPTO_AUTH_FAILED');
    }
    expect(codeOfSync(() => keyring.openBlob('p', Uint8Array.from([...sealed, 0])))).toBe('CRYPTO_AUTH_FAILED');
    await keyring.close();
  });

  it('another keyring cannot open the blob', async () => {
    const a = await fresh();
    const b = await fresh();
    const sealed = a.keyring.sealBlob('p', bytes('mine'));
    expect(codeOfSync(() => b.keyring.openBlob('p', sealed))).toBe('CRYPTO_AUTH_FAILED');
    await a.keyring.close();
    await b.keyring.close();
  });

  it('bad arguments are CRYPTO_INVALID_ARGUMENT; a closed keyring is CRYPTO_KEYRING_CLOSED', async () => {
    const { keyring } = await fresh();
    const sealed = keyring.sealBlob('p', bytes('v'));
    for (const purpose of ['', 'x'.repeat(MAX_BLOB_PURPOSE_BYTES + 1), 7, undefined]) {
      expect(codeOfSync(() => keyring.sealBlob(purpose as string, bytes('v')))).toBe('CRYPTO_INVALID_ARGUMENT');
      expect(codeOfSync(() => keyring.openBlob(purpose as string, sealed))).toBe('CRYPTO_INVALID_ARGUMENT');
    }
    expect(text(keyring.openBlob('x'.repeat(MAX_BLOB_PURPOSE_BYTES), keyring.sealBlob('x'.repeat(MAX_BLOB_PURPOSE_BYTES), bytes('v'))))).toBe('v');
    expect(codeOfSync(() => keyring.sealBlob('p', 'v' as unknown as Uint8Array))).toBe('CRYPTO_INVALID_ARGUMENT');
    expect(codeOfSync(() => keyring.openBlob('p', Buffer.from(sealed).toString('base64') as unknown as Uint8Array))).toBe('CRYPTO_INVALID_ARGUMENT');
    await keyring.close();
    expect(codeOfSync(() => keyring.sealBlob('p', bytes('v')))).toBe('CRYPTO_KEYRING_CLOSED');
    expect(codeOfSync(() => keyring.openBlob('p', sealed))).toBe('CRYPTO_KEYRING_CLOSED');
  });
});
