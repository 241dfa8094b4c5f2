/**
 * Every command README.md or a doc shows runs exactly as written (the project rule), here.
 *
 * What it does: test/doc-commands.ts extracts the commands of every fenced sh/bash/shell/console
 * block of README.md, apps/* /README.md, packages/* /README.md and docs/*.md. Each doc gets one
 * `it`: a fresh scratch directory (a "checkout" whose top-level entries are symlinks to this
 * repository's, without its data dir, so `npx profilesync`, `npm start` and relative paths work
 * as in the repository folder and every file a command writes (./data, node.bak, ...) lands in the
 * scratch dir) and ONE bash session that runs the doc's commands in order, like a reader
 * following the page: variables (`TOKEN=$(cat data/admin.token)`), background jobs (`serve &`,
 * `kill %1`) and files carry from one command to the next. A command passes when it exits 0 and,
 * for curl, the answer is not an error body (`{"error":{"code":...}}`; `curl -s` exits 0 on a
 * 4xx). A failure names the doc, the line, the command and its output.
 *
 * Ports: the docs say 127.0.0.1:7878 (and other fixed ports for second nodes). The test REWRITES
 * every port number the doc's commands mention (and 7878, the default) to a free port, the same
 * free port for the same documented port throughout the doc, and exports
 * PROFILESYNC_PORT=<free port for 7878> so a node started without --port (`npm start`,
 * `profilesync serve`) listens where the rewritten URLs point. Nothing else in a command is
 * changed.
 *
 * Long-running commands, run the way a reader runs them (in another terminal, or stopped with
 * Ctrl-C once they showed what they show):
 * - a node (`npm start`, `pnpm start`, `profilesync serve`, with or without `&`): started in
 *   the background; the next command runs once its /readyz answers (a reader waits for the
 *   banner). Every process a doc started is stopped at the end of the doc (its process group).
 * - a stream (`curl -N`): runs until it printed a complete event, then is interrupted.
 * The session has job control (`set -m`), as a terminal has: `kill %1` signals the whole job
 * (npx and the node it started), and the test waits for every process of the job to end before
 * the next command.
 * Jobs still running when the doc ends are stopped (SIGTERM to each job's process group).
 *
 * Exceptions: a block that cannot run here (a second machine, a real cloud, a terminal, the whole
 * suite) carries `<!-- not run: REASON -->` right before its fence; `<!-- given: COMMAND -->`
 * makes the state the prose assumes ("with the node running"). The last test pins the list of
 * both, so no block is skipped silently and every new exception shows up in review.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { allBlocks, repoRoot, type DocBlock } from './doc-commands.js';

const blocks = allBlocks();
const scratchDirs: string[] = [];
/** scratch dirs of docs that failed: kept for a look (each command's output is in .doc-cmd-N.out) */
const keptDirs = new Set<string>();

