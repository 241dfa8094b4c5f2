#!/usr/bin/env node
// Lint = typecheck of every package (sources + tests) + no import cycles.
// Import cycles fail the build: dpdm walks every entry point and exits 1 on a cycle.
import { spawnSync } from 'node:child_process';
import { readdirSync, existsSync } from 'node:fs';

const run = (cmd, args) => {
  console.log(`$ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
};

run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.check.json']);
// the web UI has its own tsconfig (DOM types)
if (existsSync('apps/web/tsconfig.json')) run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'apps/web/tsconfig.json', '--noEmit']);

const entries = [];
for (const group of ['packages', 'apps']) {
  for (const name of readdirSync(group)) {
    for (const f of ['src/index.ts', 'src/main.ts']) {
      if (existsSync(`${group}/${name}/${f}`)) entries.push(`${group}/${name}/${f}`);
    }
  }
}
run(process.execPath, [
  'node_modules/dpdm/lib/bin/dpdm.js', '--no-warning', '--no-tree', '-T', '--exit-code', 'circular:1',
  '--tsconfig', 'tsconfig.check.json', ...entries,
]);
console.log('lint ok: types check, no import cycles');
