import { readFile, stat, writeFile, readdir } from 'node:fs/promises';
import { inspect } from 'node:util';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateMnemonic } from '@scure/bip39';
import { wordlist } from '@scure/bip39/wordlists/english.js';
import { KEYRING_FILE, createAtRestCodec, initKeyring, isEncryptedDir, unlockKeyring, type Keyring } from '../src/index.js';
import { materialOf } from '../src/key-material.js';
import { FAST_SCRYPT, bytes, codeOf, codeOfSync, tempDir } from './helpers.js';

const PASS = 'correct horse battery staple';
const place = { kind: 'entry' as const, stream: 7, seq: 1 };

async function fresh(): Promise<{ dir: string; keyring: Keyring; recoveryPhrase: string }> {
  const dir = await tempDir();
  const { keyring, recoveryPhrase } = await initKeyring(dir, { passphrase: PASS, scrypt: FAST_SCRYPT });
  return { dir, keyring, recoveryPhrase };
}

describe('keyring init and unlock', () => {
  it('writes a 0600 keyring file with no plaintext secret and a 24-word recovery phrase', async () => {
    const { dir, keyring, recoveryPhrase } = await fresh();
    expect(recoveryPhrase.split(' ')).toHaveLength(24);
    const st = await stat(join(dir, KEYRING_FILE));
    expect(st.mode & 0o777).toBe(0o600);
    const text = await readFile(join(dir, KEYRING_FILE), 'utf8');
    expect(text).not.toContain(PASS);
    expect(text).not.toContain(recoveryPhrase.split(' ').slice(0, 3).join(' '));
    const json = JSON.parse(text);
    expect(json).toMatchObject({ format: 'profilesync-keyring', version: 1, activeKeyId: 1, kdf: { name: 'scrypt', N: 1024, r: 8, p: 1 } });
    // no temp files left behind
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(await isEncryptedDir(dir)).toBe(true);
    await keyring.close();
  });

  it('unlocks with the passphrase and with the recovery phrase; both open the same data', async () => {
    const { dir, keyring, recoveryPhrase } = await fresh();
    const sealed = createAtRestCodec(keyring).encode(place, bytes('hello'));
    await keyring.close();

    const byPass = await unlockKeyring(dir, { passphrase: PASS });
    expect(byPass.unlockedWith).toBe('passphrase');
    expect(byPass.unlockDurationMillis).toBeGreaterThan(0);
    expect(new TextDecoder().decode(createAtRestCodec(byPass).decode(place, sealed))).toBe('hello');
    await byPass.close();

    // recovery phrase: case and whitespace do not matter
    const messy = `  ${recoveryPhrase.toUpperCase().split(' ').join('\n ')}  `;
    const byPhrase = await unlockKeyring(dir, { recoveryPhrase: messy });
    expect(byPhrase.unlockedWith).toBe('recovery');
    expect(new TextDecoder().decode(createAtRestCodec(byPhrase).decode(place, sealed))).toBe('hello');
    await byPhrase.close();
  });

  it('rejects a wrong passphrase with CRYPTO_BAD_PASSPHRASE', async () => {
    const { dir, keyring } = await fresh();
    await keyring.close();
    expect(await codeOf(() => unlockKeyring(dir, { passphrase: 'correct horse battery stapler' }))).toBe('CRYPTO_BAD_PASSPHRASE');
    expect(await codeOf(() => unlockKeyring(dir, { passphrase: '' }))).toBe('CRYPTO_INVALID_ARGUMENT');
  });

  it('rejects wrong recovery phrases with CRYPTO_BAD_RECOVERY_PHRASE', async () => {
    const { dir, keyring, recoveryPhrase } = await fresh();
    await keyring.close();
    const otherValid = generateMnemonic(wordlist, 256);
    const words = recoveryPhrase.split(' ');
    const swapped = [...words.slice(0, 23), words[23] === 'zoo' ? 'abandon' : 'zoo'].join(' ');
    const cases = [otherValid, words.slice(0, 12).join(' '), `${recoveryPhrase} extra`, swapped, words.map(() => 'notaword').join(' ')];
    for (const phrase of cases) {
      expect(await codeOf(() => unlockKeyring(dir, { recoveryPhrase: phrase }))).toBe('CRYPTO_BAD_RECOVERY_PHRASE');
    }
  });

  it('refuses to init twice, to unlock a dir without keyring, or a bad secret shape', async () => {
    const { dir, keyring } = await fresh();
    const before = await readFile(join(dir, KEYRING_FILE), 'utf8');
    expect(await codeOf(() => initKeyring(dir, { passphrase: 'other', scrypt: FAST_SCRYPT }))).toBe('CRYPTO_KEYRING_EXISTS');
    expect(await readFile(join(dir, KEYRING_FILE), 'utf8')).toBe(before);
    const empty = await tempDir();
    expect(await isEncryptedDir(empty)).toBe(false);
    expect(await codeOf(() => unlockKeyring(empty, { passphrase: PASS }))).toBe('CRYPTO_KEYRING_NOT_FOUND');
    expect(await codeOf(() => unlockKeyring(dir, {} as never))).toBe('CRYPTO_INVALID_ARGUMENT');
    expect(await codeOf(() => initKeyring(empty, { passphrase: PASS, scrypt: { N: 1000 } }))).toBe('CRYPTO_INVALID_ARGUMENT');
    expect(await codeOf(() => initKeyring(empty, { passphrase: PASS, scrypt: { N: 2 ** 30 } }))).toBe('CRYPTO_INVALID_ARGUMENT');
    expect(await isEncryptedDir(empty)).toBe(false);
    await keyring.close();
  });

  it('detects a tampered or malformed keyring file with CRYPTO_KEYRING_CORRUPT', async () => {
    const { dir, keyring } = await fresh();
    await keyring.rotateDataKey();
    await keyring.close();
    const path = join(dir, KEYRING_FILE);
    const original = await readFile(path, 'utf8');
    const edits: ((j: Record<string, any>) => void)[] = [
      (j) => (j.activeKeyId = 1), // downgrade to the old key: caught by the MAC
      (j) => j.dataKeys.pop(),
      (j) => (j.dataKeys[0].createdAt += 1),
      (j) => (j.identity = { publicKey: 'A'.repeat(43), wrapped: j.nameKey }),
      (j) => ([j.dataKeys[0].wrapped, j.dataKeys[1].wrapped] = [j.dataKeys[1].wrapped, j.dataKeys[0].wrapped]),
      (j) => (j.kdf.N = 2 ** 40),
      (j) => (j.version = 2),
      (j) => (j.mac = 'AAAA'),
      (j) => delete j.slots,
    ];
    for (const edit of edits) {
      const j = JSON.parse(original);
      edit(j);
      await writeFile(path, JSON.stringify(j));
      expect(await codeOf(() => unlockKeyring(dir, { passphrase: PASS }))).toBe('CRYPTO_KEYRING_CORRUPT');
    }
    await writeFile(path, '{ not json');
    expect(await codeOf(() => unlockKeyring(dir, { passphrase: PASS }))).toBe('CRYPTO_KEYRING_CORRUPT');
    await writeFile(path, original);
    const ok = await unlockKeyring(dir, { passphrase: PASS });
    expect(ok.activeKeyId).toBe(2);
    await ok.close();
  });
});

