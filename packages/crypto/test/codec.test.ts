import { createCipheriv, hkdfSync } from 'node:crypto';
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import nacl from 'tweetnacl';
import { afterEach, describe, expect, it } from 'vitest';
import type { Place, RecordKind } from '@profilesync/log';
import {
  AT_REST_CODEC_ID,
  KEYRING_FILE,
  KIND_CODES,
  RECORD_OVERHEAD_BYTES,
  RECORD_VERSION,
  createAtRestCodec,
  initKeyring,
  recordAad,
  unlockKeyring,
  type AtRestCodec,
  type Keyring,
} from '../src/index.js';
import { materialOf } from '../src/key-material.js';
import { FAST_SCRYPT, bytes, codeOf, codeOfSync, tempDir } from './helpers.js';

const PASS = 'pass';
const KINDS: RecordKind[] = ['entry', 'view', 'snapshot', 'catalog', 'aux'];
const text = (b: Uint8Array): string => new TextDecoder().decode(b);
const open: Keyring[] = [];

async function setup(): Promise<{ dir: string; keyring: Keyring; codec: AtRestCodec }> {
  const dir = await tempDir();
  const { keyring } = await initKeyring(dir, { passphrase: PASS, scrypt: FAST_SCRYPT });
  open.push(keyring);
  return { dir, keyring, codec: createAtRestCodec(keyring) };
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((k) => k.close()));
});

