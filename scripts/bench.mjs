#!/usr/bin/env node
// `pnpm bench [-- --filter NAME] [--json]`: runs test/bench/*.bench.ts through tsx,
// with workspace packages resolved to their TypeScript sources.
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2).filter((a) => a !== '--');
const r = spawnSync(
  process.execPath,
  ['--conditions=@profilesync/source', '--expose-gc', '--import', 'tsx', 'test/bench/run.ts', ...args],
  { stdio: 'inherit' },
);
process.exit(r.status ?? 1);
