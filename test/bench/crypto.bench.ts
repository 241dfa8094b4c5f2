/**
 * @profilesync/crypto benchmarks.
 *   crypto-frame-throughput-1k / -64k: SecureSession seal + open of one frame, payload MB/s
 *     (MB = 2^20 bytes), anchor: raw tweetnacl nacl.secretbox + secretbox.open on the same
 *     payloads in the same run. Frames use libsodium's byte-identical secretbox (sodium-native),
 *     so the ratio is the speed-up over pure-JS tweetnacl net of framing. Goal >= 60 MB/s.
 *   crypto-at-rest-overhead: durable appends/s of the event log with 64 concurrent writers,
 *     encrypted (createAtRestCodec) vs plain codec, same updates, same run, alternating
 *     rounds. value = encrypted appends/s, baseline = plain. Goal ratio >= 0.9. Anchor in
 *     `extra`: the bare sealing time of one 64-append round (64 entries + 64 views in one batch
 *     sealer, as the writer seals them, no log) and the ceiling ratio it implies while sealing
 *     stays on the writer's critical path.
 */
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as Y from 'yjs';
import { openLog, type LogCodec } from '@profilesync/log';
import { SecureSession, createAtRestCodec, initKeyring } from '@profilesync/crypto';
import { concurrentRate, gc, nowMs, result, type BenchCase, type BenchResult } from './harness.js';
import { batchPhases, type BatchPhases } from './log-workload.js';

// tweetnacl as the crypto package resolves it (its dev dependency: the reference its tests compare against)
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
        baseline: 'raw tweetnacl secretbox + open',
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

/**
 * Realistic profile edits: one Y.Doc per profile, each update a small edit of a text field
 * or a parameter; each append carries the materialized view (a ~1 KB JSON) like core does.
 */
function profileWorkload(profiles: number, perProfile: number): { stream: string; body: Uint8Array; view: Uint8Array }[][] {
  const out: { stream: string; body: Uint8Array; view: Uint8Array }[][] = [];
  for (let p = 0; p < profiles; p++) {
    const doc = new Y.Doc();
    const profile = doc.getMap('profile');
    const updates: Uint8Array[] = [];
    doc.on('update', (u: Uint8Array) => updates.push(u));
    const text = new Y.Text();
    profile.set('systemMessage', text);
    for (let i = 0; i < perProfile; i++) {
      if (i % 4 === 3) profile.set('temperature', (i % 10) / 10);
      else text.insert(Math.min(text.length, (i * 7) % 50), `edit ${i} `);
    }
    const stream = `profile-${p}`;
    const view = new TextEncoder().encode(
      JSON.stringify({ id: stream, modelId: 'gpt-x', name: `Profile ${p}`, systemMessage: 'y'.repeat(700), templates: { greeting: 'Hello {{name}}' }, parameters: { temperature: 0.7, top_p: 1 } }),
    );
    out.push(updates.slice(-perProfile).map((body) => ({ stream, body, view })));
  }
  return out;
}

