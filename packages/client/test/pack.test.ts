/**
 * The published package, for real: build it, `npm pack` it, install the tarball (with the
 * registry's lru-cache and eventsource-parser, and node-redis for the Redis subpath) in an
 * empty folder outside the workspace, then
 * - run an app there (plain Node ESM) against a real node: get, render, a live update, the
 *   response cache on a real redis-server through the `/redis` subpath loaded on demand;
 * - type-check a TypeScript consumer there against the published declarations alone (no
 *   @types/node, skipLibCheck off);
 * - load the same bundle in Debian's Chromium (playwright-core), served from the node's origin
 *   with an import map, and read + follow a profile from the page.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium } from 'playwright-core';
import { startRedisServer, type RedisServer } from '../../cache/test/redis-server.js';
import { admin, ensureBuilt, profile, startNode, ADMIN, type TestNode } from './node.js';

const PKG = fileURLToPath(new URL('..', import.meta.url));
const REPO = join(PKG, '..', '..');
const TSC = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');

let work: string;
let app: string;
let node: TestNode;
let redis: RedisServer;

function run(cmd: string, args: string[], cwd: string, timeout = 180_000): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout, env: { ...process.env, npm_config_fund: 'false', npm_config_audit: 'false', npm_config_update_notifier: 'false' } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

beforeAll(async () => {
  await ensureBuilt();
  work = mkdtempSync(join(tmpdir(), 'ps-pack-'));
  run('npm', ['pack', '--pack-destination', work], PKG);
  const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'))!;
  app = join(work, 'app');
  run('mkdir', ['-p', app], work);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'pack-test-app', private: true, type: 'module' }));
  run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', join(work, tarball), 'redis@6.3.1'], app);
  [node, redis] = await Promise.all([startNode(), startRedisServer()]);
}, 300_000);

afterAll(async () => {
  await node?.destroy();
  await redis?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('npm pack', () => {
  it('publishes only built files, no workspace dependencies, and a browser-safe main entry', () => {
    const manifest = JSON.parse(readFileSync(join(app, 'node_modules', '@profilesync', 'client', 'package.json'), 'utf8'));
    expect(manifest.private).toBeUndefined();
    expect(Object.keys(manifest.dependencies).sort()).toEqual(['eventsource-parser', 'lru-cache']);
    for (const v of Object.values<string>(manifest.dependencies)) expect(v).toMatch(/^\d+\.\d+\.\d+$/);
    const files = readdirSync(join(app, 'node_modules', '@profilesync', 'client', 'dist'));
    expect(files).toEqual(expect.arrayContaining(['index.js', 'index.d.ts', 'redis.js', 'file.js']));
    const main = readFileSync(join(app, 'node_modules', '@profilesync', 'client', 'dist', 'index.js'), 'utf8');
    expect(main).not.toMatch(/from ["']node:/);
    expect(main).not.toMatch(/from ["']redis["']/);
    expect(main).not.toMatch(/@profilesync\/(model|cache|errors)/);
  });

  it('an app in an empty folder reads, renders, follows changes and caches answers on Redis', async () => {
    await admin(node.url, 'POST', '/api/profiles', profile('packed'));
    writeFileSync(
      join(app, 'app.mjs'),
      `import { createClient } from '@profilesync/client';
const ps = createClient({ url: process.env.URL, token: process.env.TOKEN, live: true, responseCache: { url: process.env.REDIS } });
await ps.ready();
const view = await ps.get('packed');
const rendered = await ps.render('packed', { product: 'Acme', name: 'Ada' }, { template: 'greet' });
let calls = 0;
const ask = () => ps.cached(view, rendered.request, async () => ({ n: ++calls }));
const first = await ask();
const second = await ask();
console.log(JSON.stringify({ step: 'ready', version: view.version, messages: rendered.messages, first, second }));
ps.on('updated', async (u) => {
  console.log(JSON.stringify({ step: 'updated', version: (await ps.get('packed')).version, u }));
  await ps.close();
});
`,
    );
    const child = spawn(process.execPath, ['app.mjs'], { cwd: app, env: { ...process.env, URL: node.url, TOKEN: ADMIN, REDIS: redis.url } });
    const lines: any[] = [];
    let err = '';
    child.stderr.on('data', (b) => (err += b));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    let buf = '';
    const ready = new Promise<void>((resolve) =>
      child.stdout.on('data', (b: Buffer) => {
        buf += b.toString();
        for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
          lines.push(JSON.parse(buf.slice(0, i)));
          buf = buf.slice(i + 1);
          if (lines.length === 1) resolve();
        }
      }),
    );
    await Promise.race([ready, exited.then((c) => Promise.reject(new Error(`app exited ${c}: ${err}`)))]);
    expect(lines[0]).toMatchObject({
      step: 'ready',
      messages: [
        { role: 'system', content: 'You are a support agent for Acme.' },
        { role: 'user', content: 'Hello Ada, how can I help?' },
      ],
      first: { n: 1 },
      second: { n: 1 },
    });
    const edited = await admin(node.url, 'PATCH', '/api/profiles/packed', { name: 'Edited' });
    expect(await exited).toBe(0);
    expect(lines[1]).toMatchObject({ step: 'updated', version: edited.body.version });
    // the answer went to Redis through the /redis subpath: the node-side keys are there
    const { createClient: redisClient } = await import('redis');
    const r = redisClient({ url: redis.url });
    await r.connect();
    expect((await r.keys('profilesync:cache:llm:p=packed:*')).length).toBe(1);
    await r.quit();
  });

  it('type-checks a TypeScript consumer against the published declarations alone', () => {
    writeFileSync(
      join(app, 'consumer.ts'),
      `import { createClient, ClientError, verifyWebhook, type ProfileView, type RenderResult, type ClientOptions } from '@profilesync/client';
import { fileStore } from '@profilesync/client/file';
import { connectRedisCache } from '@profilesync/client/redis';
const opts: ClientOptions = { url: 'http://127.0.0.1:7878', token: 't', ttlMs: 60_000, live: true, fallback: { support: { modelId: 'gpt-4o-mini' } }, persist: fileStore('/tmp/x.json') };
const ps = createClient(opts);
export async function handler(): Promise<string> {
  const p: ProfileView = await ps.get('support', { label: 'production' });
  const r: RenderResult = await ps.render('support', { name: 'Ada' }, { label: 'production' });
  const cache = await connectRedisCache({ url: 'redis://127.0.0.1:6379' });
  void cache;
  ps.on('error', (e: ClientError) => console.log(e.code, e.status));
  const answer = await ps.cached(r, r.request, async () => 'hi');
  await verifyWebhook('{}', 'sha256=00', 'secret').catch((e: ClientError) => e.code);
  return p.version + answer.length;
}
`,
    );
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { strict: true, noEmit: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2023', 'dom'], types: [], skipLibCheck: false }, files: ['consumer.ts'] }),
    );
    // node-redis's own declarations need @types/node; ours must not: check ours without them
    const r = spawnSync(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: app, encoding: 'utf8' });
    const ownErrors = r.stdout.split('\n').filter((l) => /error TS/.test(l) && !l.includes('node_modules/redis') && !l.includes('node_modules/@redis'));
    expect(ownErrors).toEqual([]);
  });

  it('runs in a browser: Chromium loads the bundle with an import map and follows a profile', async () => {
    await admin(node.url, 'POST', '/api/profiles', profile('in-browser'));
    const nm = join(app, 'node_modules');
    // what a bundler would pick with the `browser` condition, straight from the install
    const imports = {
      '@profilesync/client': '/__sdk/nm/@profilesync/client/dist/index.js',
      'lru-cache': '/__sdk/nm/lru-cache/dist/esm/browser/index.min.js',
      'eventsource-parser': '/__sdk/nm/eventsource-parser/dist/index.js',
    };
    const html = `<!doctype html><script type="importmap">${JSON.stringify({ imports })}</script><body>sdk</body>`;
    const browser = await chromium.launch({ executablePath: process.env.PROFILESYNC_CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage();
      await page.route(`${node.url}/__sdk/**`, async (route) => {
        const path = decodeURIComponent(new URL(route.request().url()).pathname);
        if (path === '/__sdk/page.html') return route.fulfill({ contentType: 'text/html', body: html });
        const rel = path.slice('/__sdk/nm/'.length);
        if (!path.startsWith('/__sdk/nm/') || rel.includes('..')) return route.fulfill({ status: 404, body: '' });
        return route.fulfill({ contentType: 'text/javascript', body: readFileSync(join(nm, rel), 'utf8') });
      });
      await page.goto(`${node.url}/__sdk/page.html`);
      // a string, not a function: the test runner would rewrite import() inside a function body
      const first = await page.evaluate(`(async () => {
        const { createClient } = await import('@profilesync/client');
        const ps = createClient({ url: location.origin, token: ${JSON.stringify(ADMIN)}, live: true });
        window.ps = ps;
        await ps.ready();
        const v = await ps.get('in-browser');
        const r = await ps.render('in-browser', { product: 'Acme' });
        return { version: v.version, system: r.messages[0].content, live: ps.live };
      })()`);
      expect(first).toMatchObject({ system: 'You are a support agent for Acme.', live: true });
      const edited = await admin(node.url, 'PATCH', '/api/profiles/in-browser', { name: 'Edited in the node' });
      const seen = await page.evaluate(async (want) => {
        const ps = (globalThis as any).ps;
        for (let i = 0; i < 500; i++) {
          const v = await ps.get('in-browser');
          if (v.version === want) return v.name;
          await new Promise((r) => setTimeout(r, 10));
        }
        return 'timeout';
      }, edited.body.version);
      expect(seen).toBe('Edited in the node');
      await page.evaluate(() => (globalThis as any).ps.close());
    } finally {
      await browser.close();
    }
  });
});
