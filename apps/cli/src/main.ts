#!/usr/bin/env node
/** The `profilesync` binary. */
import { run } from './program.js';

const code = await run(process.argv.slice(2), { env: process.env, cwd: process.cwd(), stdout: process.stdout, stderr: process.stderr });
process.exitCode = code;