/** Durable appends/s: `writers` concurrent writers, each on its own profile. */
async function appendRate(codec: LogCodec | undefined, work: ReturnType<typeof profileWorkload>): Promise<{ opsPerSec: number; phases: BatchPhases }> {
  const dir = await mkdtemp(join(tmpdir(), 'psync-bench-rest-'));
  const log = await openLog({ dir, ...(codec ? { codec } : {}) });
  const phases = batchPhases(log);
  try {
    const perWriter = work[0]!.length;
    const { opsPerSec, elapsedMs } = await concurrentRate(work.length, work.length * perWriter, (w, i) => {
      const item = work[w]![Math.floor(i / work.length) % perWriter]!;
      return log.append({ stream: item.stream, body: item.body, actor: 'bench', origin: 'local', view: item.view });
    });
    return { opsPerSec, phases: phases.done(elapsedMs) };
  } finally {
    phases.off();
    await log.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Anchor: ms of main-thread sealing one 64-append round needs at least, measured with the same
 * codec on the same records the way the writer seals them: one batch sealer per round (one nonce,
 * one AES-256-CTR call) holding each append's entry payload and its stream's view, into
 * preallocated buffers, so no log work at all. With sealing on the writer's critical path,
 * encrypted/plain can be no better than plain / (plain + this).
 */
function sealMsPerRound(codec: ReturnType<typeof createAtRestCodec>, work: ReturnType<typeof profileWorkload>): number {
  const payloads = work.map((w) => new Uint8Array(45 + w[0]!.body.length));
  const views = work.map((w) => w[0]!.view);
  const overhead = codec.overhead;
  const outs = payloads.map((p) => new Uint8Array(p.length + overhead));
  const viewOuts = views.map((v) => new Uint8Array(v.length + overhead));
  const rounds = 250;
  let best = Number.POSITIVE_INFINITY;
  for (let rep = 0; rep < 3; rep++) {
    const start = nowMs();
    for (let r = 0; r < rounds; r++) {
      const sealer = codec.batchSealer();
      for (let i = 0; i < payloads.length; i++) {
        sealer.add({ kind: 'entry', stream: i, seq: r + 1 }, payloads[i]!, outs[i]!, 0);
        sealer.add({ kind: 'view', stream: i, seq: r + 1 }, views[i]!, viewOuts[i]!, 0);
      }
      sealer.seal();
    }
    best = Math.min(best, (nowMs() - start) / rounds);
  }
  return best;
}

const atRestOverhead: BenchCase = {
  name: 'crypto-at-rest-overhead',
  async run(): Promise<BenchResult> {
    const writers = 64;
    const work = profileWorkload(writers, 250);
    const keyDir = await mkdtemp(join(tmpdir(), 'psync-bench-keyring-'));
    const { keyring } = await initKeyring(keyDir, { passphrase: 'bench', scrypt: { N: 1024 } });
    const codec = createAtRestCodec(keyring);
    try {
      await appendRate(undefined, profileWorkload(writers, 20));
      await appendRate(codec, profileWorkload(writers, 20));
      const plainRuns: Awaited<ReturnType<typeof appendRate>>[] = [];
      const encryptedRuns: Awaited<ReturnType<typeof appendRate>>[] = [];
      for (let round = 0; round < 3; round++) {
        gc();
        plainRuns.push(await appendRate(undefined, work));
        gc();
        encryptedRuns.push(await appendRate(codec, work));
      }
      const plain = plainRuns.map((r) => r.opsPerSec);
      const encrypted = encryptedRuns.map((r) => r.opsPerSec);
      const value = Math.max(...encrypted);
      const baselineValue = Math.max(...plain);
      // ms per batch of the best round of each: acks -> next cut, cut -> synced write (incl. the seal), the write
      const phasesOf = (runs: typeof plainRuns, best: number) => {
        const p = (runs.find((r) => r.opsPerSec === best) as (typeof runs)[number]).phases;
        return `${p.outsideMs} / ${p.buildMs} / ${p.writeMs}`;
      };
      const sealMs = sealMsPerRound(codec, work);
      const plainRoundMs = (writers / baselineValue) * 1000;
      const bodyBytes = work.flat().reduce((n, x) => n + x.body.length, 0) / (writers * work[0]!.length);
      return result({
        name: 'crypto-at-rest-overhead',
        unit: 'ops/s',
        value,
        baseline: 'same durable appends, plain codec',
        baselineValue,
        goal: 'ratio >= 0.9',
        met: value / baselineValue >= 0.9,
        extra: {
          writers,
          appendsPerRound: writers * work[0]!.length,
          rounds: plain.length,
          meanBodyBytes: Math.round(bodyBytes),
          viewBytes: work[0]![0]!.view.length,
          plainRounds: plain.map((x) => Math.round(x)).join('/'),
          encryptedRounds: encrypted.map((x) => Math.round(x)).join('/'),
          plainMsPerRound: Number(plainRoundMs.toFixed(3)),
          encryptedMsPerRound: Number(((writers / value) * 1000).toFixed(3)),
          anchorSealMsPerRound: Number(sealMs.toFixed(3)),
          anchorSealUsPerRecord: Number(((sealMs * 1000) / (2 * writers)).toFixed(2)),
          anchorCeilingRatio: Number((plainRoundMs / (plainRoundMs + sealMs)).toFixed(3)),
          plainBatchOutsideBuildWriteMs: phasesOf(plainRuns, baselineValue),
          encryptedBatchOutsideBuildWriteMs: phasesOf(encryptedRuns, value),
        },
      });
    } finally {
      await keyring.close();
      await rm(keyDir, { recursive: true, force: true });
    }
  },
};

const cases: BenchCase[] = [throughputCase('1k', 1024), throughputCase('64k', 64 * 1024), atRestOverhead];

export default cases;
