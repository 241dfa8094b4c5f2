import { rm } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { openLog } from '../src/index.js';
import { childPath, collect, spawnTs, tempDir } from './helpers.js';

const ITERATIONS = Number(process.env.CRASH_ITERATIONS ?? 50);
const SEED = Number(process.env.CRASH_SEED ?? Date.now() % 1_000_000);

/** Small deterministic PRNG so a failing run can be replayed with CRASH_SEED. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 0x1_0000_0000;
  };
}

interface Run {
  acks: { stream: string; seq: number; hash: string }[];
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Starts the child; kills it `delayMs` after it is ready (or, with `early`, before it is). */
async function crashOnce(dir: string, delayMs: number, early: boolean): Promise<Run> {
  const child = spawnTs(childPath('crash-child.ts'), [dir]);
  const acks: Run['acks'] = [];
  let buf = '';
  let stderr = '';
  let killTimer: NodeJS.Timeout | undefined;
  const kill = () => child.kill('SIGKILL');
  if (early) killTimer = setTimeout(kill, delayMs);
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line === 'ready' && !early) killTimer = setTimeout(kill, delayMs);
      const m = /^ack (\S+) (\d+) ([0-9a-f]{64})$/.exec(line);
      if (m) acks.push({ stream: m[1] as string, seq: Number(m[2]), hash: m[3] as string });
    }
  });
  const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.on('close', (_code, sig) => resolve(sig)));
  clearTimeout(killTimer);
  return { acks, signal, stderr };
}

describe('crash safety', () => {
  it(`SIGKILL at a random instant: reopen succeeds with every acknowledged entry and valid chains (${ITERATIONS} runs, seed ${SEED})`, async () => {
    const random = rng(SEED);
    const plans = Array.from({ length: ITERATIONS }, () => {
      const early = random() < 0.1;
      return { early, delay: early ? Math.floor(random() * 400) : Math.floor(random() * 250) };
    });
    let totalAcks = 0;
    let next = 0;
    // two children at a time: most of a run is process start-up
    const worker = async (): Promise<void> => {
      for (let i = next++; i < ITERATIONS; i = next++) {
        const { early, delay } = plans[i] as { early: boolean; delay: number };
        const dir = await tempDir('pslog-crash-');
        const run = await crashOnce(dir, delay, early);
        expect([i, run.signal, run.stderr]).toEqual([i, 'SIGKILL', '']);
        const log = await openLog({ dir });
        try {
          const byStream = new Map<string, Map<number, string>>();
          for (const s of log.streams()) {
            const entries = await collect(log.read(s));
            byStream.set(s, new Map(entries.map((e) => [e.seq, Buffer.from(e.hash).toString('hex')])));
          }
          for (const a of run.acks) expect([i, a.stream, a.seq, byStream.get(a.stream)?.get(a.seq)]).toEqual([i, a.stream, a.seq, a.hash]);
          const report = await log.verify();
          expect([i, report.broken]).toEqual([i, []]);
          totalAcks += run.acks.length;
        } finally {
          await log.close();
          await rm(dir, { recursive: true, force: true });
        }
      }
    };
    await Promise.all([worker(), worker()]);
    // the kills must land while appends are flowing, not only before or after
    expect(totalAcks).toBeGreaterThan(ITERATIONS * 10);
  }, 170_000);
});
