#!/usr/bin/env node
/**
 * `npm run pack:cli -- [--out DIR] [--no-build]`: the self-contained CLI package, as an npm
 * tarball (`profilesync-cli-<version>.tgz`) written into DIR (default: the directory the command
 * was run from). `npm install -g ./profilesync-cli-<version>.tgz` gives a `profilesync` binary
 * that needs nothing from this repository.
 *
 * What is in it (dist/):
 * - cli.mjs and its chunks: apps/cli's built entry bundled by esbuild with the workspace packages
 *   and their pure-JS dependencies inlined (the commands' lazy imports stay lazy: splitting);
 * - yjs.mjs: Yjs with lib0 as patched in patches/ (pnpm patchedDependencies), shared by the main
 *   thread and the snapshot worker thread, which imports it by URL (PROFILESYNC_BUNDLED_YJS);
 * - web/: the dashboard's built files (apps/web/dist), served at / (PROFILESYNC_BUNDLED_WEB_DIR);
 * - THIRD_PARTY_NOTICES.md: name, version, license and license text of every inlined package.
 * Native modules stay real dependencies at the exact versions the lockfile installed here
 * (classic-level for LevelDB, sodium-native for libsodium), fetched from the registry with
 * their prebuilt binaries at install time.
 *
 * The build fails (nothing is written) when an import is left unresolved that is not a declared
 * dependency, a Node built-in or an optional module its importer guards, when lib0 is not the
 * patched copy, or when the dashboard or the CLI is not built.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI_DIR = join(ROOT, 'apps', 'cli');
const WEB_DIST = join(ROOT, 'apps', 'web', 'dist');
const LOG_DIR = join(ROOT, 'packages', 'log');
const CRYPTO_DIR = join(ROOT, 'packages', 'crypto');
const PATCH_MARK = 'profilesync patch: copy long strings in one call';

/** Native modules: real dependencies, exact versions (resolved from the package that imports them). */
const NATIVE = [
  { name: 'classic-level', from: dirname(createRequire(join(LOG_DIR, 'package.json')).resolve('level/package.json')) },
  { name: 'sodium-native', from: CRYPTO_DIR },
];
/**
 * Optional peers that their importers load inside try/catch or on demand for features profilesync
 * does not use (absent = the importer's fallback): ws's native helpers, node-redis's digest().
 * A name here that an inlined package lists as a real dependency fails the build.
 */
const OPTIONAL = ['bufferutil', 'utf-8-validate', '@node-rs/xxhash'];

function fail(message) {
  process.stderr.write(`pack:cli: ${message}\n`);
  process.exit(1);
}

