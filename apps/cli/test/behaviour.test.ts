/**
 * The CLI never surprises (issue 16.1), through the real binary: no subcommand option is
 * shadowed by a global one, closed pipes end the output quietly, every documented exit code
 * is triggered, every coded error prints a hint and no validator jargon, control characters
 * are escaped on a terminal (a real pty via `script`), and a running node is found from
 * `--data` alone through its server.json.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT, exitCodeFor } from '../src/exit-codes.js';
import { hintFor } from '../src/hints.js';
import { VERSION } from '../src/program.js';
import { assertBuilt, BIN, cleanEnv, cli, ROOT, serve, type Served } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'ps-cli-behaviour-'));
const data = join(dir, 'node');
let served: Served | undefined;
let junk: ChildProcess | undefined;
let junkUrl = '';

beforeAll(async () => {
  assertBuilt();
  served = await serve(['--data', data]);
  // something on HTTP that is not a profilesync node (its own process: cli() blocks this one)
  junk = spawn(process.execPath, ['-e', "require('node:http').createServer((q, r) => { r.writeHead(500, { 'content-type': 'text/plain' }); r.end('oops'); }).listen(0, '127.0.0.1', function () { console.log(this.address().port); })"], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve) => junk!.stdout!.once('data', (c) => resolve(String(c).trim())));
  junkUrl = `http://127.0.0.1:${port}`;
});
afterAll(async () => {
  await served?.stop('SIGKILL');
  junk?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** Only --data: the CLI finds the node (its URL and admin token) in the data dir. */
const local = (...args: string[]) => cli([...args, '--data', data]);

/** Runs a shell pipeline; returns the CLI's own exit status (PIPESTATUS[0]) and stderr. */
function pipeline(cmd: string, env: Record<string, string> = {}): { status: number; stdout: string; stderr: string } {
  const r = spawnSync('bash', ['-c', `${cmd}; echo "cli-status=\${PIPESTATUS[0]}" >&2`], { cwd: ROOT, env: cleanEnv(env), encoding: 'utf8', timeout: 60_000 });
  const m = /cli-status=(\d+)/.exec(r.stderr);
  return { status: Number(m?.[1] ?? -1), stdout: r.stdout, stderr: r.stderr.replace(/cli-status=\d+\n?/, '') };
}

describe('server.json: a running node is found from --data', () => {
  it('serve writes its URL and pid into the data dir; --data alone reaches it on its random port', () => {
    const info = JSON.parse(readFileSync(join(data, 'server.json'), 'utf8'));
    expect(info).toMatchObject({ format: 'profilesync-server/v1', url: served!.info.url, pid: served!.info.pid });
    const created = local('profile', 'create', '--id', 'chat', '--model', 'gpt-4o', '--name', 'Chat', '--json');
    expect(created.code).toBe(0);
    expect(local('profile', 'list', '--json').json.profiles.map((p: { id: string }) => p.id)).toEqual(['chat']);
  });

  it('an offline command on the served dir names the URL it runs at', () => {
    const r = local('verify');
    expect(r.code).toBe(7);
    expect(r.stderr).toContain(`at ${served!.info.url}`);
    // verify takes no --url: what works while the node runs, at its URL
    expect(r.stderr).toContain(`${served!.info.url}/api/damage`);
    expect(r.stderr).not.toContain('--url');
  });

  it('a server.json left by a dead process is ignored', () => {
    const stale = join(dir, 'stale');
    expect(cli(['init', '--data', stale, '--json']).code).toBe(0);
    const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    const pid = Number(dead.stdout.trim());
    writeFileSync(join(stale, 'server.json'), JSON.stringify({ format: 'profilesync-server/v1', url: served!.info.url, host: '127.0.0.1', port: Number(new URL(served!.info.url).port), pid, startedAt: new Date().toISOString() }));
    // not "remote": export works offline on the stopped dir instead of going to the other node
    const r = cli(['export', '--data', stale, '--json']);
    expect(r.code).toBe(0);
    expect(r.json.profiles).toEqual([]);
  });
});

