#!/usr/bin/env node
// The `profilesync` command: runs the built CLI (dist/main.js), or says how to build it.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write(`profilesync is not built yet (${fileURLToPath(main)} is missing): run \`npx -y pnpm@10.34.8 build\` (or \`npm start\`, which builds) in the repository first\n`);
  process.exit(1);
}
await import(main.href);
