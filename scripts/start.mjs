#!/usr/bin/env node
/**
 * `npm start` / `pnpm start`: builds what changed (turbo, output shown only on failure), then
 * runs `profilesync serve` IN THIS PROCESS with the arguments given after `--`. One process
 * under the package manager: Ctrl-C reaches the node, which shuts down cleanly and exits 0, so
 * the package manager reports no failure (no ELIFECYCLE).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const turbo = `${root}node_modules/turbo/bin/turbo`;
if (!existsSync(turbo)) {
  process.stderr.write('dependencies are not installed: run `npx -y pnpm@10.34.8 install` first\n');
  process.exit(1);
}
process.stderr.write('building (the first build takes a few minutes)...\n');
// turbo runs each package's build through the package manager (pnpm): the root devDependency's
// binary, so a machine with only node and npm builds too (also when run as `node scripts/start.mjs`)
const env = { ...process.env, PATH: `${root}node_modules/.bin${delimiter}${process.env.PATH ?? ''}` };
const built = spawnSync(process.execPath, [turbo, 'run', 'build', '--output-logs=errors-only'], { cwd: root, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
if (built.status !== 0) {
  process.stderr.write(`${built.stdout ?? ''}${built.stderr ?? ''}\nthe build failed (exit ${built.status ?? built.signal})\n`);
  process.exit(built.status ?? 1);
}
process.argv = [process.argv[0], `${root}apps/cli/dist/main.js`, 'serve', ...process.argv.slice(2)];
await import('../apps/cli/dist/main.js');