describe('no option is shadowed by a global one', () => {
  it('`profile get ID --version @1` is the first version, not the CLI version', () => {
    expect(local('profile', 'set', 'chat', 'name=Chat two').code).toBe(0);
    const past = local('profile', 'get', 'chat', '--version', '@1', '--json');
    expect(past.code).toBe(0);
    expect(past.json).toMatchObject({ id: 'chat', name: 'Chat' });
    const human = local('profile', 'get', 'chat', '--version', '@1');
    expect(human.code).toBe(0);
    expect(human.stdout).not.toContain(VERSION);
    expect(human.stdout).toMatch(/^id\s+chat$/m);
    expect(local('profile', 'get', 'chat', '--json').json.name).toBe('Chat two');
  });

  it('`profile get` shows the messages (role, id, content) in order, between the system message and the templates', () => {
    const file = join(dir, 'with-messages.json');
    writeFileSync(file, JSON.stringify({ id: 'msgs', modelId: 'gpt-4o', name: 'Msgs', systemMessage: 'Be brief.', templates: { t: 'T {{x}}' }, messages: [{ role: 'user', content: 'Hi {{name}}' }, { role: 'assistant', content: 'Hello!' }] }));
    expect(local('profile', 'create', '--file', file).code).toBe(0);
    const view = local('profile', 'get', 'msgs', '--json').json;
    const human = local('profile', 'get', 'msgs');
    expect(human.code).toBe(0);
    const [u, a] = view.messages;
    expect(human.stdout).toContain(`\nsystemMessage\nBe brief.\n\nmessage user (${u.id})\nHi {{name}}\n\nmessage assistant (${a.id})\nHello!\n\ntemplate t\nT {{x}}\n`);
    expect(human.stdout).not.toMatch(/^conflicts/m);
  });

  it('the CLI version is a program option only: before any command', () => {
    for (const flag of ['--version', '-V']) {
      const r = cli([flag]);
      expect([r.code, r.stdout]).toEqual([0, `${VERSION}\n`]);
    }
    const misplaced = cli(['profile', '--version']);
    expect(misplaced.code).toBe(2);
    expect(misplaced.stderr).toContain("unknown option '--version'");
  });

  it('a bad flag, a missing argument or an unknown command is USAGE like every other error: one JSON document with --json', () => {
    const cases: [string[], string, string][] = [
      [['profile', 'get', 'chat', '--bogus'], "unknown option '--bogus'", 'profilesync profile get --help'],
      [['restore'], "missing required argument 'file'", 'profilesync restore --help'],
      [['profle'], "unknown command 'profle' (Did you mean profile?)", 'profilesync --help'],
    ];
    for (const [args, message, help] of cases) {
      const json = cli([...args, '--json']);
      expect(json.code).toBe(2);
      expect(JSON.parse(json.stderr)).toEqual({ error: { code: 'USAGE', message, hint: `see \`${help}\` for the arguments it takes` } });
      const human = cli(args);
      expect(human.code).toBe(2);
      expect(human.stderr).toBe(`error USAGE: ${message}\n  see \`${help}\` for the arguments it takes\n`);
    }
  });
});

describe('a data dir of another user', () => {
  it('is DATA_DIR_ACCESS_DENIED (exit 5) for every command that opens it, never "no node here" and never an init over it', () => {
    const owned = join(dir, 'owned');
    expect(cli(['init', '--data', owned, '--json']).code).toBe(0);
    const before = readdirSync(owned).sort();
    // root runs the CLI as nobody (root itself passes every permission check); anyone else takes
    // their own permissions away from the dir
    const root = process.getuid?.() === 0;
    if (!root) chmodSync(owned, 0o000);
    try {
      for (const args of [['verify'], ['serve', '--port', '0'], ['init'], ['keys', 'show'], ['export'], ['backup', join(tmpdir(), 'never-written.bak')]]) {
        const r = spawnSync(process.execPath, [BIN, ...args, '--data', owned, '--json'], { cwd: ROOT, env: cleanEnv(), encoding: 'utf8', timeout: 60_000, ...(root ? { uid: 65534, gid: 65534 } : {}) });
        expect([args[0], r.status]).toEqual([args[0], EXIT.AUTH]);
        const { error } = JSON.parse(r.stderr.trim().split('\n').pop()!);
        expect(error).toMatchObject({ code: 'DATA_DIR_ACCESS_DENIED', hint: hintFor('DATA_DIR_ACCESS_DENIED') });
        expect(error.message).toContain(`the data dir ${owned} cannot be read by this user`);
      }
    } finally {
      if (!root) chmodSync(owned, 0o700);
    }
    expect(readdirSync(owned).sort()).toEqual(before);
    expect(existsSync(join(tmpdir(), 'never-written.bak'))).toBe(false);
  });
});