const { values: args } = parseArgs({
  options: {
    out: { type: 'string' },
    'no-build': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) {
  process.stdout.write('usage: npm run pack:cli -- [--out DIR] [--no-build]\n  writes profilesync-cli-<version>.tgz into DIR (default: the current directory)\n');
  process.exit(0);
}
const outDir = resolve(process.env.INIT_CWD ?? process.cwd(), args.out ?? '.');

if (!args['no-build']) {
  const turbo = join(ROOT, 'node_modules', 'turbo', 'bin', 'turbo');
  if (!existsSync(turbo)) fail('dependencies are not installed: run `npx -y pnpm@10.34.8 install` first');
  process.stderr.write('pack:cli: building (turbo, cached when nothing changed)...\n');
  const built = spawnSync(process.execPath, [turbo, 'run', 'build', '--output-logs=errors-only'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (built.status !== 0) fail(`the build failed (exit ${built.status ?? built.signal}):\n${built.stdout ?? ''}${built.stderr ?? ''}`);
}
const entry = join(CLI_DIR, 'dist', 'main.js');
if (!existsSync(entry)) fail(`${entry} is missing: build first (\`npx -y pnpm@10.34.8 build\`)`);
if (!existsSync(join(WEB_DIST, 'index.html'))) fail(`${WEB_DIST}/index.html is missing: build the dashboard first (\`npx -y pnpm@10.34.8 build\`)`);

const cliManifest = JSON.parse(readFileSync(join(CLI_DIR, 'package.json'), 'utf8'));
const rootManifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const dependencies = {};
for (const n of NATIVE) {
  const manifest = JSON.parse(readFileSync(createRequire(join(n.from, 'package.json')).resolve(`${n.name}/package.json`), 'utf8'));
  dependencies[n.name] = manifest.version;
}

const stage = mkdtempSync(join(tmpdir(), 'profilesync-pack-'));
try {
  const pkg = join(stage, 'package');
  const dist = join(pkg, 'dist');
  mkdirSync(dist, { recursive: true });

  // Yjs as its own entry (dist/yjs.mjs): the worker thread imports that file; the main thread's
  // code imports the same module through the shared chunk, so there is one Yjs per thread
  const yjsEntry = {
    name: 'yjs-entry',
    setup(b) {
      b.onResolve({ filter: /^profilesync-pack:yjs$/ }, async () => {
        const r = await b.resolve('yjs', { resolveDir: LOG_DIR, kind: 'import-statement' });
        if (r.errors.length > 0) return { errors: r.errors };
        return { path: r.path };
      });
    },
  };
  const result = await build({
    entryPoints: [
      { in: entry, out: 'cli' },
      { in: 'profilesync-pack:yjs', out: 'yjs' },
    ],
    absWorkingDir: ROOT,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    outdir: dist,
    outExtension: { '.js': '.mjs' },
    chunkNames: '[name]-[hash]',
    external: [...Object.keys(dependencies), ...OPTIONAL],
    define: {
      PROFILESYNC_BUNDLED_YJS: JSON.stringify('./yjs.mjs'),
      PROFILESYNC_BUNDLED_WEB_DIR: JSON.stringify('./web/'),
    },
    // CommonJS dependencies call require() for Node built-ins: give every ES module file one
    banner: { js: "import { createRequire as __profilesyncCreateRequire } from 'node:module';\nconst require = __profilesyncCreateRequire(import.meta.url);" },
    plugins: [yjsEntry],
    metafile: true,
    legalComments: 'none',
    logLevel: 'warning',
  });

  // every import left in the output: a built-in, a chunk, a declared dependency or an optional module
  const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
  const allowed = new Set([...Object.keys(dependencies), ...OPTIONAL]);
  for (const [file, out] of Object.entries(result.metafile.outputs)) {
    for (const imp of out.imports) {
      if (!imp.external) continue;
      if (builtins.has(imp.path) || allowed.has(imp.path)) continue;
      throw new Error(`${file} imports ${imp.path}, which is neither bundled nor a dependency of the package`);
    }
  }

  // what was inlined: one Yjs, lib0 only from the patched copy, and the notices of every package
  const inputs = Object.keys(result.metafile.inputs).map((p) => resolve(ROOT, p));
  const packages = new Map();
  for (const file of inputs) {
    if (!file.split(/[\\/]/).includes('node_modules')) continue;
    let dir = dirname(file);
    while (!existsSync(join(dir, 'package.json')) || !JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name) dir = dirname(dir);
    packages.set(dir, JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')));
  }
  for (const [dir, m] of packages) {
    for (const name of OPTIONAL) if (m.dependencies?.[name] !== undefined) throw new Error(`${m.name} (${dir}) depends on ${name}: it must be inlined, not left out as optional`);
  }
  const byName = (name) => [...packages].filter(([, m]) => m.name === name);
  if (byName('yjs').length !== 1) throw new Error(`expected one Yjs in the bundle, found ${byName('yjs').map(([d]) => d).join(', ') || 'none'}`);
  const lib0 = byName('lib0');
  if (lib0.length !== 1) throw new Error(`expected one lib0 in the bundle, found ${lib0.map(([d]) => d).join(', ') || 'none'}`);
  if (!readFileSync(join(lib0[0][0], 'encoding.js'), 'utf8').includes(PATCH_MARK)) throw new Error(`${lib0[0][0]} is not the patched lib0 (patches/): run \`npx -y pnpm@10.34.8 install\``);

  const notices = ['# Third-party notices', '', `Packages inlined in dist/ of ${cliManifest.name} ${cliManifest.version}.`, ''];
  for (const [dir, m] of [...packages].sort((a, b) => `${a[1].name}@${a[1].version}`.localeCompare(`${b[1].name}@${b[1].version}`))) {
    const license = readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\.|$)/i.test(f));
    notices.push(`## ${m.name}@${m.version} (${typeof m.license === 'string' ? m.license : 'see below'})`, '');
    if (license !== undefined) notices.push(readFileSync(join(dir, license), 'utf8').trim(), '');
  }
  writeFileSync(join(pkg, 'THIRD_PARTY_NOTICES.md'), `${notices.join('\n')}\n`);

  // the dashboard without its source maps (half its size; nothing links them but DevTools)
  cpSync(WEB_DIST, join(dist, 'web'), { recursive: true, filter: (src) => !src.endsWith('.map') });
  cpSync(join(CLI_DIR, 'README.md'), join(pkg, 'README.md'));
  const manifest = {
    name: cliManifest.name,
    version: cliManifest.version,
    description: 'profilesync: the node (HTTP API, dashboard, peer sync) and its command line, in one package',
    type: 'module',
    bin: { profilesync: 'dist/cli.mjs' },
    files: ['dist', 'README.md', 'THIRD_PARTY_NOTICES.md'],
    engines: rootManifest.engines,
    dependencies,
  };
  writeFileSync(join(pkg, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);

  mkdirSync(outDir, { recursive: true });
  const packed = spawnSync('npm', ['pack', '--json', '--pack-destination', outDir], {
    cwd: pkg,
    encoding: 'utf8',
    env: { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' },
  });
  if (packed.status !== 0) throw new Error(`npm pack failed (exit ${packed.status ?? packed.signal}):\n${packed.stdout}${packed.stderr}`);
  const info = JSON.parse(packed.stdout)[0];
  const tarball = join(outDir, info.filename);
  const size = statSync(tarball).size;
  process.stderr.write(
    `pack:cli: ${tarball}: ${(size / 1024 / 1024).toFixed(1)} MiB packed, ${(info.unpackedSize / 1024 / 1024).toFixed(1)} MiB unpacked, ${info.entryCount} files; ${packages.size} packages inlined; dependencies: ${Object.entries(dependencies).map(([n, v]) => `${n}@${v}`).join(', ')}\n`,
  );
  process.stdout.write(`${tarball}\n`);
} catch (err) {
  process.stderr.write(`pack:cli: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
} finally {
  rmSync(stage, { recursive: true, force: true });
}
