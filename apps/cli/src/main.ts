#!/usr/bin/env node
/** The `profilesync` binary. */
import { guardPipes } from './pipes.js';
import { run } from './program.js';

// `profilesync ... | head -1`: a reader that goes away is the end of the output, not a crash
guardPipes(process.stdout, process.stderr);
const code = await run(process.argv.slice(2), { env: process.env, cwd: process.cwd(), stdout: process.stdout, stderr: process.stderr });
process.exitCode = code;
