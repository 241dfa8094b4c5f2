/**
 * The CLI package, for real: `npm run pack:cli` builds the self-contained tarball, `npm install -g
 * --prefix` installs it (its two native dependencies from the registry) in a temp dir, and the
 * installed `profilesync` runs with nothing of this repository reachable: a temp HOME and cwd, a
 * PATH of only the prefix's bin and a dir holding `node`, no NODE_PATH, no node_modules above.
 * It shows --help and --version, inits and serves a fresh data dir (readyz, the dashboard at /,
 * OpenAPI), creates a profile with messages and renders it over HTTP, edits it through the
 * installed CLI and HTTP until snapshots are built, takes an online backup, stops on SIGTERM
 * with exit 0, restores the backup and verifies it. A preload observes worker_threads (it only
 * listens) to prove that the snapshot worker thread ran, on the package's own bundled Yjs.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, ROOT } from './helpers.js';

const VERSION = JSON.parse(readFileSync(join(ROOT, 'apps', 'cli', 'package.json'), 'utf8')).version as string;

let work: string;
let tarball: string;
let prefix: string;
let pkgDir: string;
let home: string;
let probeOut: string;
let env: Record<string, string>;

const npmEnv = (extra: Record<string, string> = {}) => ({ ...process.env, npm_config_fund: 'false', npm_config_audit: 'false', npm_config_update_notifier: 'false', ...extra });

function run(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; timeout?: number }) {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, env: opts.env ?? npmEnv(), encoding: 'utf8', timeout: opts.timeout ?? 120_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} (in ${opts.cwd}) exited ${r.status ?? r.signal}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** The installed binary, resolved through the isolated PATH only. */
function ps(args: string[], cwd = home) {
  const r = spawnSync('profilesync', args, { cwd, env, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, error: r.error };
}

function psJson(args: string[], cwd = home): any {
  const r = ps([...args, '--json'], cwd);
  if (r.code !== 0) throw new Error(`profilesync ${args.join(' ')} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** Lines the worker_threads observer wrote (one JSON object a line). */
function probe(): { pid: number; yjs: string; event: string; error?: string }[] {
  if (!existsSync(probeOut)) return [];
  return readFileSync(probeOut, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

async function until(pred: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

beforeAll(() => {
  assertBuilt();
  work = mkdtempSync(join(tmpdir(), 'ps-cli-pack-'));
  // nothing above the temp dir may hold a node_modules Node would search
  for (let d = work; d !== dirname(d); d = dirname(d)) expect(existsSync(join(dirname(d), 'node_modules')), `${dirname(d)}/node_modules exists`).toBe(false);
  const out = join(work, 'out');
  // exactly as docs/operations.md writes it (the suite has built already: --no-build)
  const printed = run('npm', ['run', '--silent', 'pack:cli', '--', '--no-build', '--out', out], { cwd: ROOT });
  tarball = printed.trim().split('\n').pop()!;
  home = join(work, 'home');
  prefix = join(work, 'prefix');
  mkdirSync(home);
  // the registry's native modules; the npm cache of the user running the tests (not the temp HOME's) spares downloads
  const cache = spawnSync('npm', ['config', 'get', 'cache'], { encoding: 'utf8', env: npmEnv() }).stdout.trim();
  run('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', '--loglevel=error', tarball], {
    cwd: home,
    env: npmEnv({ HOME: home, npm_config_cache: cache }),
    timeout: 240_000,
  });
  pkgDir = join(prefix, 'lib', 'node_modules', '@profilesync', 'cli');
  const nodeDir = join(work, 'node-bin');
  mkdirSync(nodeDir);
  symlinkSync(process.execPath, join(nodeDir, 'node'));
  probeOut = join(work, 'threads.jsonl');
  const probeFile = join(work, 'observe-threads.cjs');
  writeFileSync(
    probeFile,
    `// observes the snapshot worker thread (the Worker given workerData.yjs); changes nothing
const wt = require('node:worker_threads');
const { appendFileSync } = require('node:fs');
const { syncBuiltinESMExports } = require('node:module');
if (wt.isMainThread) {
  const Base = wt.Worker;
  wt.Worker = class extends Base {
    constructor(source, options) {
      super(source, options);
      const yjs = options && options.workerData && options.workerData.yjs;
      if (typeof yjs !== 'string') return;
      const note = (rec) => appendFileSync(${JSON.stringify(probeOut)}, JSON.stringify({ pid: process.pid, yjs, ...rec }) + '\\n');
      note({ event: 'start' });
      this.on('message', (m) => note(m && m.error !== undefined ? { event: 'error', error: m.error } : { event: m && m.out !== undefined ? 'built' : 'applied' }));
      this.on('error', (e) => note({ event: 'error', error: String(e && e.stack || e) }));
    }
  };
  syncBuiltinESMExports();
}
`,
  );
  env = { HOME: home, PATH: `${join(prefix, 'bin')}:${nodeDir}`, NO_COLOR: '1', NODE_OPTIONS: `--require=${probeFile}` };
}, 300_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the CLI package (npm run pack:cli)', () => {
  it('is one tarball of bundled files: no workspace dependencies, exact native ones, the dashboard and Yjs inside', () => {
    expect(tarball).toBe(join(work, 'out', `profilesync-cli-${VERSION}.tgz`));
    // the docs name this command and this file (the test runs it with --no-build: the suite built already)
    for (const doc of ['docs/operations.md', 'apps/cli/README.md', 'README.md']) {
      const text = readFileSync(join(ROOT, doc), 'utf8');
      expect(text, doc).toContain('npm run pack:cli -- --out');
      expect(text, doc).toContain(`profilesync-cli-${VERSION}.tgz`);
    }
    const size = statSync(tarball).size;
    expect(size).toBeGreaterThan(200 * 1024);
    expect(size).toBeLessThan(8 * 1024 * 1024);
    const manifest = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
    expect(manifest).toMatchObject({ name: '@profilesync/cli', version: VERSION, type: 'module', bin: { profilesync: 'dist/cli.mjs' } });
    expect(manifest.private).toBeUndefined();
    expect(Object.keys(manifest.dependencies).sort()).toEqual(['classic-level', 'sodium-native']);
    for (const v of Object.values<string>(manifest.dependencies)) expect(v).toMatch(/^\d+\.\d+\.\d+$/);
    const files = readdirSync(join(pkgDir, 'dist'));
    expect(files).toEqual(expect.arrayContaining(['cli.mjs', 'yjs.mjs', 'web']));
    expect(readdirSync(join(pkgDir, 'dist', 'web'))).toContain('index.html');
    expect(readdirSync(join(pkgDir, 'dist', 'web', 'assets')).filter((f) => f.endsWith('.map'))).toEqual([]);
    expect(readFileSync(join(pkgDir, 'THIRD_PARTY_NOTICES.md'), 'utf8')).toMatch(/^## yjs@\d+\.\d+\.\d+ \(MIT\)$/m);
    // no code of the package names a workspace package any more
    for (const f of files.filter((f) => f.endsWith('.mjs'))) expect(readFileSync(join(pkgDir, 'dist', f), 'utf8')).not.toMatch(/from ["']@profilesync\//);
    // the bundled lib0 is the patched one (patches/lib0@*.patch): strings over 32 bytes written in one call
    const bundled = files.filter((f) => f.endsWith('.mjs')).map((f) => readFileSync(join(pkgDir, 'dist', f), 'utf8')).join('\n');
    expect(bundled).toMatch(/if \(written > 32\) \{\s*writeUint8Array\(encoder, _strBuffer\.subarray\(0, written\)\);/);
  });

  it('finds nothing of the repository: yjs and the workspace packages do not resolve from the installed package', () => {
    const r = spawnSync(
      'node',
      ['-e', "for (const m of ['yjs', 'lib0', '@profilesync/core', 'fastify']) { try { require.resolve(m); console.log('resolves ' + m); } catch {} }"],
      { cwd: pkgDir, env, encoding: 'utf8' },
    );
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('');
    expect(spawnSync('/bin/sh', ['-c', 'command -v profilesync'], { env, encoding: 'utf8' }).stdout.trim()).toBe(join(prefix, 'bin', 'profilesync'));
  });

  it('prints --help and --version', () => {
    const help = ps(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: profilesync/);
    expect(help.stdout).toMatch(/\bserve\b/);
    const serveHelp = ps(['serve', '--help']);
    expect(serveHelp.code).toBe(0);
    expect(serveHelp.stdout).toContain('--port');
    const version = ps(['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toBe(VERSION);
  });

  it('inits and serves a data dir: readyz, dashboard, profiles, render, snapshots on the worker thread, online backup, SIGTERM, restore', async () => {
    let backedUp: { entries: number; bytes: number } | undefined;
    const init = psJson(['init', '--data', 'data']);
    expect(init.adminToken).toMatch(/^ps_/);
    const token = init.adminToken as string;

    const child = spawn('profilesync', ['serve', '--data', 'data', '--host', '127.0.0.1', '--port', '0', '--json', '--log-format', 'json'], { cwd: home, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b) => (stderr += b));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const info = await Promise.race([
        new Promise<{ url: string; pid: number }>((resolve) => createInterface({ input: child.stdout }).once('line', (l) => resolve(JSON.parse(l)))),
        exited.then((code) => Promise.reject(new Error(`serve exited ${code} before listening:\n${stderr}`))),
      ]);
      expect(info.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const api = async (method: string, path: string, body?: unknown) => {
        const res = await fetch(`${info.url}${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        return { status: res.status, body: (await res.json()) as any };
      };

      const ready = await fetch(`${info.url}/readyz`);
      expect(ready.status).toBe(200);
      expect(ready.headers.get('content-type')).toMatch(/^application\/json/);
      // the dashboard's page and its script, from the package's own copy of apps/web/dist
      const page = await fetch(`${info.url}/`, { headers: { accept: 'text/html' } });
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html).toMatch(/^<!doctype html>/i);
      expect(html).toBe(readFileSync(join(pkgDir, 'dist', 'web', 'index.html'), 'utf8'));
      const script = /<script[^>]*\bsrc="([^"]+\.js)"/.exec(html)?.[1];
      expect(script).toBeDefined();
      const asset = await fetch(`${info.url}${script}`);
      expect(asset.status).toBe(200);
      expect(asset.headers.get('content-type')).toMatch(/javascript/);
      expect((await fetch(`${info.url}/openapi.json`)).status).toBe(200);

      const created = await api('POST', '/api/profiles', {
        id: 'support',
        modelId: 'gpt-4o-mini',
        name: 'Support',
        systemMessage: 'You are a support agent for {{product}}.',
        messages: [
          { role: 'user', content: 'My order {{order}} is late.' },
          { role: 'assistant', content: 'Sorry about that: let me check {{order}}.' },
        ],
        templates: { greet: 'Hello {{name}}, how can I help?' },
        parameters: { temperature: 0.2 },
      });
      expect(created.status).toBe(201);
      const rendered = await api('POST', '/api/profiles/support/render', { variables: { product: 'Acme', order: 'A-17', name: 'Ada' }, template: 'greet' });
      expect(rendered.status).toBe(200);
      expect(rendered.body.messages).toEqual([
        { role: 'system', content: 'You are a support agent for Acme.' },
        { role: 'user', content: 'My order A-17 is late.' },
        { role: 'assistant', content: 'Sorry about that: let me check A-17.' },
        { role: 'user', content: 'Hello Ada, how can I help?' },
      ]);
      expect(rendered.body.request).toMatchObject({ model: 'gpt-4o-mini', temperature: 0.2 });

      // edits through the installed CLI (it finds the node from the data dir) and over HTTP:
      // enough entries for snapshots (every 32 entries on a young profile), built on the worker thread
      expect(psJson(['profile', 'set', 'support', '--data', 'data', 'name=Support desk']).name).toBe('Support desk');
      for (let i = 1; i <= 70; i++) expect((await api('PATCH', '/api/profiles/support', { parameters: { temperature: i / 100 } })).status).toBe(200);
      const servedBy = (p: { pid: number }) => p.pid === info.pid;
      await until(() => probe().some((p) => servedBy(p) && p.event === 'built'), 'a snapshot built on the worker thread');
      const got = psJson(['profile', 'get', 'support', '--data', 'data']);
      expect(got).toMatchObject({ name: 'Support desk', parameters: { temperature: 0.7 } });
      expect(got.messages.map((m: { content: string }) => m.content)).toEqual(['My order {{order}} is late.', 'Sorry about that: let me check {{order}}.']);

      // an online backup from the running node
      const backup = join(home, 'node.bak');
      const report = psJson(['backup', backup, '--data', 'data']);
      expect(report).toMatchObject({ online: true, url: info.url });
      expect(report.entries).toBeGreaterThan(70);
      expect(statSync(backup).size).toBe(report.bytes);
      backedUp = report;
    } finally {
      if (child.exitCode === null) child.kill('SIGTERM');
    }
    expect(await exited, stderr).toBe(0);
    expect(existsSync(join(home, 'data', 'server.json'))).toBe(false);

    // the worker thread of the node: started on the package's bundled Yjs, built snapshots, no error
    const yjsUrl = pathToFileURL(join(pkgDir, 'dist', 'yjs.mjs')).href;
    const served = probe();
    expect(served.length).toBeGreaterThan(0);
    expect(new Set(served.map((p) => p.yjs))).toEqual(new Set([yjsUrl]));
    expect(served.filter((p) => p.event === 'error')).toEqual([]);

    // restore the online backup into a new dir (the replay builds its snapshots on the worker thread too), verify, read back
    const before = probe().length;
    const restored = psJson(['restore', join(home, 'node.bak'), '--data', 'restored']);
    expect(restored).toMatchObject({ entries: backedUp!.entries, skipped: 0, adminToken: expect.stringMatching(/^ps_/) });
    const restoreThreads = probe().slice(before);
    expect(restoreThreads.filter((p) => p.event === 'built' || p.event === 'applied').length).toBeGreaterThan(0);
    expect(restoreThreads.filter((p) => p.event === 'error')).toEqual([]);
    const verify = ps(['verify', '--data', 'restored', '--json']);
    expect(verify.code, verify.stderr).toBe(0);
    const exported = psJson(['export', '--data', 'restored']);
    expect(JSON.stringify(exported)).toContain('Support desk');
  }, 120_000);
});