describe('keyring changes', () => {
  it('rotates the data key: new records carry the new id, old ones stay readable after reopen', async () => {
    const { dir, keyring } = await fresh();
    const clockTimes = [1000, 2000];
    await keyring.close();
    const k = await unlockKeyring(dir, { passphrase: PASS }, { clock: () => clockTimes.shift() ?? 3000 });
    const codec = createAtRestCodec(k);
    const old = codec.encode(place, bytes('old'));
    const rotated: number[] = [];
    k.on('key-rotated', (e) => rotated.push(e.keyId));
    expect(await k.rotateDataKey()).toEqual({ keyId: 2 });
    expect(await k.rotateDataKey()).toEqual({ keyId: 3 });
    expect(rotated).toEqual([2, 3]);
    const next = codec.encode(place, bytes('new'));
    expect(old[4]).toBe(1);
    expect(next[4]).toBe(3);
    expect(k.keys).toEqual([
      expect.objectContaining({ id: 1, active: false }),
      { id: 2, createdAt: 1000, active: false },
      { id: 3, createdAt: 2000, active: true },
    ]);
    await k.close();
    const again = await unlockKeyring(dir, { passphrase: PASS });
    expect(again.activeKeyId).toBe(3);
    const c2 = createAtRestCodec(again);
    expect(new TextDecoder().decode(c2.decode(place, old))).toBe('old');
    expect(new TextDecoder().decode(c2.decode(place, next))).toBe('new');
    await again.close();
  });

  it('changes the passphrase without touching data; the old passphrase stops working', async () => {
    const { dir, keyring, recoveryPhrase } = await fresh();
    const sealed = createAtRestCodec(keyring).encode(place, bytes('kept'));
    expect(await codeOf(() => keyring.changePassphrase('nope', 'new pass'))).toBe('CRYPTO_BAD_PASSPHRASE');
    expect(await codeOf(() => keyring.changePassphrase(PASS, ''))).toBe('CRYPTO_INVALID_ARGUMENT');
    await keyring.changePassphrase(PASS, 'new pass', { scrypt: { N: 2048 } });
    await keyring.close();
    expect(await codeOf(() => unlockKeyring(dir, { passphrase: PASS }))).toBe('CRYPTO_BAD_PASSPHRASE');
    const k = await unlockKeyring(dir, { passphrase: 'new pass' });
    expect(k.scryptParams).toEqual({ N: 2048, r: 8, p: 1 });
    expect(new TextDecoder().decode(createAtRestCodec(k).decode(place, sealed))).toBe('kept');
    await k.close();
    // the recovery phrase still works after a passphrase change
    const r = await unlockKeyring(dir, { recoveryPhrase });
    await r.close();
  });

  it('recovers: unlock by phrase, reset the passphrase, rotate the phrase', async () => {
    const { dir, keyring, recoveryPhrase } = await fresh();
    await keyring.close();
    const k = await unlockKeyring(dir, { recoveryPhrase });
    await k.resetPassphrase('after recovery', { scrypt: FAST_SCRYPT });
    const { recoveryPhrase: newPhrase } = await k.rotateRecoveryPhrase();
    expect(newPhrase).not.toBe(recoveryPhrase);
    await k.close();
    expect(await codeOf(() => unlockKeyring(dir, { recoveryPhrase }))).toBe('CRYPTO_BAD_RECOVERY_PHRASE');
    await (await unlockKeyring(dir, { recoveryPhrase: newPhrase })).close();
    const byPass = await unlockKeyring(dir, { passphrase: 'after recovery' });
    await byPass.close();
  });

  it('serializes concurrent changes (no lost rotation)', async () => {
    const { dir, keyring } = await fresh();
    await Promise.all([keyring.rotateDataKey(), keyring.rotateDataKey(), keyring.changePassphrase(PASS, 'p2'), keyring.rotateDataKey()]);
    await keyring.close();
    const k = await unlockKeyring(dir, { passphrase: 'p2' });
    expect(k.keys.map((x) => x.id)).toEqual([1, 2, 3, 4]);
    await k.close();
  });
});