describe('a running node of another user', () => {
  it('remote commands on its dir are DATA_DIR_ACCESS_DENIED (exit 5), not NODE_NOT_RUNNING: server.json cannot be read', () => {
    const root = process.getuid?.() === 0;
    if (!root) chmodSync(data, 0o000);
    try {
      for (const args of [['profile', 'list'], ['peer', 'list'], ['sync'], ['backup', join(tmpdir(), 'never-written-online.bak')]]) {
        const r = spawnSync(process.execPath, [BIN, ...args, '--data', data, '--json'], { cwd: ROOT, env: cleanEnv(), encoding: 'utf8', timeout: 60_000, ...(root ? { uid: 65534, gid: 65534 } : {}) });
        const { error } = JSON.parse(r.stderr.trim().split('\n').pop()!);
        expect([args.join(' '), r.status, error.code]).toEqual([args.join(' '), EXIT.AUTH, 'DATA_DIR_ACCESS_DENIED']);
        expect(error.hint).toBe(hintFor('DATA_DIR_ACCESS_DENIED'));
        expect(error.message).toContain(`the data dir ${data} cannot be read by this user`);
      }
    } finally {
      if (!root) chmodSync(data, 0o700);
    }
    // the owner still reaches it
    expect(local('profile', 'list', '--json').code).toBe(0);
    expect(existsSync(join(tmpdir(), 'never-written-online.bak'))).toBe(false);
  });
});

describe('closed pipes', () => {
  it('`| head -1` ends the output quietly, whatever the size of what was left unread', () => {
    // 256 KiB in one field: far more than a pipe buffer, so the writer always meets the closed pipe
    writeFileSync(join(dir, 'big.json'), JSON.stringify({ templates: { big: 'x'.repeat(256 * 1024) } }));
    expect(local('profile', 'set', 'chat', '--file', join(dir, 'big.json')).code).toBe(0);
    for (let i = 0; i < 3; i++) {
      for (const cmd of [`node ${BIN} profile get chat --data ${data} | head -1`, `node ${BIN} export --data ${data} | head -1`, `node ${BIN} profile get chat --data ${data} --json | head -c 1`]) {
        const r = pipeline(cmd);
        expect(r.stderr).toBe('');
        expect(r.status).toBe(0);
        expect(r.stdout.length).toBeGreaterThan(0);
      }
    }
    const keys = pipeline(`node ${BIN} keys show --data ${data} | head -1`);
    expect([keys.status, keys.stderr, keys.stdout.trim()]).toEqual([0, '', served!.info.publicKey]);
  });
});

