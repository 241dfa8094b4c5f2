/**
 * Crash: a server in a child process under concurrent PATCH load is killed with SIGKILL at a
 * random instant; a new server on the same dir must hold every PATCH that got a 2xx (each
 * acked change visible in the view, and history at least as long as the acks).
 * CRASH_ITERATIONS=N runs more rounds.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ADMIN, http, profileInput, tempDir } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CHILD = fileURLToPath(new URL('./fixtures/serve-child.ts', import.meta.url));
const ITERATIONS = Number(process.env.CRASH_ITERATIONS ?? 4);
const PROFILES = 4;
const WRITERS = 16;
const dir = tempDir('ps-crash-');
const children = new Set<ChildProcess>();

afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function spawnServer(dataDir: string): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--conditions=@profilesync/source', '--import', 'tsx', CHILD], {
    cwd: ROOT,
    env: { ...process.env, DATA_DIR: dataDir, ADMIN_TOKEN: ADMIN },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.once('line', (line) => resolve({ url: (JSON.parse(line) as { url: string }).url, child }));
    child.once('exit', (code) => reject(new Error(`server exited early (${code}): ${stderr}`)));
  });
}

function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

describe('crash under load', () => {
  it(`every acknowledged PATCH survives SIGKILL (${ITERATIONS} rounds)`, async () => {
    const dataDir = join(dir, 'data');
    const acked = new Map<string, Map<string, number>>();
    for (let p = 0; p < PROFILES; p++) acked.set(`c${p}`, new Map());
    let first = true;
    for (let round = 0; round < ITERATIONS; round++) {
      const { url, child } = await spawnServer(dataDir);
      if (first) {
        for (const id of acked.keys()) expect((await http(url, 'POST', '/api/profiles', { body: profileInput(id) })).status).toBe(201);
        first = false;
      }
      // every acked change from earlier rounds is still there
      for (const [id, keys] of acked) {
        const view = (await http(url, 'GET', `/api/profiles/${id}`)).body;
        for (const [k, v] of keys) expect(view.meta[k], `${id}.meta.${k} after restart ${round}`).toBe(v);
      }
      let stop = false;
      const writer = async (w: number) => {
        for (let i = 0; !stop; i++) {
          const id = `c${(w + i) % PROFILES}`;
          const key = `r${round}w${w}i${i}`;
          try {
            const r = await http(url, 'PATCH', `/api/profiles/${id}`, { body: { meta: { [key]: i } } });
            if (r.status >= 200 && r.status < 300) acked.get(id)!.set(key, i);
          } catch {
            return; // connection reset by the kill: not acknowledged
          }
        }
      };
      const load = Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w)));
      await new Promise((r) => setTimeout(r, 200 + Math.floor(Math.random() * 600)));
      await killed(child);
      stop = true;
      await load;
    }
    const { url, child } = await spawnServer(dataDir);
    let total = 0;
    for (const [id, keys] of acked) {
      const view = (await http(url, 'GET', `/api/profiles/${id}`)).body;
      for (const [k, v] of keys) expect(view.meta[k], `${id}.meta.${k}`).toBe(v);
      const history = (await http(url, 'GET', `/api/profiles/${id}/history?entries=raw`)).body.entries;
      expect(history.length).toBeGreaterThanOrEqual(keys.size + 1);
      total += keys.size;
    }
    expect(total).toBeGreaterThan(ITERATIONS * 10);
    await killed(child);
  }, 120_000);
});
