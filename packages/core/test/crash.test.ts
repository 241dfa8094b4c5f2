import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { materializeProfile } from '../src/materialize.js';
import { openStore } from '../src/open.js';
import { removeDir, tempDir } from './helpers.js';

const ITERATIONS = Number(process.env.CORE_CRASH_ITERATIONS ?? 8);
const child = fileURLToPath(new URL('./child/crash-writer.ts', import.meta.url));
const root = fileURLToPath(new URL('../../../', import.meta.url));

/** Runs the writer child and SIGKILLs it `delayMs` after it is ready; returns the last ack per profile. */
function crashOnce(dir: string, delayMs: number): Promise<Map<string, number>> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--conditions=@profilesync/source', '--import', 'tsx', child, dir], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    const acks = new Map<string, number>();
    let buf = '';
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line === 'ready') setTimeout(() => p.kill('SIGKILL'), delayMs);
        const m = /^ack (\S+) (\d+)$/.exec(line);
        if (m) acks.set(m[1] as string, Number(m[2]));
      }
    });
    p.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve(acks) : reject(new Error(`child exited ${code}: ${err}`))));
  });
}

describe('crash (SIGKILL while writing through the store)', () => {
  it(`every acknowledged write survives and views agree with the entries (${ITERATIONS} kills)`, { timeout: 180_000 }, async () => {
    const dir = await tempDir('core-crash-');
    try {
      const lastAck = new Map<string, number>();
      for (let i = 0; i < ITERATIONS; i++) {
        const acks = await crashOnce(dir, 50 + ((i * 97) % 400));
        for (const [id, n] of acks) lastAck.set(id, Math.max(lastAck.get(id) ?? 0, n));
        const store = await openStore({ dir });
        try {
          for (const [id, n] of lastAck) {
            const v = await store.get(id);
            expect(v.parameters.seed as number).toBeGreaterThanOrEqual(n);
            expect(v.systemMessage.startsWith(`n=${v.parameters.seed as number}`)).toBe(true);
            // the persisted view is exactly what the entries materialize to
            const head = store.log.head(id)!;
            const state = await store.log.loadState(id);
            const last = { seq: head.seq, lsn: head.lsn, ts: head.ts, actor: 'crash', origin: 'local' };
            expect(Buffer.from((await store.log.getView(id))!).equals(Buffer.from(materializeProfile(id, state.state, last)!))).toBe(true);
          }
        } finally {
          await store.close();
        }
      }
      expect(lastAck.size).toBe(4);
    } finally {
      await removeDir(dir);
    }
  });
});
