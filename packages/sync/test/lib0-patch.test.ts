/**
 * patches/lib0@0.2.120.patch makes lib0's string writer copy strings longer than 32 bytes in one
 * call instead of byte by byte (encoding a text-heavy Y.Doc was dominated by that loop). The
 * bytes must stay exactly what lib0 and Yjs define: varuint(utf8 length) | utf8 bytes, and every
 * Yjs encoding built on it must round-trip and agree across the encoders that use it.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as Y from 'yjs';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';

function reference(s: string): Uint8Array {
  const utf8 = new TextEncoder().encode(s);
  const e = encoding.createEncoder();
  // the length prefix alone (no string): lib0's varuint, independent of the patched code
  encoding.writeVarUint(e, utf8.length);
  const head = encoding.toUint8Array(e);
  const out = new Uint8Array(head.length + utf8.length);
  out.set(head);
  out.set(utf8, head.length);
  return out;
}

describe('lib0 string writer (patched)', () => {
  it('writes varuint(length) | utf8 for every length around the bulk-copy threshold and past the encoder buffer size', () => {
    for (const len of [0, 1, 31, 32, 33, 34, 100, 255, 256, 1000, 9_999, 10_000, 10_001, 20_000, 70_000]) {
      for (const ch of ['a', 'é', '€', '𝄞']) {
        // whole characters only (a cut surrogate pair would not round-trip through utf8)
        const s = ch.repeat(Math.ceil(len / ch.length));
        const e = encoding.createEncoder();
        // a prefix so the string starts mid-buffer and spans the encoder's chunk boundary
        for (let i = 0; i < 250; i++) encoding.write(e, i & 0xff);
        encoding.writeVarString(e, s);
        encoding.writeVarString(e, 'tail');
        const bytes = encoding.toUint8Array(e);
        const want = [...Array.from({ length: 250 }, (_, i) => i & 0xff), ...reference(s), ...reference('tail')];
        expect(Buffer.from(bytes).equals(Buffer.from(want))).toBe(true);
        const d = decoding.createDecoder(bytes);
        for (let i = 0; i < 250; i++) decoding.readUint8(d);
        expect(decoding.readVarString(d)).toBe(s);
        expect(decoding.readVarString(d)).toBe('tail');
      }
    }
  });

  it('any strings: same bytes as the reference, and Yjs updates with them round-trip (V1 and V2 agree)', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'binary', maxLength: 300 }), { minLength: 1, maxLength: 8 }), (parts) => {
        const e = encoding.createEncoder();
        for (const p of parts) encoding.writeVarString(e, p);
        const want = parts.flatMap((p) => [...reference(p)]);
        expect(Buffer.from(encoding.toUint8Array(e)).equals(Buffer.from(want))).toBe(true);
        const doc = new Y.Doc({ gc: false });
        const text = doc.getText('t');
        for (const p of parts) text.insert(text.length, p);
        const copy = new Y.Doc({ gc: false });
        Y.applyUpdate(copy, Y.encodeStateAsUpdate(doc));
        expect(copy.getText('t').toString()).toBe(parts.join(''));
        expect(Y.convertUpdateFormatV2ToV1(Y.encodeStateAsUpdateV2(doc))).toEqual(Y.encodeStateAsUpdate(doc));
      }),
      { numRuns: 200 },
    );
  });
});