afterAll(() => {
  for (const d of scratchDirs) if (!keptDirs.has(d)) rmSync(d, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** A directory that looks like this checkout (symlinks) without its data and build leftovers. */
function scratchCheckout(): string {
  const dir = mkdtempSync(join(tmpdir(), 'doc-commands-'));
  scratchDirs.push(dir);
  const skip = new Set(['.git', 'data', 'test-results', '.turbo', 'coverage', 'bench-results', 'tmp']);
  for (const name of readdirSync(repoRoot)) {
    if (skip.has(name)) continue;
    symlinkSync(join(repoRoot, name), join(dir, name));
  }
  return dir;
}

const SERVER = /(^|[\s;&|(])(npm (run )?start|npx -y pnpm@[\d.]+ start|pnpm start|profilesync serve)\b/;
const STREAM = /\bcurl\b[^|;]*\s-[a-zA-Z]*N\b/;

interface Step {
  file: string;
  line: number;
  /** as written in the doc */
  written: string;
  /** after the port rewrite: what runs */
  text: string;
  given?: boolean;
}

interface Failure {
  where: string;
  command: string;
  why: string;
  output: string;
}

class Session {
  private readonly proc: ChildProcessWithoutNullStreams;
  private stdout = '';
  private waiters: (() => void)[] = [];
  private n = 0;
  private exited = false;

  constructor(
    readonly cwd: string,
    env: NodeJS.ProcessEnv,
  ) {
    this.proc = spawn('bash', ['--noprofile', '--norc'], { cwd, env, detached: true });
    this.proc.stdout.setEncoding('utf8');
    this.proc.stdout.on('data', (d: string) => {
      this.stdout += d;
      for (const w of this.waiters.splice(0)) w();
    });
    this.proc.stderr.on('data', () => {});
    this.proc.on('exit', () => {
      this.exited = true;
      for (const w of this.waiters.splice(0)) w();
    });
    // job control, as in a reader's terminal: each background job is a process group of its own,
    // so `kill %1` stops the whole job (npx AND the node it runs), not only its first process
    this.proc.stdin.write('set -m 2>/dev/null\n');
  }

  /** Runs `text` in the session; output (stdout+stderr) goes to a file read back afterwards. */
  async run(text: string, timeoutMs: number): Promise<{ rc: number | undefined; output: string; outFile: string }> {
    const i = ++this.n;
    const outFile = join(this.cwd, `.doc-cmd-${i}.out`);
    this.proc.stdin.write(`{\n${text}\n} >'${outFile}' 2>&1 </dev/null\necho "__DOC_DONE__ ${i} $?"\n`);
    const re = new RegExp(`__DOC_DONE__ ${i} (\\d+)`);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = re.exec(this.stdout);
      if (m) return { rc: Number(m[1]), output: readOut(outFile), outFile };
      if (this.exited || Date.now() > deadline) return { rc: undefined, output: readOut(outFile), outFile };
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 250);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /**
   * Stops the background jobs still running (each its own process group, led by the job's pid),
   * as a reader closes their terminal, then the shell (its own group).
   */
  async stop(): Promise<void> {
    const groups: number[] = [];
    if (!this.exited) {
      const { output } = await this.run('jobs -p', 10_000);
      for (const l of output.split('\n')) if (/^\d+$/.test(l.trim())) groups.push(Number(l.trim()));
    }
    const signal = (sig: NodeJS.Signals) => {
      for (const g of [...groups, this.proc.pid!]) {
        try {
          process.kill(-g, sig);
        } catch {
          /* gone */
        }
      }
    };
    signal('SIGTERM');
    const alive = (g: number) => {
      try {
        process.kill(-g, 0);
        return true;
      } catch {
        return false;
      }
    };
    const deadline = Date.now() + 15_000;
    while ((!this.exited || groups.some(alive)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    signal('SIGKILL');
  }
}

function readOut(f: string): string {
  try {
    return readFileSync(f, 'utf8');
  } catch {
    return '';
  }
}

async function waitFor(cond: () => Promise<boolean> | boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

async function ready(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/readyz`);
    return res.status === 200;
  } catch {
    return false;
  }
}

function errorBody(output: string): string | undefined {
  const m = /"error"\s*:\s*\{\s*"code"\s*:\s*"([A-Z0-9_]+)"/.exec(output);
  return m?.[1];
}

/** The documented ports of a doc's steps, each mapped to a free port. */
async function portMap(steps: { written: string }[]): Promise<Map<string, number>> {
  const ports = new Set<string>(['7878']);
  for (const s of steps) {
    for (const m of s.written.matchAll(/(?:127\.0\.0\.1|localhost|node-[a-z]|--port)[: ]([0-9]{4,5})\b/g)) ports.add(m[1]!);
  }
  const map = new Map<string, number>();
  for (const p of ports) map.set(p, await freePort());
  return map;
}

function rewrite(text: string, map: Map<string, number>): string {
  let out = text;
  for (const [from, to] of map) out = out.replace(new RegExp(`(?<![0-9])${from}(?![0-9])`, 'g'), String(to));
  return out;
}

function serverPort(text: string, map: Map<string, number>): number {
  const m = /--port[ =]([0-9]+)/.exec(text);
  return m ? Number(m[1]) : map.get('7878')!;
}

async function runDoc(file: string, docBlocks: DocBlock[]): Promise<{ failures: Failure[]; ran: number; map: string }> {
  const steps: Step[] = [];
  for (const b of docBlocks) {
    if (b.notRun !== undefined) continue;
    for (const g of b.given) steps.push({ file, line: b.line, written: g, text: g, given: true });
    for (const c of b.commands) steps.push({ file, line: c.line, written: c.text, text: c.text });
  }
  const map = await portMap(steps);
  for (const s of steps) s.text = rewrite(s.written, map);

  const cwd = scratchCheckout();
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PROFILESYNC_') && !k.startsWith('VITEST') && k !== 'NODE_ENV') env[k] = v;
  Object.assign(env, { PROFILESYNC_PORT: String(map.get('7878')), NO_COLOR: '1', npm_config_update_notifier: 'false', npm_config_fund: 'false' });
  const sh = new Session(cwd, env);
  const failures: Failure[] = [];
  let ran = 0;
  try {
    for (const s of steps) {
      const where = `${s.file}:${s.line}${s.given ? ' (given)' : ''}`;
      const trimmed = s.text.replace(/\s+#[^'"]*$/, '').trimEnd();
      const isServer = SERVER.test(trimmed);
      const isStream = STREAM.test(trimmed);
      const background = trimmed.endsWith('&') && !trimmed.endsWith('&&');
      ran++;
      // the scratch checkout's node_modules and package.json are the repository's own (symlinks):
      // an install there would change the repository (pnpm even offers to purge node_modules)
      if (/\bpnpm(@[\d.]+)? (install|i|add)\b/.test(trimmed) || (/\bnpm (install|i|ci)\b/.test(trimmed) && !/\bcd /.test(trimmed))) {
        failures.push({ where, command: s.written, why: 'an install in the scratch checkout would change the repository: install in a folder of its own (cd DIR && npm install), or mark the block not run (test/fresh-clone.test.ts runs the quick start)', output: '' });
        break;
      }
      if (isServer) {
        const port = serverPort(s.text, map);
        const text = background ? s.text : `${trimmed} &`;
        const { rc, output, outFile } = await sh.run(text, 30_000);
        const up = rc === 0 && (await waitFor(() => ready(port), 240_000));
        if (!up) {
          failures.push({ where, command: s.written, why: `the node did not answer /readyz on port ${port}`, output: output + readOut(outFile) });
          break; // everything after it needs the node
        }
        continue;
      }
      if (isStream) {
        const { rc, outFile } = await sh.run(`${trimmed} &\n__doc_stream=$!`, 30_000);
        const got = rc === 0 && (await waitFor(() => /\n\n/.test(readOut(outFile)), 30_000));
        await sh.run('kill $__doc_stream; wait $__doc_stream 2>/dev/null; true', 30_000);
        const output = readOut(outFile);
        if (!got || errorBody(output)) failures.push({ where, command: s.written, why: 'the stream printed no complete event', output });
        continue;
      }
      // `kill %N`: a reader sees the job end (the node logs `closed`) before typing on
      const killed = /^\s*kill\s+%(\d+)/.exec(trimmed);
      const text = killed ? `__doc_pg=$(jobs -p %${killed[1]})\n${s.text}\n__doc_rc=$?\nwhile kill -0 -- -$__doc_pg 2>/dev/null; do sleep 0.1; done; wait %${killed[1]} 2>/dev/null; (exit $__doc_rc)` : s.text;
      const { rc, output } = await sh.run(text, 180_000);
      if (rc === undefined) failures.push({ where, command: s.written, why: 'did not finish within 180 s', output });
      else if (rc !== 0) failures.push({ where, command: s.written, why: `exit ${rc}`, output });
      else if (/\bcurl\b/.test(s.text) && errorBody(output)) failures.push({ where, command: s.written, why: `error answer ${errorBody(output)}`, output });
    }
  } finally {
    await sh.stop();
  }
  if (failures.length > 0) keptDirs.add(cwd);
  return { failures, ran, map: `\n(ports: ${[...map].map(([a, b]) => `${a} -> ${b}`).join(', ')}; scratch dir, kept: ${cwd})` };
}

function report(failures: Failure[], map: string): string {
  return failures
    .map((f) => `\n--- ${f.where}: ${f.why}\n$ ${f.command}\n${f.output.length > 3000 ? `${f.output.slice(0, 1500)}\n[...]\n${f.output.slice(-1500)}` : f.output}`)
    .join('\n') + map;
}

const byDoc = new Map<string, DocBlock[]>();
for (const b of blocks) byDoc.set(b.file, [...(byDoc.get(b.file) ?? []), b]);

describe('every command the docs show runs as written', () => {
  for (const [file, docBlocks] of byDoc) {
    if (!docBlocks.some((b) => b.notRun === undefined && b.commands.length > 0)) continue;
    it(file, { timeout: 900_000 }, async () => {
      const { failures, ran, map } = await runDoc(file, docBlocks);
      expect(ran).toBeGreaterThan(0);
      expect(failures.map((f) => `${f.where} ${f.why}`), report(failures, map)).toEqual([]);
    });
  }

  it('exceptions are few, visible in the doc and listed here', () => {
    // pinned without line numbers, so editing a doc above a block does not break this
    const notRun = blocks.filter((b) => b.notRun !== undefined).map((b) => `${b.file}: ${b.notRun}`);
    const given = blocks.flatMap((b) => b.given.map((g) => `${b.file}: ${g}`));
    console.log(`doc blocks not run here (${notRun.length}):\n${blocks.filter((b) => b.notRun !== undefined).map((b) => `  ${b.file}:${b.line} ${b.notRun}`).join('\n')}`);
    // a reason names why, and a block that is not run here names where it runs (if anywhere)
    for (const b of blocks.filter((x) => x.notRun !== undefined)) expect(b.notRun!.length, `${b.file}:${b.line}`).toBeGreaterThan(10);
    expect(notRun).toEqual(EXPECTED_NOT_RUN);
    expect(given).toEqual(EXPECTED_GIVEN);
    expect(notRun.length).toBeLessThanOrEqual(12);
    // the whole count of commands, so a doc whose blocks lost their language tag shows up here
    expect(blocks.reduce((n, b) => n + b.commands.length, 0)).toBeGreaterThan(40);
  });
});

// Pinned: adding an exception means adding it here too (and saying why in the doc).
const EXPECTED_NOT_RUN: string[] = [
  'README.md: test/fresh-clone.test.ts runs line 1 on a fresh clone; line 2 is the whole suite, which CI runs (.ci/run)',
  "apps/web/README.md: Vite's dev server is for a person with a browser (hot reload), the build empties apps/web/dist that other tests' nodes serve meanwhile, and the last line is the whole web project (real Chromium), which the suite runs",
  'docs/api.md: needs an open conflict, i.e. a second node that edited apart; operations.md (Peers) makes one and resolves it with the CLI, apps/server tests resolve over HTTP',
  'docs/benchmarks.md: every benchmark takes many minutes of a quiet machine; test/bench is not part of the test suite',
  'docs/configuration.md: needs the example file above, a second node and /var/lib/profilesync',
  'docs/operations.md: installs globally and writes /var/lib/profilesync, on a server; apps/cli/test/pack.test.ts installs the tarball with npm install -g --prefix into a temp dir and runs init, serve, backup and restore from there',
  "docs/operations.md: 1000 trials are ten times the suite's own run of test/fault-injection.test.ts (100 trials), minutes of both cores",
  'docs/operations.md: needs a Redis and the three files above; test/fleet.test.ts runs such a fleet (real redis-server, real nodes)',
  "docs/profile-model.md: 3000 runs are 15 times the suite's own run of the same file (200 runs), minutes of both cores",
  'docs/sdk.md: calls OpenAI with your key; packages/client/test/example.test.ts runs app.mjs as written against a real node and a stub chat endpoint',
  "docs/web.md: Vite's dev server is for a person with a browser (hot reload); apps/web/README.md shows the same two commands",
];
const EXPECTED_GIVEN: string[] = [
  'README.md: npm start',
  'docs/api.md: npm start',
  'docs/sdk.md: npm start',
  'docs/sdk.md: TOKEN=$(cat ../data/admin.token)',
];


/** The commands `profilesync [GROUP] --help` lists (the built binary), as `GROUP NAME`. */
function cliCommands(group?: string): string[] {
  const r = spawnSync(process.execPath, [join(repoRoot, 'apps/cli/dist/main.js'), ...(group ? [group] : []), '--help'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', COLUMNS: '200' } });
  const section = r.stdout.split(/\nCommands:\n/)[1] ?? '';
  return section
    .split('\n')
    .map((l) => /^ {2}([a-z][a-z-]*)\b/.exec(l)?.[1])
    .filter((c): c is string => c !== undefined && c !== 'help')
    .map((c) => (group ? `${group} ${c}` : c));
}

describe('apps/cli/README.md', () => {
  it("its command table lists every command of the CLI (each group's subcommands too)", () => {
    const top = cliCommands();
    expect(top.length).toBeGreaterThan(15);
    const all = top.flatMap((c) => {
      const sub = cliCommands(c);
      return sub.length > 0 ? sub : [c];
    });
    const readme = readFileSync(join(repoRoot, 'apps/cli/README.md'), 'utf8');
    const rows = readme.split('\n').filter((l) => l.startsWith('| `'));
    const listed = (cmd: string) => rows.some((r) => new RegExp(`\`${cmd}( [^\`]*)?\``).test(r.split(/(?<!\\)\|/)[1]!));
    expect(all.filter((c) => !listed(c))).toEqual([]);
  });
});
