#!/usr/bin/env node
// Runs the whole vitest suite (all projects), then prints one plain summary line
// `N passed, N failed` read from vitest's JSON reporter, for CI.
// Extra arguments are passed to vitest (e.g. `pnpm test -- --project log`).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, existsSync, rmSync } from 'node:fs';

spawnSync('bash', ['scripts/ensure-system-deps.sh'], { stdio: 'inherit' });
const out = 'test-results/vitest.json';
mkdirSync('test-results', { recursive: true });
if (existsSync(out)) rmSync(out);
const args = process.argv.slice(2).filter((a) => a !== '--');
const run = spawnSync(
  process.execPath,
  ['node_modules/vitest/vitest.mjs', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${out}`, ...args],
  { stdio: 'inherit' },
);
let passed = 0;
let failed = 0;
if (existsSync(out)) {
  const report = JSON.parse(readFileSync(out, 'utf8'));
  passed = report.numPassedTests ?? 0;
  // a file that failed to load has no assertion results: count it as one failure
  const brokenFiles = (report.testResults ?? []).filter(
    (f) => f.status === 'failed' && (f.assertionResults ?? []).length === 0,
  ).length;
  failed = (report.numFailedTests ?? 0) + brokenFiles;
} else {
  failed = 1;
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(run.status === 0 && failed === 0 ? 0 : 1);
