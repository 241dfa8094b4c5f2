/** @profilesync/cli: the `profilesync` command line (bin: dist/main.js). */
export { run, buildProgram, VERSION } from './program.js';
export { EXIT, exitCodeFor } from './exit-codes.js';
export { assignmentsToPatch, mergeDiff, editable, parseValue } from './patch.js';
export { rateAndEta, formatPlainLine, createProgress } from './progress.js';
export { renderTable, colorEnabled, Output } from './output.js';
export { ApiClient, localUrl } from './client.js';
