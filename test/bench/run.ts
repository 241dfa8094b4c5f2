/**
 * Runs the benchmark cases in test/bench/*.bench.ts.
 *   pnpm bench                      all cases, a human table
 *   pnpm bench -- --filter log      cases whose name contains "log"
 *   pnpm bench -- --json            one JSON object per line (see harness.ts)
 * Each case runs in its own process (this file with --only NAME), so no case inherits the heap,
 * the compiled code or the open handles of the ones before it.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BenchCase, BenchResult } from './harness.js';

const argv = process.argv.slice(2);
const json = argv.includes('--json');
const filters: string[] = [];
let only: string | undefined;
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--filter' && argv[i + 1]) filters.push(argv[++i] as string);
  else if (argv[i]?.startsWith('--filter=')) filters.push(argv[i]!.slice('--filter='.length));
  else if (argv[i] === '--only' && argv[i + 1]) only = argv[++i] as string;
}

const dir = fileURLToPath(new URL('.', import.meta.url));
const files = readdirSync(dir).filter((f) => f.endsWith('.bench.ts')).sort();
const cases: BenchCase[] = [];
for (const f of files) {
  const mod = (await import(pathToFileURL(`${dir}${f}`).href)) as { default: BenchCase[] };
  cases.push(...mod.default);
}
const selected = only !== undefined ? cases.filter((c) => c.name === only) : cases.filter((c) => filters.length === 0 || filters.some((f) => c.name.includes(f)));
if (selected.length === 0) {
  console.error(`no benchmark matches ${filters.join(', ')}; known: ${cases.map((c) => c.name).join(', ')}`);
  process.exit(2);
}

const print = (r: BenchResult): void => {
  if (json) {
    console.log(JSON.stringify(r));
    return;
  }
  const base = r.baselineValue !== undefined ? `  vs ${r.baseline}: ${r.baselineValue} ${r.unit}  ratio ${r.ratio}` : '';
  const lat = r.p50 !== undefined ? `  (p50 ${r.p50}, p99 ${r.p99})` : '';
  const goal = r.goal ? `  goal ${r.goal}: ${r.met === undefined ? '-' : r.met ? 'met' : 'NOT MET'}` : '';
  const extra = r.extra ? `  ${JSON.stringify(r.extra)}` : '';
  console.log(`${r.name.padEnd(28)} ${String(r.value).padStart(12)} ${r.unit}${lat}${base}${goal}${extra}`);
};

if (only === undefined) {
  // the parent: one child process per case, output passed through as it comes
  let failed = false;
  for (const c of selected) {
    const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--only', c.name, ...(json ? ['--json'] : [])], { stdio: 'inherit' });
    if (r.status !== 0) failed = true;
  }
  process.exit(failed ? 1 : 0);
}

let failed = false;
for (const c of selected) {
  try {
    const out = await c.run();
    for (const r of Array.isArray(out) ? out : [out]) print(r);
  } catch (err) {
    failed = true;
    console.error(`${c.name}: failed: ${(err as Error).stack ?? String(err)}`);
  }
}
process.exit(failed ? 1 : 0);