describe('at-rest codec', () => {
  it('round-trips every kind, empty and large payloads; output has no plaintext and a fixed overhead', async () => {
    const { codec } = await setup();
    expect(codec.id).toBe(AT_REST_CODEC_ID);
    const big = new Uint8Array(256 * 1024).map((_, i) => i % 251);
    for (const kind of KINDS) {
      for (const payload of [new Uint8Array(0), bytes(`marker-${kind}`), big]) {
        const place = { kind, stream: 42, seq: 9 };
        const sealed = codec.encode(place, payload);
        expect(sealed.length).toBe(payload.length + RECORD_OVERHEAD_BYTES);
        expect(Buffer.from(codec.decode(place, sealed)).equals(Buffer.from(payload))).toBe(true);
        if (payload.length > 0 && payload.length < 100) expect(Buffer.from(sealed).includes(Buffer.from(payload))).toBe(false);
      }
    }
  });

  it('uses a fresh nonce per record: the same input never gives the same bytes', async () => {
    const { codec } = await setup();
    const place = { kind: 'view' as const, stream: 1, seq: 0 };
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) seen.add(Buffer.from(codec.encode(place, bytes('same'))).toString('hex'));
    expect(seen.size).toBe(2000);
  });

  it('rejects a flip of any byte of a record with a coded error, never garbage', async () => {
    const { codec } = await setup();
    const place = { kind: 'entry' as const, stream: 3, seq: 17 };
    const sealed = codec.encode(place, bytes('a profile body with a system message'));
    for (let i = 0; i < sealed.length; i++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const copy = new Uint8Array(sealed);
        copy[i]! ^= mask;
        const expected = i === 0 ? 'CRYPTO_UNSUPPORTED_FORMAT' : i <= 4 ? 'CRYPTO_UNKNOWN_KEY' : 'CRYPTO_AUTH_FAILED';
        expect(codeOfSync(() => codec.decode(place, copy))).toBe(expected);
      }
    }
    // truncation at every length
    for (let n = 0; n < sealed.length; n++) {
      const code = codeOfSync(() => codec.decode(place, sealed.subarray(0, n)));
      expect(code).toBe('CRYPTO_AUTH_FAILED');
    }
    // an appended byte
    expect(codeOfSync(() => codec.decode(place, new Uint8Array([...sealed, 0])))).toBe('CRYPTO_AUTH_FAILED');
  });

  it('binds the place: a record copied to another kind, stream or seq fails with CRYPTO_AUTH_FAILED', async () => {
    const { codec } = await setup();
    const place: Place = { kind: 'entry', stream: 0x0102_0304, seq: 2 ** 40 + 5 };
    const sealed = codec.encode(place, bytes('bound'));
    const others: Place[] = [
      ...KINDS.filter((k) => k !== place.kind).map((kind) => ({ ...place, kind })),
      { ...place, stream: place.stream + 1 },
      { ...place, stream: 0 },
      { ...place, seq: place.seq + 1 },
      { ...place, seq: place.seq - 1 },
      { ...place, seq: 5 },
    ];
    // every single-bit change of the 18-byte AAD (stream and seq bits)
    for (let bit = 0; bit < 32; bit++) others.push({ ...place, stream: (place.stream ^ (2 ** bit)) >>> 0 });
    for (let bit = 0n; bit < 53n; bit++) others.push({ ...place, seq: Number(BigInt(place.seq) ^ (1n << bit)) });
    for (const other of others) {
      expect(codeOfSync(() => codec.decode(other, sealed))).toBe('CRYPTO_AUTH_FAILED');
    }
    expect(text(codec.decode({ ...place }, sealed))).toBe('bound');
  });

  it('encodeInto seals in place: same layout as encode, neighbours untouched, place bound, bad room and closed keyring coded', async () => {
    const { codec, keyring } = await setup();
    expect(codec.overhead).toBe(RECORD_OVERHEAD_BYTES);
    const place: Place = { kind: 'view', stream: 7, seq: 300 };
    const payload = bytes('sealed in place');
    const out = new Uint8Array(10 + payload.length + RECORD_OVERHEAD_BYTES + 3).fill(0xee);
    codec.encodeInto!(place, payload, out, 10);
    expect([...out.subarray(0, 10), ...out.subarray(out.length - 3)].every((b) => b === 0xee)).toBe(true);
    const sealed = out.subarray(10, out.length - 3);
    expect(sealed[0]).toBe(codec.encode(place, payload)[0]);
    expect(text(codec.decode(place, sealed))).toBe('sealed in place');
    expect(codeOfSync(() => codec.decode({ ...place, seq: 301 }, sealed))).toBe('CRYPTO_AUTH_FAILED');
    expect(codeOfSync(() => codec.decode({ ...place, kind: 'entry' }, sealed))).toBe('CRYPTO_AUTH_FAILED');
    // two seals of the same input into the same room differ (fresh nonce each time)
    const again = out.slice();
    codec.encodeInto!(place, payload, again, 10);
    expect(Buffer.from(again).equals(Buffer.from(out))).toBe(false);
    const before = out.slice();
    // from offset 14 there are payload + 32 bytes: one short
    expect(codeOfSync(() => codec.encodeInto!(place, payload, out, 14))).toBe('CRYPTO_INVALID_ARGUMENT');
    expect(codeOfSync(() => codec.encodeInto!(place, payload, out, -1))).toBe('CRYPTO_INVALID_ARGUMENT');
    expect(codeOfSync(() => codec.encodeInto!({ kind: 'nope' } as unknown as Place, payload, out, 10))).toBe('CRYPTO_INVALID_ARGUMENT');
    expect(Buffer.from(out).equals(Buffer.from(before))).toBe(true);
    await keyring.close();
    expect(codeOfSync(() => codec.encodeInto!(place, payload, out, 10))).toBe('CRYPTO_KEYRING_CLOSED');
    expect(codeOfSync(() => codec.decode(place, sealed))).toBe('CRYPTO_KEYRING_CLOSED');
  });

  it('the AAD layout is fixed: version, key id, kind code, stream, seq', () => {
    const aad = recordAad(1, 0x0a0b0c0d, { kind: 'snapshot', stream: 0x01020304, seq: 0x0506070809 });
    expect(Buffer.from(aad).toString('hex')).toBe('01' + '0a0b0c0d' + '03' + '01020304' + '0000000506070809');
    // the codes the AAD carries are exactly the published KIND_CODES (the codec looks them up by a switch)
    for (const kind of KINDS) expect(recordAad(2, 1, { kind, stream: 0, seq: 0 })[5]).toBe(KIND_CODES[kind]);
    expect(Object.keys(KIND_CODES).sort()).toEqual([...KINDS].sort());
    expect(recordAad(2, 1, { kind: 'entry', stream: 0xffff_ffff, seq: 2 ** 53 - 1 })).toHaveLength(18);
    for (const bad of [
      { kind: 'entry', stream: '1', seq: 1 },
      { kind: 'entry', stream: Number.NaN, seq: 1 },
      { kind: 'entry', stream: 1, seq: '1' },
      { kind: 'entry', stream: 1 },
      { kind: 'ENTRY', stream: 1, seq: 1 },
      'entry',
      null,
      { kind: 'nope', stream: 1, seq: 1 },
      { kind: 'toString', stream: 1, seq: 1 },
      { kind: '__proto__', stream: 1, seq: 1 },
      { kind: 'entry', stream: -1, seq: 1 },
      { kind: 'entry', stream: 2 ** 32, seq: 1 },
      { kind: 'entry', stream: 1.5, seq: 1 },
      { kind: 'entry', stream: 1, seq: -1 },
      { kind: 'entry', stream: 1, seq: 2 ** 53 },
      undefined,
    ]) {
      expect(codeOfSync(() => recordAad(1, 1, bad as unknown as Place))).toBe('CRYPTO_INVALID_ARGUMENT');
    }
  });

  it('a record of another keyring (wrong key) fails; so does a key id this keyring does not hold', async () => {
    const a = await setup();
    const b = await setup();
    const place = { kind: 'entry' as const, stream: 1, seq: 1 };
    const fromA = a.codec.encode(place, bytes('from a'));
    expect(codeOfSync(() => b.codec.decode(place, fromA))).toBe('CRYPTO_AUTH_FAILED');
    await b.keyring.rotateDataKey();
    const fromB2 = b.codec.encode(place, bytes('key 2'));
    expect(codeOfSync(() => a.codec.decode(place, fromB2))).toBe('CRYPTO_UNKNOWN_KEY');
    expect(codeOfSync(() => a.codec.encode(place, 'text' as unknown as Uint8Array))).toBe('CRYPTO_INVALID_ARGUMENT');
  });

  it('an older copy of the keyring cannot read records of a key rotated in later (CRYPTO_UNKNOWN_KEY)', async () => {
    const { dir, keyring, codec } = await setup();
    const backup = join(await tempDir(), 'old');
    await mkdir(backup);
    await copyFile(join(dir, KEYRING_FILE), join(backup, KEYRING_FILE));
    await keyring.rotateDataKey();
    const place = { kind: 'view' as const, stream: 2, seq: 0 };
    const sealed = codec.encode(place, bytes('new key'));
    const old = await unlockKeyring(backup, { passphrase: PASS });
    open.push(old);
    expect(codeOfSync(() => createAtRestCodec(old).decode(place, sealed))).toBe('CRYPTO_UNKNOWN_KEY');
  });

  it('keyFor: a 32-byte HMAC, stable across unlocks, rotations and passphrase changes, distinct per name and per keyring', async () => {
    const { dir, keyring, codec } = await setup();
    const k1 = Buffer.from(codec.keyFor('token:alice'));
    expect(k1).toHaveLength(32);
    expect(k1.includes(Buffer.from('alice'))).toBe(false);
    expect(Buffer.from(codec.keyFor('token:bob')).equals(k1)).toBe(false);
    expect(Buffer.from(codec.keyFor('')).length).toBe(32);
    await keyring.rotateDataKey();
    await keyring.changePassphrase(PASS, 'p2');
    expect(Buffer.from(codec.keyFor('token:alice')).equals(k1)).toBe(true);
    const again = await unlockKeyring(dir, { passphrase: 'p2' });
    open.push(again);
    expect(Buffer.from(createAtRestCodec(again).keyFor('token:alice')).equals(k1)).toBe(true);
    const other = await setup();
    expect(Buffer.from(other.codec.keyFor('token:alice')).equals(k1)).toBe(false);
    expect(await codeOf(() => codec.keyFor(1 as unknown as string))).toBe('CRYPTO_INVALID_ARGUMENT');
  });

  it('createAtRestCodec only takes a real keyring', () => {
    expect(codeOfSync(() => createAtRestCodec({} as Keyring))).toBe('CRYPTO_INVALID_ARGUMENT');
  });

  it('new records are version 2: version, key id, iv (nonce | block counter), ciphertext, tag; 37 bytes of overhead', async () => {
    const { codec } = await setup();
    expect(RECORD_VERSION).toBe(2);
    expect(RECORD_OVERHEAD_BYTES).toBe(37);
    const sealed = codec.encode({ kind: 'entry', stream: 1, seq: 1 }, bytes('x'.repeat(40)));
    expect(sealed[0]).toBe(2);
    expect(Buffer.from(sealed.subarray(1, 5)).readUInt32BE(0)).toBe(1);
    // a lone record is a batch of one: its keystream starts at block 0 of its own nonce
    expect(Buffer.from(sealed.subarray(17, 21)).readUInt32BE(0)).toBe(0);
  });

  it('matches the documented construction: AES-256-CTR keystream (HKDF-derived key) and a Poly1305 tag (checked with tweetnacl)', async () => {
    const { keyring, codec } = await setup();
    const dataKey = materialOf(keyring)!.dataKeys.get(1)!;
    const k2 = Buffer.from(hkdfSync('sha256', dataKey, new Uint8Array(0), 'profilesync/at-rest/v2/aes-256-ctr+poly1305', 32));
    const sealer = codec.batchSealer();
    const places: Place[] = [0, 1, 15, 16, 17, 100, 1000].map((n, i) => ({ kind: KINDS[i % KINDS.length]!, stream: 7 + i, seq: n }));
    const plains = [0, 1, 15, 16, 17, 100, 1000].map((n) => new Uint8Array(n).map((_, i) => (i * 31 + n) & 0xff));
    const outs = plains.map((p) => new Uint8Array(p.length + RECORD_OVERHEAD_BYTES));
    places.forEach((place, i) => sealer.add(place, plains[i]!, outs[i]!, 0));
    sealer.seal();
    let expectCounter = 0;
    for (let i = 0; i < outs.length; i++) {
      const out = outs[i]!;
      const n = plains[i]!.length;
      const iv = out.subarray(5, 21);
      expect(Buffer.from(iv.subarray(0, 12)).equals(Buffer.from(outs[0]!.subarray(5, 17)))).toBe(true);
      const counter = Buffer.from(iv.subarray(12)).readUInt32BE(0);
      expect(counter).toBe(expectCounter);
      // one-time key (2 blocks), the padded plaintext, one discarded block
      expectCounter += 2 + Math.ceil(n / 16) + 1;
      const ks = createCipheriv('aes-256-ctr', k2, iv).update(new Uint8Array(32 + n));
      const ct = out.subarray(21, 21 + n);
      expect(Buffer.from(ct).equals(Buffer.from(plains[i]!.map((b, j) => b ^ ks[32 + j]!)))).toBe(true);
      const aad = recordAad(2, 1, places[i]!);
      const pad = (x: number) => (16 - (x % 16)) % 16;
      const macInput = new Uint8Array(aad.length + pad(aad.length) + n + pad(n) + 16);
      macInput.set(aad, 0);
      macInput.set(ct, 32);
      const lens = Buffer.alloc(16);
      lens.writeBigUInt64LE(BigInt(aad.length), 0);
      lens.writeBigUInt64LE(BigInt(n), 8);
      macInput.set(lens, macInput.length - 16);
      const tag = new Uint8Array(16);
      (nacl as unknown as { lowlevel: { crypto_onetimeauth(o: Uint8Array, op: number, m: Uint8Array, mp: number, n: number, k: Uint8Array): number } })
        .lowlevel.crypto_onetimeauth(tag, 0, macInput, 0, macInput.length, ks.subarray(0, 32));
      expect(Buffer.from(out.subarray(21 + n)).toString('hex')).toBe(Buffer.from(tag).toString('hex'));
      expect(Buffer.from(codec.decode(places[i]!, out)).equals(Buffer.from(plains[i]!))).toBe(true);
    }
  });

  it('a batch shares one nonce, each record its own counter range; every record opens on its own; batches never share a nonce', async () => {
    const { codec } = await setup();
    const nonces = new Set<string>();
    for (let b = 0; b < 200; b++) {
      const sealer = codec.batchSealer();
      const records = Array.from({ length: 1 + (b % 9) }, (_, i) => ({ place: { kind: 'entry' as const, stream: b, seq: i + 1 }, plain: bytes(`batch ${b} record ${i} ${'z'.repeat(i * 13)}`) }));
      const outs = records.map((r) => new Uint8Array(r.plain.length + RECORD_OVERHEAD_BYTES));
      records.forEach((r, i) => sealer.add(r.place, r.plain, outs[i]!, 0));
      sealer.seal();
      const batchNonces = new Set(outs.map((o) => Buffer.from(o.subarray(5, 17)).toString('hex')));
      expect(batchNonces.size).toBe(1);
      nonces.add([...batchNonces][0]!);
      const counters = outs.map((o) => Buffer.from(o.subarray(17, 21)).readUInt32BE(0));
      expect(new Set(counters).size).toBe(counters.length);
      records.forEach((r, i) => expect(text(codec.decode(r.place, outs[i]!))).toBe(text(r.plain)));
      // records of one batch cannot stand in for each other (their places differ)
      if (records.length > 1) expect(codeOfSync(() => codec.decode(records[0]!.place, outs[1]!))).toBe('CRYPTO_AUTH_FAILED');
    }
    expect(nonces.size).toBe(200);
  });

  it('a batch sealer checks each record before anything is written, and seals once', async () => {
    const { codec, keyring } = await setup();
    const sealer = codec.batchSealer();
    const out = new Uint8Array(8 + RECORD_OVERHEAD_BYTES).fill(0xee);
    expect(codeOfSync(() => sealer.add({ kind: 'entry', stream: 1, seq: 1 }, bytes('123456789'), out, 0))).toBe('CRYPTO_INVALID_ARGUMENT');
    expect(codeOfSync(() => sealer.add({ kind: 'nope' } as unknown as Place, bytes('1234'), out, 0))).toBe('CRYPTO_INVALID_ARGUMENT');
    expect(codeOfSync(() => sealer.add({ kind: 'entry', stream: 1, seq: 1 }, 'text' as unknown as Uint8Array, out, 0))).toBe('CRYPTO_INVALID_ARGUMENT');
    expect(out.every((b) => b === 0xee)).toBe(true);
    sealer.add({ kind: 'entry', stream: 1, seq: 1 }, bytes('12345678'), out, 0);
    sealer.seal();
    expect(text(codec.decode({ kind: 'entry', stream: 1, seq: 1 }, out))).toBe('12345678');
    expect(codeOfSync(() => sealer.add({ kind: 'entry', stream: 1, seq: 2 }, bytes('x'), new Uint8Array(64), 0))).toBe('CRYPTO_INVALID_ARGUMENT');
    const late = codec.batchSealer();
    late.add({ kind: 'entry', stream: 1, seq: 3 }, bytes('late'), new Uint8Array(4 + RECORD_OVERHEAD_BYTES), 0);
    await keyring.close();
    expect(codeOfSync(() => late.seal())).toBe('CRYPTO_KEYRING_CLOSED');
    expect(codeOfSync(() => codec.batchSealer())).toBe('CRYPTO_KEYRING_CLOSED');
  });

  it('version-1 records (AES-256-GCM) written before version 2 still open, and are still bound to their place', async () => {
    const { keyring, codec } = await setup();
    const dataKey = materialOf(keyring)!.dataKeys.get(1)!;
    const place: Place = { kind: 'view', stream: 5, seq: 12 };
    const plain = bytes('written by record version 1');
    // version 1 exactly as docs/security.md describes it (and as the fixture test reads it from disk)
    const nonce = new Uint8Array(12).fill(7);
    const cipher = createCipheriv('aes-256-gcm', dataKey, nonce);
    cipher.setAAD(recordAad(1, 1, place));
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    const v1 = Buffer.concat([Buffer.from([1, 0, 0, 0, 1]), nonce, body, cipher.getAuthTag()]);
    expect(text(codec.decode(place, v1))).toBe('written by record version 1');
    expect(codeOfSync(() => codec.decode({ ...place, seq: 13 }, v1))).toBe('CRYPTO_AUTH_FAILED');
    const flipped = Buffer.from(v1);
    flipped[20]! ^= 1;
    expect(codeOfSync(() => codec.decode(place, flipped))).toBe('CRYPTO_AUTH_FAILED');
    // a version-1 record relabelled as version 2 (or the reverse) fails authentication
    const relabelled = Buffer.from(v1);
    relabelled[0] = 2;
    expect(codeOfSync(() => codec.decode(place, relabelled))).toBe('CRYPTO_AUTH_FAILED');
    const v2 = Buffer.from(codec.encode(place, plain));
    v2[0] = 1;
    expect(codeOfSync(() => codec.decode(place, v2))).toBe('CRYPTO_AUTH_FAILED');
  });
});
