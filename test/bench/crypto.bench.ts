/**
 * @profilesync/crypto benchmarks.
 *   crypto-frame-throughput-1k / -64k: SecureSession seal + open of one frame, payload MB/s
 *     (MB = 2^20 bytes), anchor: raw nacl.secretbox + secretbox.open on the same payloads in
 *     the same run (the ratio is the framing overhead). Goal >= 60 MB/s.
 */
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { SecureSession } from '@profilesync/crypto';
import { gc, nowMs, result, type BenchCase, type BenchResult } from './harness.js';

// tweetnacl as the crypto package resolves it (the same copy SecureSession uses)
interface Secretbox {
  (msg: Uint8Array, nonce: Uint8Array, key: Uint8Array): Uint8Array;
  open(box: Uint8Array, nonce: Uint8Array, key: Uint8Array): Uint8Array | null;
}
const nacl = createRequire(new URL('../../packages/crypto/package.json', import.meta.url))('tweetnacl') as { secretbox: Secretbox };

const MB = 1024 * 1024;
const GOAL_MBPS = 60;

function sessionPair(maxFrameBytes: number): { a: SecureSession; b: SecureSession } {
  const k1 = randomBytes(32);
  const k2 = randomBytes(32);
  return {
    a: new SecureSession('initiator', new Uint8Array(k1), new Uint8Array(k2), 'bench', { maxFrameBytes }),
    b: new SecureSession('responder', new Uint8Array(k2), new Uint8Array(k1), 'bench', { maxFrameBytes }),
  };
}

/** Payload MB/s of `frames` seal+open round trips through a session pair. */
function framed(payload: Uint8Array, frames: number): number {
  const { a, b } = sessionPair(payload.length);
  let check = 0;
  const start = nowMs();
  for (let n = 0; n < frames; n++) {
    const opened = b.open(a.seal(payload));
    if (opened.type === 'data') check += opened.data.length;
  }
  const ms = nowMs() - start;
  if (check !== payload.length * frames) throw new Error('frame round trip lost bytes');
  return (payload.length * frames) / MB / (ms / 1000);
}

/** Payload MB/s of raw nacl.secretbox + secretbox.open (fresh nonce per message, like frames). */
function raw(payload: Uint8Array, frames: number): number {
  const key = randomBytes(32);
  const nonce = new Uint8Array(24);
  const view = new DataView(nonce.buffer);
  let check = 0;
  const start = nowMs();
  for (let n = 0; n < frames; n++) {
    view.setUint32(20, n);
    const box = nacl.secretbox(payload, nonce, key);
    const opened = nacl.secretbox.open(box, nonce, key);
    check += opened ? opened.length : 0;
  }
  const ms = nowMs() - start;
  if (check !== payload.length * frames) throw new Error('raw round trip lost bytes');
  return (payload.length * frames) / MB / (ms / 1000);
}

function throughputCase(label: string, size: number): BenchCase {
  return {
    name: `crypto-frame-throughput-${label}`,
    async run(): Promise<BenchResult> {
      const payload = new Uint8Array(randomBytes(size));
      const frames = Math.max(64, Math.round((24 * MB) / size));
      framed(payload, Math.ceil(frames / 8));
      raw(payload, Math.ceil(frames / 8));
      // interleaved rounds; best of each (the machine is shared, the best is the least disturbed)
      const mine: number[] = [];
      const anchor: number[] = [];
      for (let round = 0; round < 4; round++) {
        gc();
        mine.push(framed(payload, frames));
        gc();
        anchor.push(raw(payload, frames));
      }
      const value = Math.max(...mine);
      return result({
        name: `crypto-frame-throughput-${label}`,
        unit: 'MB/s',
        value,
        baseline: 'raw nacl.secretbox + open',
        baselineValue: Math.max(...anchor),
        goal: `>= ${GOAL_MBPS} MB/s`,
        met: value >= GOAL_MBPS,
        extra: {
          payloadBytes: size,
          framesPerRound: frames,
          rounds: mine.length,
          worstMBps: Number(Math.min(...mine).toFixed(1)),
          mbIs: '2^20 bytes of payload sealed and opened',
        },
      });
    },
  };
}

const cases: BenchCase[] = [throughputCase('1k', 1024), throughputCase('64k', 64 * 1024)];

export default cases;
