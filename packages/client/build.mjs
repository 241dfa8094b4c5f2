#!/usr/bin/env node
/**
 * Builds the publishable package: ESM bundles with esbuild (the workspace's model, cache and
 * errors sources are bundled in, so the package installs without them), then declarations
 * with tsc. The main entry is platform-neutral (browsers, edge runtimes, Node): `node:crypto`
 * is replaced by a @noble/hashes shim; `./redis` and `./file` are Node-only entries.
 * Fails when a declaration file still names a workspace package (it would not resolve once
 * published).
 */
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
process.chdir(here);
rmSync('dist', { recursive: true, force: true });

const external = ['lru-cache', 'eventsource-parser', 'redis'];
const common = {
  bundle: true,
  format: 'esm',
  target: 'es2022',
  conditions: ['@profilesync/source'],
  external,
  sourcemap: true,
  legalComments: 'none',
  logLevel: 'warning',
};

await build({
  ...common,
  platform: 'neutral',
  mainFields: ['module', 'main'],
  entryPoints: { index: 'src/index.ts' },
  outdir: 'dist',
  plugins: [
    {
      // node:crypto -> the shim; other builtins stay imports, and must be tree-shaken away (checked below)
      name: 'portable-builtins',
      setup(b) {
        b.onResolve({ filter: /^node:/ }, (args) =>
          args.path === 'node:crypto' ? { path: fileURLToPath(new URL('./shims/node-crypto.ts', import.meta.url)) } : { path: args.path, external: true },
        );
      },
    },
  ],
});
await build({
  ...common,
  platform: 'node',
  entryPoints: { redis: 'src/redis.ts', file: 'src/file.ts' },
  outdir: 'dist',
});

const tsc = spawnSync(process.execPath, [fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url)), '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
if (tsc.status !== 0) process.exit(tsc.status ?? 1);

const leaks = readdirSync('dist').filter((f) => f.endsWith('.d.ts') && /^(import|export)[^\n]*from ['"]@profilesync\//m.test(readFileSync(`dist/${f}`, 'utf8')));
if (leaks.length > 0) {
  console.error(`declarations name workspace packages (not published): ${leaks.join(', ')}`);
  process.exit(1);
}
const js = readFileSync('dist/index.js', 'utf8');
for (const banned of ['node:', "from 'redis'", 'from "redis"']) {
  if (js.includes(banned)) {
    console.error(`dist/index.js must run in browsers: it contains ${banned}`);
    process.exit(1);
  }
}
