import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  ENCODING_JSON,
  ENCODING_ZLIB,
  ENVELOPE_MAGIC,
  decodeEnvelope,
  decodeEnvelopeAsync,
  encodeEnvelope,
  serializeJson,
  shouldCompress,
} from '../src/index.js';
import { expectCode } from './contract.js';

const opts = { compressionThreshold: 100, compressionLevel: 6, maxValueBytes: 1 << 20 };

describe('envelope', () => {
  it('compresses strictly above the threshold (policy)', () => {
    expect(shouldCompress(100, 100)).toBe(false);
    expect(shouldCompress(101, 100)).toBe(true);
    expect(shouldCompress(0, 0)).toBe(false);
    expect(shouldCompress(1, 0)).toBe(true);
    expect(shouldCompress(1e9, null)).toBe(false);
  });

  it('round-trips raw and compressed values with the right marker', async () => {
    for (const v of [null, 0, 'é😀', [1, { a: 'x' }], { big: 'y'.repeat(5000) }, { rows: Array.from({ length: 50_000 }, (_, i) => i) }]) {
      const enc = await encodeEnvelope(v, opts);
      expect(enc.bytes[0]).toBe(ENVELOPE_MAGIC);
      expect(enc.bytes[1]).toBe(1);
      expect(enc.bytes[2]).toBe(enc.compressed ? ENCODING_ZLIB : ENCODING_JSON);
      expect(enc.rawBytes).toBe(Buffer.byteLength(JSON.stringify(v)));
      expect(decodeEnvelope(enc.bytes, opts.maxValueBytes)).toEqual(v);
      expect(await decodeEnvelopeAsync(enc.bytes, opts.maxValueBytes)).toEqual(v);
    }
    expect((await encodeEnvelope({ big: 'y'.repeat(5000) }, opts)).compressed).toBe(true);
    expect((await encodeEnvelope('short', opts)).compressed).toBe(false);
  });

  it('rejects corrupt envelopes with CACHE_CORRUPT_ENTRY', async () => {
    const bad = [
      Buffer.alloc(0),
      Buffer.from([ENVELOPE_MAGIC, 1]),
      Buffer.from([0x7b, 1, 0, 0x7b]),
      Buffer.from([ENVELOPE_MAGIC, 2, 0, 0x31]),
      Buffer.from([ENVELOPE_MAGIC, 1, 7, 0x31]),
      Buffer.from([ENVELOPE_MAGIC, 1, ENCODING_JSON, 0x7b]),
      Buffer.from([ENVELOPE_MAGIC, 1, ENCODING_ZLIB, 0x00, 0x01]),
      Buffer.concat([Buffer.from([ENVELOPE_MAGIC, 1, ENCODING_ZLIB]), deflateSync(Buffer.from('{not json'))]),
    ];
    for (const b of bad) {
      await expectCode(() => decodeEnvelope(b, 1000), 'CACHE_CORRUPT_ENTRY');
      await expectCode(() => decodeEnvelopeAsync(b, 1000), 'CACHE_CORRUPT_ENTRY');
    }
  });

  it('refuses to inflate beyond maxValueBytes (zip bomb)', async () => {
    const bomb = Buffer.concat([Buffer.from([ENVELOPE_MAGIC, 1, ENCODING_ZLIB]), deflateSync(Buffer.from(`"${'a'.repeat(2_000_000)}"`))]);
    expect(bomb.byteLength).toBeLessThan(10_000);
    await expectCode(() => decodeEnvelope(bomb, 1 << 20), 'CACHE_CORRUPT_ENTRY');
    await expectCode(() => decodeEnvelopeAsync(bomb, 1 << 20), 'CACHE_CORRUPT_ENTRY');
  });

  it('serializes only what JSON carries faithfully', async () => {
    expect(serializeJson({ a: 1, u: undefined, d: new Date(0) })).toBe('{"a":1,"d":"1970-01-01T00:00:00.000Z"}');
    for (const v of [undefined, () => 1, Symbol('x'), 1n, NaN, -Infinity, [1, NaN], new Map(), new Set(), new Uint8Array(1), Buffer.alloc(1), new ArrayBuffer(1)]) {
      await expectCode(() => serializeJson(v), 'CACHE_SERIALIZATION_FAILED');
    }
    const tooLarge = await expectCode(() => encodeEnvelope('x'.repeat(100), { ...opts, maxValueBytes: 50 }), 'CACHE_VALUE_TOO_LARGE');
    // the message and the details name the limit in bytes (413 over HTTP)
    expect(tooLarge).toMatchObject({ message: 'value is 102 bytes of JSON; the limit is 50 bytes', details: { limit: 50, limitBytes: 50 } });
  });
});