describe('secret hygiene', () => {
  it('close() zeroes every key buffer; the codec and changes then fail with CRYPTO_KEYRING_CLOSED', async () => {
    const { keyring } = await fresh();
    await keyring.rotateDataKey();
    const codec = createAtRestCodec(keyring);
    const m = materialOf(keyring)!;
    const buffers = [...m.dataKeys.values(), m.nameKey];
    expect(buffers.every((b) => b.some((x) => x !== 0))).toBe(true);
    const events: string[] = [];
    keyring.on('closed', () => events.push('closed'));
    await keyring.close();
    await keyring.close();
    expect(events).toEqual(['closed']);
    expect(buffers.every((b) => b.every((x) => x === 0))).toBe(true);
    expect(codeOfSync(() => codec.encode(place, bytes('x')))).toBe('CRYPTO_KEYRING_CLOSED');
    expect(codeOfSync(() => codec.keyFor('x'))).toBe('CRYPTO_KEYRING_CLOSED');
    expect(await codeOf(() => keyring.rotateDataKey())).toBe('CRYPTO_KEYRING_CLOSED');
    expect(keyring.isClosed).toBe(true);
  });

  it('no passphrase, phrase or key-like bytes in errors, events or inspect output', async () => {
    const { dir, keyring, recoveryPhrase } = await fresh();
    const seen: string[] = [];
    keyring.on('key-rotated', (e) => seen.push(JSON.stringify(e)));
    await keyring.rotateDataKey();
    const codec = createAtRestCodec(keyring);
    const record = codec.encode(place, bytes('secret payload'));
    seen.push(inspect(keyring, { depth: 5 }), JSON.stringify(keyring), inspect(codec, { depth: 5 }));
    const collect = async (fn: () => unknown): Promise<void> => {
      try {
        await fn();
      } catch (err) {
        seen.push(String(err), JSON.stringify(err), inspect(err, { depth: 5 }));
        return;
      }
      throw new Error('expected a failure');
    };
    const tampered = new Uint8Array(record);
    tampered[tampered.length - 1]! ^= 1;
    await collect(() => codec.decode(place, tampered));
    await collect(() => codec.decode({ ...place, seq: 2 }, record));
    await collect(() => keyring.changePassphrase(`${PASS}!`, 'x'));
    await keyring.close();
    await collect(() => unlockKeyring(dir, { passphrase: `${PASS}?` }));
    await collect(() => unlockKeyring(dir, { recoveryPhrase: recoveryPhrase.split(' ').reverse().join(' ') }));
    await collect(() => unlockKeyring(dir, { recoveryPhrase: `${recoveryPhrase} more` }));
    // stack frames name source files, whose absolute paths depend on where the repo is checked
    // out (and look like base64 runs): they carry no secrets, so leave them out of the scan
    const all = seen.join('\n').replace(/^\s*at .*$/gm, '').replaceAll(fileURLToPath(new URL('../../..', import.meta.url)), '<repo>/');
    expect(all).not.toContain(PASS);
    const words = recoveryPhrase.split(' ');
    for (let i = 0; i + 2 < words.length; i++) expect(all).not.toContain(words.slice(i, i + 3).join(' '));
    expect(all).not.toContain('secret payload');
    // nothing that looks like encoded key material: no long base64/hex runs
    expect(all.match(/[A-Za-z0-9+/_-]{40,}/g) ?? []).toEqual([]);
  });
});
