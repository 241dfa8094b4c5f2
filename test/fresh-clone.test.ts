/**
 * README's quick start on a fresh clone, with only node and npm: `git clone` of this checkout
 * into a temp dir (no node_modules, no dist, no turbo cache), then README's first quick-start
 * line, taken from README.md itself and run as written (`npx -y pnpm@10.34.8 install && npm
 * start`) by bash, with a PATH that has node, npm, npx and git but no `pnpm`. The node must
 * answer /readyz and serve the dashboard, print its banner (URL, admin token), and stop with
 * cleanly on Ctrl-C (SIGINT to the process group, as a terminal sends it): the node logs `closed`,
 * no package-manager error.
 *
 * The only change to the command's world: PROFILESYNC_PORT is a free port (the README's node
 * listens on 7878; tests never take fixed ports). pnpm's store on this machine makes the install
 * mostly linking; the build is a full one (no turbo cache in a clone).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, delimiter } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { extractBlocks, repoRoot } from './doc-commands.js';

let work: string | undefined;
let group: number | undefined;

afterAll(() => {
  if (group !== undefined) {
    try {
      process.kill(-group, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  if (work) rmSync(work, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** A PATH with node, npm, npx and git and the system dirs, without any dir that has a pnpm. */
function pathWithoutPnpm(bin: string): string {
  mkdirSync(bin, { recursive: true });
  for (const tool of ['node', 'npm', 'npx', 'git']) {
    const where = spawnSync('bash', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
    if (where) symlinkSync(where, join(bin, tool));
  }
  const dirs = (process.env.PATH ?? '').split(delimiter).filter((d) => d !== '' && !d.includes('node_modules') && !existsSync(join(d, 'pnpm')));
  return [bin, ...dirs].join(delimiter);
}

describe('README quick start on a fresh clone (node and npm only)', () => {
  it('installs, builds and starts a node that answers /readyz and serves the dashboard; Ctrl-C stops it cleanly', { timeout: 660_000 }, async () => {
    const readme = extractBlocks('README.md', readFileSync(join(repoRoot, 'README.md'), 'utf8'));
    const quick = readme[0]!;
    expect(quick.notRun).toMatch(/fresh-clone\.test\.ts/);
    const command = quick.commands[0]!.text;
    expect(command).toMatch(/install && npm start$/);

    work = mkdtempSync(join(tmpdir(), 'fresh-clone-'));
    const clone = join(work, 'profilesync');
    const head = spawnSync('git', ['-C', repoRoot, 'rev-parse', 'HEAD'], { encoding: 'utf8' });
    // a checkout that is no git repository (an exported tree): the same files without what
    // install and build make, so the run still starts from nothing
    const cloned =
      head.status === 0
        ? spawnSync('bash', ['-c', `git clone -q "${repoRoot}" "${clone}" && git -C "${clone}" checkout -q ${head.stdout.trim()}`], { encoding: 'utf8' })
        : spawnSync('bash', ['-c', `mkdir -p "${clone}" && tar -C "${repoRoot}" --exclude=node_modules --exclude=dist --exclude=.turbo --exclude=data --exclude=test-results -cf - . | tar -C "${clone}" -xf -`], { encoding: 'utf8' });
    expect(cloned.status, cloned.stderr).toBe(0);
    expect(existsSync(join(clone, 'node_modules'))).toBe(false);

    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) {
      if (k.startsWith('PROFILESYNC_') || k.startsWith('VITEST') || k.startsWith('npm_') || ['NODE_ENV', 'NODE_OPTIONS', 'INIT_CWD', 'CI', 'TURBO_HASH'].includes(k)) continue;
      env[k] = v;
    }
    const port = await freePort();
    Object.assign(env, { PATH: pathWithoutPnpm(join(work, 'bin')), PROFILESYNC_PORT: String(port), NO_COLOR: '1', npm_config_update_notifier: 'false', npm_config_fund: 'false' });
    expect(spawnSync('bash', ['-c', 'command -v pnpm'], { env }).status).not.toBe(0);

    const proc = spawn('bash', ['-c', command], { cwd: clone, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    group = proc.pid;
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
    let done = false;
    void exited.then(() => (done = true));

    // about 2.5 minutes on a busy 2-core machine; the deadline leaves room for a whole suite beside it
    const deadline = Date.now() + 540_000;
    let ready = false;
    while (!ready && !done && Date.now() < deadline) {
      try {
        ready = (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200;
      } catch {
        /* not yet */
      }
      if (!ready) await new Promise((r) => setTimeout(r, 500));
    }
    expect(ready, `the node did not answer /readyz on ${port}:\n${out.slice(-4000)}`).toBe(true);

    // the banner the README describes: URL, data dir, public key, fingerprint, admin token
    expect(out).toContain(`http://127.0.0.1:${port}`);
    expect(out).toMatch(/public key\s+\S+/);
    expect(out).toMatch(/fingerprint\s+\S+/);
    const token = readFileSync(join(clone, 'data', 'admin.token'), 'utf8').trim();
    expect(out).toContain(token);

    const page = await fetch(`http://127.0.0.1:${port}/`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toMatch(/<script[^>]+src="[^"]*assets\/[^"]+\.js"/);
    const script = /<script[^>]+src="([^"]+)"/.exec(html)![1]!;
    const js = await fetch(new URL(script, `http://127.0.0.1:${port}/`));
    expect(js.status).toBe(200);
    expect((await js.text()).length).toBeGreaterThan(1000);

    // signed in with the printed token, the API answers (what the dashboard does first)
    const list = await fetch(`http://127.0.0.1:${port}/api/profiles`, { headers: { authorization: `Bearer ${token}` } });
    expect(list.status).toBe(200);

    process.kill(-proc.pid!, 'SIGINT');
    const { code, signal } = await exited;
    group = undefined;
    // the node shuts down cleanly (its last log line) and no package manager reports a failure;
    // npm itself ends the way a Ctrl-C'd program does (it re-raises SIGINT once its script ended)
    expect(out).toContain('"msg":"closed"');
    expect(out).not.toMatch(/ELIFECYCLE|npm ERR|npm error/);
    expect(code === 0 || signal === 'SIGINT', `exit ${code} ${signal}\n${out.slice(-2000)}`).toBe(true);
  });
});
