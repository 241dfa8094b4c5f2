#!/usr/bin/env node
/** The `profilesync` binary. */
import { guardPipes } from './pipes.js';
import { run } from './program.js';

// `profilesync ... | head -1`: a reader that goes away is the end of the output, not a crash
guardPipes(process.stdout, process.stderr);
// owner-only files: data dirs, backups and exports this process writes are not readable by others
// (docs/security.md §9; the node also tightens its data dir when it opens it)
if (process.platform !== 'win32') process.umask(process.umask(0o077) | 0o077);

const code = await run(process.argv.slice(2), { env: process.env, cwd: process.cwd(), stdout: process.stdout, stderr: process.stderr });
process.exitCode = code;