/** Exit code rows of a markdown table whose first column is the exit code: exit -> codes named in the row. */
function exitTable(file: string, heading: RegExp): Map<number, string[]> {
  const lines = readFileSync(join(ROOT, file), 'utf8').split('\n');
  const start = lines.findIndex((l) => heading.test(l));
  expect(start).toBeGreaterThanOrEqual(0);
  const rows = new Map<number, string[]>();
  for (const l of lines.slice(start + 1)) {
    if (/^#/.test(l)) break;
    const m = /^\|\s*(\d)\s*\|(.*)$/.exec(l);
    if (!m) continue;
    rows.set(Number(m[1]), [...m[2]!.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((x) => x[1]!));
  }
  return rows;
}

describe('exit codes', () => {
  const tables = [exitTable('apps/cli/README.md', /^## Exit codes and errors/), exitTable('docs/operations.md', /^## Exit codes of `profilesync`/)];

  it('the documented tables list exit codes 0..8, and each code named there maps to its row', () => {
    for (const t of tables) {
      expect([...t.keys()].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
      for (const [exit, codes] of t) for (const code of codes) expect([code, exitCodeFor(code)]).toEqual([code, exit]);
    }
  });

  it('every documented exit code is triggered by a real command', () => {
    const stale = join(dir, 'for-damage');
    const trigger: [number, string | undefined, () => ReturnType<typeof cli>][] = [
      [EXIT.OK, undefined, () => local('profile', 'get', 'chat', '--json')],
      [EXIT.ERROR, 'HTTP_500', () => cli(['profile', 'list', '--json', '--url', junkUrl, '--token', 'x'])],
      [EXIT.USAGE, 'USAGE', () => local('audit', '--since', 'yesterday', '--json')],
      [EXIT.USAGE, 'CONFIG_INVALID', () => cli(['profile', 'list', '--json', '--data', data, '--config', join(dir, 'bad.toml')])],
      [
        EXIT.DAMAGE,
        'LOG_BACKUP_CORRUPT',
        () => {
          writeFileSync(join(dir, 'garbage.bak'), 'not a backup at all');
          return cli(['restore', join(dir, 'garbage.bak'), '--data', stale, '--json']);
        },
      ],
      [EXIT.NOT_FOUND, 'NODE_NOT_INITIALIZED', () => cli(['keys', 'show', '--data', join(dir, 'no-node-here'), '--json'])],
      [EXIT.NOT_FOUND, 'TOKEN_NOT_FOUND', () => local('token', 'revoke', '1234', '--json')],
      [EXIT.NOT_FOUND, 'PROFILE_NOT_FOUND', () => local('profile', 'get', 'nope', '--json')],
      [EXIT.NOT_FOUND, 'PEER_NOT_FOUND', () => local('peer', 'remove', 'abc', '--json')],
      [EXIT.AUTH, 'AUTH_UNAUTHORIZED', () => local('profile', 'list', '--json', '--token', 'ps_0000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')],
      [EXIT.CONFLICT, 'PROFILE_EXISTS', () => local('profile', 'create', '--id', 'chat', '--model', 'm', '--name', 'n', '--json')],
      [EXIT.CONFLICT, 'NODE_EXISTS', () => cli(['init', '--data', data, '--json'])],
      [EXIT.UNAVAILABLE, 'LOG_LOCKED', () => local('verify', '--json')],
      [EXIT.UNAVAILABLE, 'SERVER_UNREACHABLE', () => cli(['profile', 'list', '--json', '--url', 'http://127.0.0.1:1', '--token', 'x'])],
      [EXIT.INVALID, 'PROFILE_INVALID', () => local('profile', 'set', 'chat', 'parameters.temperature=7', '--json')],
      [EXIT.INVALID, 'REQUEST_INVALID', () => local('profile', 'create', '--id', 'x2', '--json')],
    ];
    writeFileSync(join(dir, 'bad.toml'), 'port = "not a number"\n');
    const seen = new Set<number>();
    for (const [exit, code, run] of trigger) {
      const r = run();
      expect({ code, exit: r.code, got: r.error?.code }).toEqual({ code, exit, got: code });
      if (code !== undefined) expect(r.error?.hint, code).toBeTruthy();
      seen.add(exit);
    }
    expect([...seen].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(existsSync(join(stale, 'log'))).toBe(false);
  });
});

describe('parent commands without a subcommand', () => {
  it('are USAGE (exit 2) with their help on stderr, like any missing argument; `--help` is exit 0', () => {
    for (const group of ['keys', 'profile', 'peer', 'cache', 'token', 'webhook']) {
      const r = cli([group]);
      expect([group, r.code, r.stdout]).toEqual([group, EXIT.USAGE, '']);
      expect(r.stderr).toContain(`Usage: profilesync ${group} [options] [command]`);
      expect(r.stderr).toMatch(new RegExp(`error USAGE: profilesync ${group} needs a subcommand: \\w`));
      expect(r.stderr).toContain(`see \`profilesync ${group} --help\``);
      expect(cli([group, '--help']).code).toBe(EXIT.OK);
    }
    const bare = cli([]);
    expect([bare.code, bare.stderr]).toEqual([EXIT.USAGE, expect.stringContaining('error USAGE: profilesync needs a command: serve, init, keys')]);
    expect(cli(['--help']).code).toBe(EXIT.OK);
    expect(cli(['help', 'keys']).code).toBe(EXIT.OK);
  });
});

describe('a stop without a terminal', () => {
  it('logs `stopping` with the signal when it arrives, then `closed`', async () => {
    const node = await serve(['--data', join(dir, 'stop-node'), '--log-level', 'info']);
    expect(await node.stop('SIGTERM')).toBe(0);
    const lines = node
      .stderr()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg: string; signal?: string; level: number });
    const stopping = lines.findIndex((l) => l.msg === 'stopping');
    expect(lines[stopping]).toMatchObject({ signal: 'SIGTERM', level: 30 });
    expect(lines.findIndex((l) => l.msg === 'closed')).toBeGreaterThan(stopping);
  });
});

describe('messages', () => {
  it('every code in docs/errors.md (and the CLI-only ones) has a hint', () => {
    const doc = readFileSync(join(ROOT, 'docs/errors.md'), 'utf8');
    // the codes of the tables' first column
    const codes = new Set(doc.split('\n').filter((l) => l.startsWith('| `')).flatMap((l) => [...l.split('|')[1]!.matchAll(/`([A-Z][A-Z0-9]+_[A-Z0-9_]+)`/g)].map((m) => m[1]!)));
    codes.add('USAGE');
    codes.add('INTERNAL');
    expect(codes.size).toBeGreaterThan(100);
    const missing = [...codes].filter((c) => !hintFor(c));
    expect(missing).toEqual([]);
    expect(hintFor('HTTP_502')).toContain('--url');
  });

  it('a request the node refuses is explained in words, with a hint, never in validator jargon', () => {
    const r = local('profile', 'create', '--id', 'x3');
    expect(r.code).toBe(8);
    expect(r.stderr).toContain('error REQUEST_INVALID: body field "modelId" is required (a string)');
    expect(r.stderr).not.toMatch(/Invalid input|expected string, received/);
    expect(r.stderr.split('\n')[1]).toMatch(/^ {2}\S/);
    const token = local('token', 'create', 'x', '--role', 'wizard');
    expect(token.stderr).toContain('body field "role" must be one of "admin", "editor", "viewer"');
    const version = local('profile', 'get', 'chat', '--version', 'v9.nonsense'); // a plain word is a label name now (LABEL_NOT_FOUND)
    expect(version.code).toBe(8);
    expect(version.stderr).toContain('@N');
  });
});

describe('control characters on a terminal', () => {
  const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;

  it('are escaped on a tty (a real pty), passed as they are to a pipe', () => {
    expect(hasScript).toBe(true);
    const evil = 'evil \u001b[2J\u001b]0;pwned\u0007 \u202e end';
    expect(local('profile', 'set', 'chat', `systemMessage=${evil}`, 'description=short').code).toBe(0);
    const tty = spawnSync('script', ['-qec', `exec node ${BIN} profile get chat --data ${data}`, '/dev/null'], { cwd: ROOT, env: cleanEnv({ SHELL: '/bin/sh' }), encoding: 'utf8', timeout: 60_000 });
    expect(tty.status).toBe(0);
    expect(tty.stdout).toContain('evil \\x1b[2J\\x1b]0;pwned\\x07 \\u202e end');
    expect(tty.stdout).not.toContain('\u001b[2J');
    expect(tty.stdout).not.toContain('\u202e');
    const piped = local('profile', 'get', 'chat');
    expect(piped.stdout).toContain(evil);
  });
});

describe('online backup', () => {
  it('a directory in the way of FILE.partial is LOG_BACKUP_WRITE_FAILED (exit 7) naming it, not the cleanup\'s EISDIR; it is left alone', () => {
    const file = join(dir, 'blocked-online.bak');
    mkdirSync(`${file}.partial`);
    writeFileSync(join(`${file}.partial`, 'mine.txt'), 'not the backup\'s');
    const r = local('backup', file, '--json');
    expect([r.code, r.error?.code]).toEqual([EXIT.UNAVAILABLE, 'LOG_BACKUP_WRITE_FAILED']);
    expect(r.error?.message).toContain(`${file}.partial`);
    expect(r.error?.message).toMatch(/EISDIR/);
    expect(r.stderr).not.toMatch(/ERR_FS_EISDIR|rm returned/);
    expect(existsSync(file)).toBe(false);
    expect(readdirSync(`${file}.partial`)).toEqual(['mine.txt']);
  });

  it('`backup FILE --url URL` streams a checked backup from the running node; it restores to the same profiles', () => {
    const file = join(dir, 'online.bak');
    const token = readFileSync(join(data, 'admin.token'), 'utf8').trim();
    const r = cli(['backup', file, '--url', served!.info.url, '--token', token, '--json']);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ file, online: true, url: served!.info.url, encrypted: false, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(r.json.entries).toBeGreaterThan(0);
    expect(existsSync(`${file}.partial`)).toBe(false);
    const restored = join(dir, 'restored-online');
    expect(cli(['restore', file, '--data', restored, '--json']).code).toBe(0);
    // the running node may close a run into a version between the backup and this export (its idle
    // gap): that appends a version record, which moves updatedAt but not the content or its version
    const stable = (ps: { updatedAt?: string }[]) => ps.map(({ updatedAt: _t, ...rest }) => rest);
    const live = local('export', '--json').json.profiles;
    expect(stable(cli(['export', '--data', restored, '--json']).json.profiles)).toEqual(stable(live));
  });

  it('a stream cut short is BACKUP_INCOMPLETE (exit 7) and leaves no file', async () => {
    const good = readFileSync(join(dir, 'online.bak'));
    writeFileSync(join(dir, 'cut.bin'), good.subarray(0, Math.floor(good.length / 2)));
    // a "node" that answers with half a backup and closes
    const fake = spawn(process.execPath, ['-e', `const b = require('node:fs').readFileSync(${JSON.stringify(join(dir, 'cut.bin'))}); require('node:http').createServer((q, r) => { r.writeHead(200, { 'content-type': 'application/octet-stream' }); r.end(b); }).listen(0, '127.0.0.1', function () { console.log(this.address().port); })`], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const port = await new Promise<string>((resolve) => fake.stdout!.once('data', (c) => resolve(String(c).trim())));
      const file = join(dir, 'cut.bak');
      const r = cli(['backup', file, '--url', `http://127.0.0.1:${port}`, '--token', 'x', '--json']);
      expect(r.code).toBe(7);
      expect(r.error?.code).toBe('BACKUP_INCOMPLETE');
      expect(r.error?.hint).toBeTruthy();
      expect(existsSync(file)).toBe(false);
      expect(existsSync(`${file}.partial`)).toBe(false);
    } finally {
      fake.kill('SIGKILL');
    }
  });
});

/** Runs `cmd` on a real terminal (a pty through `script`), types Ctrl-C as soon as `ready` shows (a condition, never a fixed sleep); resolves with the screen and the exit code. */
function onTerminal(cmd: string, ready: string): Promise<{ screen: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    // `script` runs `$SHELL -c cmd`; dash (Debian's /bin/sh, and what runs when SHELL is unset) does
    // not exec a lone command, and a non-interactive dash dies of the Ctrl-C itself (exit 130) while
    // the node stops cleanly: `exec` makes the node the terminal's process under any shell, and
    // SHELL is pinned to /bin/sh so this machine's login shell cannot hide the difference
    const child = spawn('script', ['-qec', `exec ${cmd}`, '/dev/null'], { cwd: ROOT, env: cleanEnv({ TERM: 'xterm', SHELL: '/bin/sh' }), stdio: ['pipe', 'pipe', 'pipe'] });
    let screen = '';
    let sent = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no "${ready}" on the terminal: ${screen}`));
    }, 240_000);
    child.stdout!.on('data', (c) => {
      screen += String(c);
      if (!sent && screen.includes(ready)) {
        sent = true;
        // the keystroke as a person types it, as soon as the banner's last line is on the screen:
        // the node installs its SIGINT handler in the same tick as it writes that line, so no wait
        child.stdin!.write('\u0003');
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ screen, code });
    });
  });
}

describe('serve on a terminal', () => {
  it('prints a human banner (where the admin token lives, every start), pretty logs, and stops on Ctrl-C with exit 0', async () => {
    const data2 = join(dir, 'tty-node');
    for (const start of [1, 2]) {
      const { screen, code } = await onTerminal(`node ${BIN} serve --port 0 --data ${data2}`, 'stop with Ctrl-C');
      expect(code).toBe(0);
      expect(screen).toMatch(/profilesync is ready.* at .*http:\/\/127\.0\.0\.1:\d+/);
      expect(screen).toContain(`admin token  ${join(data2, 'admin.token')}`);
      if (start === 1) expect(screen).toContain('created now, printed below once');
      else expect(screen).not.toMatch(/ps_[0-9a-f]{16}_/); // the secret only on the first start
      // pretty log lines, not JSON
      expect(screen).toMatch(/INFO.*listening/);
      expect(screen).not.toContain('{"level":');
      expect(screen).toContain('closed');
      expect(screen).not.toContain('ELIFECYCLE');
    }
    // not a terminal: JSON log lines on stderr (the test helper's serve), or forced with --log-format
    const forced = await onTerminal(`node ${BIN} serve --port 0 --data ${data2} --log-format json`, 'stop with Ctrl-C');
    expect(forced.code).toBe(0);
    expect(forced.screen).toContain('"msg":"listening"');
    const bad = cli(['serve', '--port', '0', '--data', data2, '--log-format', 'xml']);
    expect([bad.code, bad.error?.code ?? bad.stderr.includes('--log-format takes')]).toEqual([2, true]);
  }, 300_000);

  it('`npm start` builds, serves in the same process and stops on Ctrl-C without a package-manager error', async () => {
    const data3 = join(dir, 'npm-start');
    const { screen } = await onTerminal(`npm start -- --port 0 --data ${data3}`, 'stop with Ctrl-C');
    expect(screen).toMatch(/profilesync is ready/);
    expect(screen).toContain('closed');
    expect(screen).not.toMatch(/ELIFECYCLE|npm ERR|npm error/);
  }, 300_000);
});
