/**
 * The change feed across process boundaries: a node in its own process (serve-child.ts) and
 * two SSE readers in processes of their own, `curl -N` and `node` with the `eventsource`
 * package. Both stay connected after `ready` and receive every later change (it was reported
 * that a stream opened from another process closed right after `ready`; it does not).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ADMIN, http, profileInput, tempDir } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SERVER_DIR = fileURLToPath(new URL('../', import.meta.url));
const CHILD = fileURLToPath(new URL('./fixtures/serve-child.ts', import.meta.url));
const dir = tempDir('ps-changes-proc-');
const children = new Set<ChildProcess>();

afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function track(c: ChildProcess): ChildProcess {
  children.add(c);
  return c;
}

async function startNodeProcess(): Promise<{ url: string; child: ChildProcess }> {
  const child = track(spawn(process.execPath, ['--conditions=@profilesync/source', '--import', 'tsx', CHILD], { cwd: ROOT, env: { ...process.env, DATA_DIR: join(dir, 'data'), ADMIN_TOKEN: ADMIN }, stdio: ['ignore', 'pipe', 'pipe'] }));
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (line) => resolve({ url: (JSON.parse(line) as { url: string }).url, child }));
    child.once('exit', (code) => reject(new Error(`node process exited with ${code}: ${stderr}`)));
  });
}

/** A reader process; `out` collects its stdout. */
interface Reader {
  child: ChildProcess;
  out: () => string;
}

function reader(cmd: string, args: string[], cwd: string): Reader {
  const child = track(spawn(cmd, args, { cwd, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString('utf8')));
  child.stderr!.on('data', (b: Buffer) => (out += `[stderr] ${b.toString('utf8')}`));
  return { child, out: () => out };
}

async function until(pred: () => boolean, what: string, detail: () => string, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${detail()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// the node reader prints one line per event: `ready`, `change ID VERSION`, `error MESSAGE`
const NODE_READER = `
const { EventSource } = await import('eventsource');
const [url, token] = process.argv.slice(1);
const es = new EventSource(url + '/api/changes', { fetch: (u, init) => fetch(u, { ...init, headers: { ...init.headers, authorization: 'Bearer ' + token } }) });
es.addEventListener('ready', () => console.log('ready'));
es.addEventListener('change', (e) => console.log('change ' + JSON.parse(e.data).id + ' ' + JSON.parse(e.data).version));
es.onerror = (e) => console.log('error ' + e.message);
`;

describe('change feed read from other processes', () => {
  it('curl -N and a node EventSource in their own processes stay connected after ready and get every later change', async () => {
    const node = await startNodeProcess();
    const curl = reader('curl', ['-sN', '-H', `Authorization: Bearer ${ADMIN}`, `${node.url}/api/changes`], SERVER_DIR);
    const es = reader(process.execPath, ['--input-type=module', '-e', NODE_READER, node.url, ADMIN], SERVER_DIR);
    const show = () => `curl: ${curl.out()} | node: ${es.out()}`;
    await until(() => curl.out().includes('event: ready') && es.out().includes('ready\n'), 'ready at both readers', show);

    // changes made after ready, one after the other, each reaching both readers
    const versions: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = i === 0 ? await http(node.url, 'POST', '/api/profiles', { body: profileInput('proc-a') }) : await http(node.url, 'PATCH', '/api/profiles/proc-a', { body: { description: `edit ${i}` } });
      expect(r.status).toBe(i === 0 ? 201 : 200);
      versions.push(r.body.version);
      await until(() => curl.out().includes(r.body.version) && es.out().includes(`change proc-a ${r.body.version}`), `change ${i} at both readers`, show);
    }
    // both readers are still running and connected: never an error, and exactly one ready each
    expect(curl.child.exitCode).toBeNull();
    expect(es.child.exitCode).toBeNull();
    expect(es.out()).not.toContain('error');
    expect(es.out().match(/^ready$/gm)).toHaveLength(1);
    expect(curl.out().match(/event: ready/g)).toHaveLength(1);
    expect(es.out().match(/^change /gm)).toHaveLength(3);
    expect(curl.out().match(/event: change/g)).toHaveLength(3);
  });
});
