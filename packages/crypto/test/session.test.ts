import { describe, expect, it } from 'vitest';
import nacl from 'tweetnacl';
import { FRAME_OVERHEAD_BYTES, SecureSession, classifyCounter, type SessionOptions } from '../src/index.js';
import { bytes, codeOfSync } from './helpers.js';

/** Two ends of a session with random keys (the handshake is tested on its own). */
function ends(opts: SessionOptions = {}): { a: SecureSession; b: SecureSession } {
  const k1 = nacl.randomBytes(32);
  const k2 = nacl.randomBytes(32);
  return {
    a: new SecureSession('initiator', new Uint8Array(k1), new Uint8Array(k2), 'test', opts),
    b: new SecureSession('responder', new Uint8Array(k2), new Uint8Array(k1), 'test', opts),
  };
}

const data = (f: ReturnType<SecureSession['open']>): string => (f.type === 'data' ? new TextDecoder().decode(f.data) : `<${f.type}>`);

describe('frame cipher', () => {
  it('round-trips frames in order, both directions, including empty and max-size payloads', () => {
    const { a, b } = ends({ maxFrameBytes: 4096 });
    for (let n = 0; n < 50; n++) expect(data(b.open(a.seal(bytes(`m${n}`))))).toBe(`m${n}`);
    expect(data(a.open(b.seal(new Uint8Array(0))))).toBe('');
    const max = new Uint8Array(4096).fill(9);
    const frame = a.seal(max);
    expect(frame.length).toBe(4096 + FRAME_OVERHEAD_BYTES);
    const opened = b.open(frame);
    expect(opened.type === 'data' && Buffer.from(opened.data).equals(Buffer.from(max))).toBe(true);
    expect(a.counters).toEqual({ sent: 51, received: 1 });
    expect(b.isClosed).toBe(false);
  });

  it('carries the counter in the clear, the payload never', () => {
    const { a } = ends();
    a.seal(bytes('x'));
    const frame = a.seal(bytes('visible?'));
    expect(frame[0]).toBe(0);
    expect(Buffer.from(frame.subarray(1, 9)).readBigUInt64BE()).toBe(1n);
    expect(Buffer.from(frame).includes(Buffer.from('visible?'))).toBe(false);
  });

  it('a replayed frame closes the session with CRYPTO_FRAME_REPLAY', () => {
    const { a, b } = ends();
    const f0 = a.seal(bytes('once'));
    b.open(f0);
    expect(codeOfSync(() => b.open(f0))).toBe('CRYPTO_FRAME_REPLAY');
    expect(b.isClosed).toBe(true);
    expect(b.closeReason).toBe('CRYPTO_FRAME_REPLAY');
    expect(codeOfSync(() => b.open(a.seal(bytes('next'))))).toBe('CRYPTO_SESSION_CLOSED');
    expect(codeOfSync(() => b.seal(bytes('reply')))).toBe('CRYPTO_SESSION_CLOSED');
  });

  it('a reordered (or dropped) frame closes the session with CRYPTO_FRAME_REORDER', () => {
    const { a, b } = ends();
    const f0 = a.seal(bytes('0'));
    const f1 = a.seal(bytes('1'));
    const f2 = a.seal(bytes('2'));
    b.open(f0);
    expect(codeOfSync(() => b.open(f2))).toBe('CRYPTO_FRAME_REORDER');
    expect(codeOfSync(() => b.open(f1))).toBe('CRYPTO_SESSION_CLOSED');
  });

  it('a frame whose counter was rewritten fails authentication (counter is bound by the nonce)', () => {
    const { a, b } = ends();
    a.seal(bytes('0'));
    const f1 = new Uint8Array(a.seal(bytes('1')));
    f1[8] = 0; // claim counter 0, which b expects next
    expect(codeOfSync(() => b.open(f1))).toBe('CRYPTO_DECRYPT_FAILED');
  });

  it('a flip of any byte of a frame is rejected with a code', () => {
    const length = ends().a.seal(bytes('a small profile update')).length;
    const seen = new Set<string>();
    for (let i = 0; i < length; i++) {
      const fresh = ends();
      const f = fresh.a.seal(bytes('a small profile update'));
      const copy = new Uint8Array(f);
      copy[i]! ^= 0x01;
      const code = codeOfSync(() => fresh.b.open(copy));
      seen.add(code);
      expect(['CRYPTO_DECRYPT_FAILED', 'CRYPTO_FRAME_REORDER', 'CRYPTO_FRAME_MALFORMED']).toContain(code);
      expect(fresh.b.isClosed).toBe(true);
    }
    // type byte 0 -> 1 flips data into goodbye: still a MAC failure because the type is in the nonce
    expect(seen).toEqual(new Set(['CRYPTO_DECRYPT_FAILED', 'CRYPTO_FRAME_REORDER']));
  });

  it('rejects truncated frames (CRYPTO_FRAME_TRUNCATED below the minimum, else CRYPTO_DECRYPT_FAILED)', () => {
    const probe = ends().a.seal(bytes('truncate me'));
    for (let n = 0; n < probe.length; n++) {
      const { a, b } = ends();
      const frame = a.seal(bytes('truncate me'));
      const code = codeOfSync(() => b.open(frame.subarray(0, n)));
      expect(code).toBe(n < FRAME_OVERHEAD_BYTES ? 'CRYPTO_FRAME_TRUNCATED' : 'CRYPTO_DECRYPT_FAILED');
    }
  });

  it('rejects oversized payloads on seal (session stays usable) and oversized frames on open (session closes)', () => {
    const { a, b } = ends({ maxFrameBytes: 100 });
    expect(codeOfSync(() => a.seal(new Uint8Array(101)))).toBe('CRYPTO_FRAME_TOO_LARGE');
    expect(data(b.open(a.seal(bytes('ok'))))).toBe('ok');
    const big = ends({ maxFrameBytes: 1000 });
    const frame = big.a.seal(new Uint8Array(101));
    expect(codeOfSync(() => b.open(frame))).toBe('CRYPTO_FRAME_TOO_LARGE');
    expect(b.closeReason).toBe('CRYPTO_FRAME_TOO_LARGE');
    expect(codeOfSync(() => ends({ maxFrameBytes: 0 }))).toBe('CRYPTO_INVALID_ARGUMENT');
  });

  it('rejects an unknown frame type with CRYPTO_FRAME_MALFORMED', () => {
    const { a, b } = ends();
    const frame = new Uint8Array(a.seal(bytes('x')));
    frame[0] = 7;
    expect(codeOfSync(() => b.open(frame))).toBe('CRYPTO_FRAME_MALFORMED');
  });

  it('goodbye: an authenticated clean close; the peer drains frames sent before it', () => {
    const { a, b } = ends();
    const last = a.seal(bytes('last words'));
    const bye = a.goodbye();
    expect(a.isClosed).toBe(true);
    expect(a.closeReason).toBe('goodbye');
    expect(codeOfSync(() => a.seal(bytes('more')))).toBe('CRYPTO_SESSION_CLOSED');
    expect(codeOfSync(() => a.goodbye())).toBe('CRYPTO_SESSION_CLOSED');
    expect(data(b.open(last))).toBe('last words');
    expect(b.isClosed).toBe(false);
    expect(b.open(bye)).toEqual({ type: 'goodbye' });
    expect(b.isClosed).toBe(true);
    expect(b.closeReason).toBe('goodbye');
    expect(codeOfSync(() => b.open(bye))).toBe('CRYPTO_SESSION_CLOSED');
    // b answers with its own goodbye; a (closed for sending) still reads it
    expect(a.open(b.goodbye())).toEqual({ type: 'goodbye' });
  });

  it('a forged goodbye (unauthenticated) is rejected', () => {
    const { a, b } = ends();
    const forged = new Uint8Array(FRAME_OVERHEAD_BYTES);
    forged[0] = 1;
    expect(codeOfSync(() => b.open(forged))).toBe('CRYPTO_DECRYPT_FAILED');
    expect(b.closeReason).toBe('CRYPTO_DECRYPT_FAILED');
    a.destroy();
    expect(a.closeReason).toBe('CRYPTO_SESSION_CLOSED');
    expect(codeOfSync(() => a.seal(bytes('x')))).toBe('CRYPTO_SESSION_CLOSED');
  });

  it('classifyCounter: the ordering policy', () => {
    expect(classifyCounter(5, 5)).toBe('ok');
    expect(classifyCounter(4, 5)).toBe('replay');
    expect(classifyCounter(0, 5)).toBe('replay');
    expect(classifyCounter(6, 5)).toBe('reorder');
    expect(classifyCounter(2 ** 53 - 1, 0)).toBe('reorder');
  });
});
