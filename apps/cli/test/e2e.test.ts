/**
 * End to end through the real binary: init, serve, create, set, edit, history, revert,
 * backup (refused while served, then after stop), restore into a fresh dir with --until,
 * verify, export/import, keys, peers, tokens, caches; --json outputs and exit codes.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hintFor } from '../src/hints.js';
import { assertBuilt, cli, serve, type Served } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'ps-cli-'));
const data = join(dir, 'node');
let served: Served | undefined;
let init: any;
let firstAt = '';

let freePort = 0;
beforeAll(async () => {
  assertBuilt();
  const { createServer } = await import('node:net');
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  freePort = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
});
afterAll(async () => {
  await served?.stop('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const remote = () => ({ PROFILESYNC_URL: served!.info.url, PROFILESYNC_DATA_DIR: data });

describe('profilesync (plaintext node)', () => {
  it('init creates the dir, prints identity and a first admin token', () => {
    const r = cli(['init', '--data', data, '--json']);
    expect(r.code).toBe(0);
    init = r.json;
    expect(init).toMatchObject({ dataDir: data, encrypted: false, publicKey: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), adminToken: expect.stringMatching(/^ps_/) });
    expect(readFileSync(join(data, 'admin.token'), 'utf8').trim()).toBe(init.adminToken);
    const again = cli(['init', '--data', data, '--json']);
    expect(again.code).toBe(6);
    expect(again.error?.code).toBe('NODE_EXISTS');
  });

  it('usage errors exit 2; --help exits 0 on every command', () => {
    expect(cli(['profile', 'get']).code).toBe(2);
    expect(cli(['--no-such-flag']).code).toBe(2);
    expect(cli(['frobnicate']).code).toBe(2);
    for (const args of [['--help'], ['profile', 'set', '--help'], ['restore', '--help'], ['keys', 'show', '--help']]) {
      const r = cli(args);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('Usage: profilesync');
    }
    expect(cli(['profile', 'history', '--help']).stdout).toContain('--json');
  });

  it('serve, then create / set / edit / history / revert through the running node', async () => {
    served = await serve(['--data', data]);
    expect(served.info.publicKey).toBe(init.publicKey);
    const env = remote();
    const created = cli(['profile', 'create', '--id', 'support', '--model', 'gpt-4o', '--name', 'Support bot', 'systemMessage=You are helpful.', 'parameters.temperature=0.5', '--json'], env);
    expect(created.code).toBe(0);
    expect(created.json).toMatchObject({ id: 'support', parameters: { temperature: 0.5 }, systemMessage: 'You are helpful.' });
    const set = cli(['profile', 'set', 'support', 'parameters.temperature=0.9', 'templates.greet=Hi {{name}}', 'meta.tags=["prod"]', '--json'], env);
    expect(set.code).toBe(0);
    expect(set.json).toMatchObject({ parameters: { temperature: 0.9 }, templates: { greet: 'Hi {{name}}' }, meta: { tags: ['prod'] } });
    const edited = cli(['profile', 'edit', 'support', '--json'], { ...env, EDITOR: 'sed -i s/Support\\ bot/Support\\ assistant/' });
    expect(edited.code).toBe(0);
    expect(edited.json).toMatchObject({ changed: true, patch: { name: 'Support assistant' } });
    const hist = cli(['profile', 'history', 'support', '--json'], env);
    expect(hist.code).toBe(0);
    // one actor's set + edit are one version (the open run) after the create
    expect(hist.json.versions.map((v: any) => [v.ref, v.open ?? false])).toEqual([
      ['@2', true],
      ['@1', false],
    ]);
    const raw = cli(['profile', 'history', 'support', '--raw', '--json'], env).json.entries;
    expect(raw.map((e: any) => e.seq)).toEqual([3, 2, 1]);
    firstAt = raw[2].at; // the create entry's time (restore --until works on log entries)
    const human = cli(['profile', 'history', 'support'], env);
    expect(human.stdout).toMatch(/SEQ\s+AT\s+ACTOR/);
    expect(human.stdout).not.toContain('\x1b[');
    // the open run says it is open, not why it will close
    expect(human.stdout.split('\n').find((l) => l.startsWith('@2 (open)'))).toContain('still open: not a version yet (a pause after edits here, a checkpoint or another editor closes it)');
    const reverted = cli(['profile', 'revert', 'support', '@1', '--json'], env);
    expect(reverted.code).toBe(0);
    expect(reverted.json).toMatchObject({ name: 'Support bot', parameters: { temperature: 0.5 }, templates: {} });
    // the revert closed the run (@2) and is @3 itself
    const diff = cli(['profile', 'diff', 'support', '@1', '@3', '--json'], env);
    expect(diff.json.changes).toEqual([]);
    const label = cli(['profile', 'label', 'support', 'production', '@2', '--json'], env);
    expect(label.code).toBe(0);
    expect(cli(['profile', 'get', 'support', '--label', 'production', '--json'], env).json.parameters.temperature).toBe(0.9);
    expect(cli(['profile', 'get', 'support', '--version=@2', '--json'], env).json.name).toBe('Support assistant');
    // render: variables as NAME=VALUE, a version and a named template
    const rendered = cli(['profile', 'render', 'support', 'name=Ada', '--version=@2', '--template', 'greet', '--json'], env);
    expect(rendered.code).toBe(0);
    expect(rendered.json.messages.at(-1)).toEqual({ role: 'user', content: 'Hi Ada' });
    expect(rendered.json.request).toMatchObject({ model: created.json.modelId, temperature: 0.9 });
    // the text output is the request body alone (pipe it to a model); warnings go to stderr
    const warned = cli(['profile', 'render', 'support', 'name=Ada', 'unused=1', '--version=@2', '--template', 'greet'], env);
    expect(warned.code).toBe(0);
    expect(JSON.parse(warned.stdout)).toEqual(rendered.json.request);
    expect(warned.stderr).toContain('warning: RENDER_UNUSED_VARIABLE unused');
    const missing = cli(['profile', 'render', 'support', '--version=@2', '--template', 'greet', '--json'], env);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr + missing.stdout).toContain('PROFILE_RENDER_MISSING_VARIABLES');
    // checkpoint: a named version of the changes since the last one
    expect(cli(['profile', 'set', 'support', 'description=checked', '--json'], env).code).toBe(0);
    const cp = cli(['profile', 'checkpoint', 'support', '-m', 'reviewed', '--json'], env);
    expect(cp.json).toMatchObject({ ref: '@4', reason: 'checkpoint', message: 'reviewed', created: true, fields: ['description'] });
    const list = cli(['profile', 'list', '--json'], env);
    expect(list.json.profiles.map((p: any) => p.id)).toEqual(['support']);
    const found = cli(['profile', 'list', '--search', 'SUPPORT bot', '--sort', 'updated', '--limit', '5', '--json'], env);
    expect(found.json).toMatchObject({ total: 1, nextCursor: null, profiles: [{ id: 'support', match: { field: 'name' } }] });
    expect(cli(['profile', 'list', '--search', 'no-such-words-anywhere', '--json'], env).json.total).toBe(0);
    const badCursor = cli(['profile', 'list', '--cursor', 'junk', '--json'], env);
    expect([badCursor.code, badCursor.error?.code]).toEqual([8, 'PROFILE_LIST_INVALID']);
  });

  it('errors map to exit codes with JSON on stderr', () => {
    const env = remote();
    const missing = cli(['profile', 'get', 'nope', '--json'], env);
    expect(missing.code).toBe(4);
    expect(missing.error?.code).toBe('PROFILE_NOT_FOUND');
    const invalid = cli(['profile', 'set', 'support', 'parameters.temperature=7', '--json'], env);
    expect(invalid.code).toBe(8);
    expect(invalid.error?.code).toBe('PROFILE_INVALID');
    // --json errors carry the node's details: which field broke which rule, which variables are missing
    expect(invalid.error?.details).toMatchObject({ path: 'parameters.temperature', rule: 'too_big' });
    // every problem of a refused write, in the text output too (not one per try)
    const several = cli(['profile', 'set', 'support', 'parameters.temperature=7', 'parameters.top_p=5'], env);
    expect(several.code).toBe(8);
    expect(several.stderr).toContain('parameters.temperature: must be <= 2');
    expect(several.stderr).toContain('parameters.top_p: must be <= 1');
    expect(cli(['profile', 'set', 'support', 'parameters.temperature=7', 'parameters.top_p=5', '--json'], env).error?.details?.issues).toHaveLength(2);
    const noVars = cli(['profile', 'render', 'support', '--version=@2', '--template', 'greet', '--json'], env);
    expect([noVars.code, noVars.error?.code, noVars.error?.details?.missing]).toEqual([8, 'PROFILE_RENDER_MISSING_VARIABLES', ['name']]);
    expect(noVars.error?.details).not.toHaveProperty('hint');
    const dup = cli(['profile', 'create', '--id', 'support', '--model', 'm', '--name', 'n', '--json'], env);
    expect(dup.code).toBe(6);
    const badToken = cli(['profile', 'list', '--json', '--token', 'ps_0000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'], env);
    expect(badToken.code).toBe(5);
    expect(badToken.error?.code).toBe('AUTH_UNAUTHORIZED');
    // the hint fits a token that was passed but is unknown or revoked, not only a missing one
    expect(badToken.error?.hint).toBe(hintFor('AUTH_UNAUTHORIZED'));
    expect(badToken.error?.hint).toMatch(/revoked.*new one.*admin\.token/);
    const viewer = cli(['token', 'create', 'reader', '--role', 'viewer', '--json'], env);
    expect(viewer.code).toBe(0);
    const denied = cli(['profile', 'set', 'support', 'name=x', '--json'], { ...env, PROFILESYNC_TOKEN: viewer.json.token });
    expect(denied.code).toBe(5);
    expect(denied.error?.code).toBe('AUTH_FORBIDDEN');
    const foreign = cli(['profile', 'list', '--json', '--url', 'http://profilesync.example.invalid:7878'], { PROFILESYNC_DATA_DIR: data });
    expect(foreign.code).toBe(5);
    expect(foreign.error?.message).toContain('only sent to a loopback address');
    // the data dir's admin token goes only to the node that serves the dir
    const elsewhere = cli(['profile', 'list', '--json', '--url', `http://127.0.0.1:${freePort}`], env);
    expect([elsewhere.code, elsewhere.error?.code]).toEqual([5, 'ADMIN_TOKEN_WRONG_NODE']);
    const down = cli(['profile', 'list', '--json', '--url', `http://127.0.0.1:${freePort}`, '--token', init.adminToken], env);
    expect(down.code).toBe(7);
    expect(down.error?.code).toBe('SERVER_UNREACHABLE');
    expect(down.error?.hint).toContain('profilesync serve');
  });

  it('history stays readable when a version changed many fields (the table names a few, --json all)', () => {
    const env = remote();
    const templates = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`step_${i}`, `Step ${i}: {{input}}`]));
    const file = join(dir, 'wide.json');
    writeFileSync(file, JSON.stringify({ id: 'wide', modelId: 'gpt-4o', name: 'Wide', systemMessage: 'You plan.', templates, parameters: { temperature: 0.2, top_p: 0.9, seed: 1 } }));
    expect(cli(['profile', 'create', '--file', file, '--json'], env).code).toBe(0);
    const json = cli(['profile', 'history', 'wide', '--json'], env).json.versions;
    expect(json[0].fields).toHaveLength(18);
    const human = cli(['profile', 'history', 'wide'], env).stdout.split('\n');
    const row = human.find((l) => l.startsWith('@1'))!;
    expect(row).toContain('modelId, name, parameters.seed, +15 more');
    expect(row).toContain(json[0].version);
    expect(Math.max(...human.map((l) => l.length))).toBeLessThan(200);
    expect(cli(['profile', 'delete', 'wide', '--json'], env).code).toBe(0); // the export test below counts live profiles
  });

  it('operator commands: cache, peers, tokens, audit, keys, sync', () => {
    const env = remote();
    const stats = cli(['cache', 'stats', '--json'], env);
    expect(stats.code).toBe(0);
    expect(stats.json.caches.map((c: any) => c.name)).toContain('http-views');
    expect(cli(['cache', 'clear', 'nope', '--json'], env).code).toBe(4);
    expect(cli(['cache', 'clear', '--json'], env).json.cleared.length).toBeGreaterThan(0);
    const key = Buffer.alloc(32, 5).toString('base64url');
    const added = cli(['peer', 'add', 'ws://127.0.0.1:1/sync', '--key', key, '--json'], env);
    expect(added.code).toBe(0);
    expect(cli(['peer', 'list', '--json'], env).json.peers.map((p: any) => p.id)).toEqual([added.json.id]);
    // nothing listens on port 1: the table says why it is not connected (the dial's socket error)
    let listed = '';
    for (let i = 0; i < 40 && !listed.includes('ECONNREFUSED'); i++) listed = cli(['peer', 'list'], env).stdout;
    expect(listed).toMatch(/CONNECTED[\s\S]*no \(SYNC_CONNECTION_LOST: ECONNREFUSED\)/);
    expect(cli(['peer', 'add', 'ws://x/sync', '--key', 'bad', '--json'], env).code).toBe(8);
    expect(cli(['peer', 'remove', added.json.id, '--json'], env).code).toBe(0);
    const tokens = cli(['token', 'list', '--json'], env);
    expect(tokens.json.tokens.map((t: any) => t.name)).toEqual(expect.arrayContaining(['admin', 'reader']));
    const audit = cli(['audit', '--action', 'auth.denied', '--json'], env);
    expect(audit.json.records.length).toBeGreaterThan(0);
    const keys = cli(['keys', 'show', '--data', data, '--json']);
    expect(keys.json).toEqual({ publicKey: init.publicKey, fingerprint: init.fingerprint });
    // a node dir without an identity file: reported, nothing created
    const bare = join(dir, 'bare');
    mkdirSync(join(bare, 'log'), { recursive: true });
    const none = cli(['keys', 'show', '--data', bare, '--json']);
    expect(none.code).toBe(4);
    expect(none.error?.code).toBe('NODE_IDENTITY_NOT_FOUND');
    expect(none.error?.hint).toContain('profilesync serve');
    expect(cli(['keys', 'show', '--data', join(dir, 'nothing'), '--json']).error?.code).toBe('NODE_NOT_INITIALIZED');
    // serve mounts peer sync: with no peers configured a one-shot sync converges at once
    const sync = cli(['sync', '--json'], env);
    expect(sync.code).toBe(0);
    expect(sync.json).toMatchObject({ converged: true, peers: [] });
  });

  it('delete commands (profile delete, token revoke, peer remove) print what they removed', () => {
    const env = remote();
    expect(cli(['profile', 'create', '--id', 'doomed', '--model', 'm', '--name', 'Doomed', '--json'], env).code).toBe(0);
    expect(cli(['profile', 'delete', 'doomed', '--json'], env).json).toEqual({ deleted: 'doomed' });
    expect(cli(['profile', 'get', 'doomed', '--json'], env).error?.code).toBe('PROFILE_DELETED');
    const gone = cli(['profile', 'delete', 'never-was'], env);
    expect(gone.code).toBe(4);
    expect(gone.stdout).toBe('');
    const t1 = cli(['token', 'create', 'temp-1', '--role', 'viewer', '--json'], env).json;
    const t2 = cli(['token', 'create', 'temp-2', '--role', 'viewer', '--json'], env).json;
    expect(cli(['token', 'set', t1.id, '--role', 'editor', '--profiles', 'a-*,b', '--json'], env).json).toMatchObject({ id: t1.id, role: 'editor', profiles: ['a-*', 'b'] });
    expect(cli(['token', 'set', t1.id, '--all-profiles'], env).stdout).toBe(`token ${t1.id}: editor, profiles *\n`);
    expect(cli(['token', 'set', t1.id], env).code).toBe(2);
    expect(cli(['token', 'revoke', t1.id, '--json'], env).json).toEqual({ revoked: t1.id });
    expect(cli(['token', 'revoke', t2.id], env).stdout).toBe(`revoked ${t2.id}\n`);
    expect(cli(['token', 'list', '--json'], env).json.tokens.map((t: any) => t.name)).not.toContain('temp-1');
    expect(cli(['token', 'revoke', t1.id, '--json'], env).error?.code).toBe('TOKEN_NOT_FOUND');
    const peer = cli(['peer', 'add', 'ws://127.0.0.1:2/sync', '--key', Buffer.alloc(32, 6).toString('base64url'), '--json'], env).json;
    expect(cli(['peer', 'remove', peer.id], env).stdout).toBe(`removed peer ${peer.id}\n`);
    expect(cli(['peer', 'list', '--json'], env).json.peers).toEqual([]);
  });

  it('offline commands refuse a served dir clearly (LOG_LOCKED, exit 7); backup goes online instead', () => {
    const online = cli(['backup', join(dir, 'online.bak'), '--data', data, '--json']);
    expect(online.code).toBe(0);
    expect(online.json).toMatchObject({ file: join(dir, 'online.bak'), online: true, url: served!.info.url, encrypted: false });
    const r = cli(['verify', '--data', data, '--json']);
    expect(r.code).toBe(7);
    expect(r.error?.code).toBe('LOG_LOCKED');
    expect(r.error?.message).toContain('a server is running');
    // verify takes no --url: the hint does not offer it
    expect(r.error?.hint).not.toContain('--url');
    const human = cli(['verify', '--data', data]);
    expect(human.code).toBe(7);
    expect(human.stderr).toContain('stop that server first');
  });

  it('SIGTERM stops the server gracefully (exit 0)', async () => {
    expect(await served!.stop('SIGTERM')).toBe(0);
    served = undefined;
  });

  it('backup, restore into a fresh dir --until the first version, verify', () => {
    const bak = join(dir, 'node.bak');
    const b = cli(['backup', bak, '--data', data, '--json']);
    expect(b.code).toBe(0);
    expect(b.json).toMatchObject({ file: bak, encrypted: false });
    expect(b.json.entries).toBeGreaterThanOrEqual(5);
    expect(b.stderr).toMatch(/backup: \d+\/\d+ \(100%\)/);
    const exported = cli(['export', '--data', data, '--json']);
    expect(exported.code).toBe(0);
    const full = join(dir, 'full');
    const rf = cli(['restore', bak, '--data', full, '--json']);
    expect(rf.code).toBe(0);
    expect(rf.json.skipped).toBe(0);
    expect(rf.stderr).toMatch(/restore: \d+\/\d+ \(100%\)/);
    expect(cli(['export', '--data', full, '--json']).json.profiles).toEqual(exported.json.profiles);
    // --until TIME: the first version only
    const atFirst = join(dir, 'at-first');
    const rt = cli(['restore', bak, '--data', atFirst, '--until', firstAt, '--json']);
    expect(rt.code).toBe(0);
    expect(rt.json.skipped).toBeGreaterThan(0);
    expect(rt.json.adminToken).toMatch(/^ps_/);
    const early = cli(['export', '--data', atFirst, '--json']).json.profiles;
    expect(early).toHaveLength(1);
    expect(early[0]).toMatchObject({ id: 'support', name: 'Support bot', parameters: { temperature: 0.5 }, templates: {} });
    const v = cli(['verify', '--data', atFirst, '--json']);
    expect(v.code).toBe(0);
    expect(v.json.ok).toBe(true);
    // --until SEQ (an lsn): lsn 1 is init's audit record, before any profile
    const atOne = join(dir, 'at-one');
    const r1 = cli(['restore', bak, '--data', atOne, '--until', '1', '--json']);
    expect(r1.code).toBe(0);
    expect(r1.json.lastLsn).toBe(1);
    expect(cli(['export', '--data', atOne, '--json']).json.profiles).toEqual([]);
    const notEmpty = cli(['restore', bak, '--data', full, '--json']);
    expect(notEmpty.code).toBe(6);
    const badUntil = cli(['restore', bak, '--data', join(dir, 'z'), '--until', 'yesterday', '--json']);
    expect(badUntil.code).toBe(2);
    writeFileSync(join(dir, 'broken.bak'), readFileSync(bak).subarray(0, 100));
    const corrupt = cli(['restore', join(dir, 'broken.bak'), '--data', join(dir, 'c'), '--json']);
    expect(corrupt.code).toBe(3);
    expect(corrupt.error?.code).toBe('LOG_BACKUP_CORRUPT');
  });

  it('verify says what opening the dir repaired (a missing CURRENT): a dir that was damaged never reads as plainly ok', () => {
    const copy = join(dir, 'no-current');
    const r = cli(['restore', join(dir, 'node.bak'), '--data', copy, '--json']);
    expect(r.code).toBe(0);
    expect(cli(['verify', '--data', copy, '--json']).json.repairedAtOpen).toEqual([]);
    rmSync(join(copy, 'log', 'CURRENT'));
    const v = cli(['verify', '--data', copy, '--json']);
    expect(v.code).toBe(0);
    expect(v.json).toMatchObject({ ok: true, broken: [], repairedAtOpen: [{ kind: 'manifest', message: expect.stringContaining('CURRENT is missing'), at: expect.any(String) }] });
    rmSync(join(copy, 'log', 'CURRENT'));
    const human = cli(['verify', '--data', copy]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^ok: .*\nrepaired when the data dir was opened \(1; originals of changed LevelDB files are in log\/lost\/\):\nKIND +MESSAGE\nmanifest +LevelDB's MANIFEST was rebuilt/);
  });

  it('verify the original dir; export/import round trip offline', () => {
    const v = cli(['verify', '--data', data, '--json']);
    expect(v.code).toBe(0);
    expect(v.json).toMatchObject({ ok: true, broken: [] });
    const file = join(dir, 'export.json');
    expect(cli(['export', '--data', data, '-o', file, '--json']).code).toBe(0);
    const fresh = join(dir, 'imported');
    expect(cli(['init', '--data', fresh, '--json']).code).toBe(0);
    const imp = cli(['import', file, '--data', fresh, '--json']);
    expect(imp.code).toBe(0);
    expect(imp.json).toMatchObject({ created: ['support'], rejected: [] });
    expect(imp.stderr).toMatch(/import: 1\/1/);
    const again = cli(['import', file, '--data', fresh, '--json']);
    expect(again.json).toMatchObject({ unchanged: ['support'] });
  });
});

describe('profilesync (encrypted node)', () => {
  const enc = join(dir, 'enc');
  const pass = { PROFILESYNC_PASSPHRASE: 'first passphrase 123', PROFILESYNC_SCRYPT_LOG_N: '10' };
  let phrase = '';

  it('init --encrypt prints a 24-word recovery phrase; the admin token is sealed', () => {
    const r = cli(['init', '--encrypt', '--data', enc, '--json'], pass);
    expect(r.code).toBe(0);
    phrase = r.json.recoveryPhrase;
    expect(phrase.split(' ')).toHaveLength(24);
    expect(r.json.adminTokenFile).toBe(join(enc, 'admin.token.sealed'));
    expect(readFileSync(r.json.adminTokenFile, 'utf8')).not.toContain(r.json.adminToken);
    // the public key needs no passphrase (none is set here, and stdin is not a terminal)
    const shown = cli(['keys', 'show', '--data', enc, '--json']);
    expect(shown.code).toBe(0);
    expect(shown.json).toEqual({ publicKey: r.json.publicKey, fingerprint: r.json.fingerprint });
    expect(cli(['init', '--encrypt', '--data', join(dir, 'enc2'), '--json']).error?.code).toBe('CRYPTO_PASSPHRASE_REQUIRED');
    // a 1-character (or too repetitive) passphrase is refused before anything is created (exit 5)
    for (const weak of ['x', 'abcabcabcabcabc']) {
      const w = cli(['init', '--encrypt', '--data', join(dir, 'enc-weak'), '--json'], { ...pass, PROFILESYNC_PASSPHRASE: weak });
      expect([weak, w.code, w.error?.code]).toEqual([weak, 5, 'CRYPTO_PASSPHRASE_WEAK']);
      expect(existsSync(join(dir, 'enc-weak'))).toBe(false);
    }
  });

  it('serve needs the passphrase; the CLI unseals the admin token with it', async () => {
    const wrong = cli(['verify', '--data', enc, '--json'], { PROFILESYNC_PASSPHRASE: 'nope' });
    expect(wrong.code).toBe(5);
    expect(wrong.error?.code).toBe('CRYPTO_BAD_PASSPHRASE');
    served = await serve(['--data', enc], pass);
    expect(served.info.encrypted).toBe(true);
    const env = { ...pass, PROFILESYNC_URL: served.info.url, PROFILESYNC_DATA_DIR: enc };
    expect(cli(['profile', 'create', '--id', 'secret', '--model', 'm', '--name', 'n', '--json'], env).code).toBe(0);
    // keys show while the server holds the dir, without the passphrase
    const shown = cli(['keys', 'show', '--data', enc]);
    expect(shown.code).toBe(0);
    expect(shown.stdout.split('\n')[0]).toBe(served.info.publicKey);
    expect(shown.stdout).toContain(`fingerprint ${served.info.fingerprint}`);
    expect(await served.stop()).toBe(0);
    served = undefined;
  });

  it('keys rotate, keys recover sets a new passphrase; backup/restore keeps the keyring', () => {
    const rot = cli(['keys', 'rotate', '--data', enc, '--json'], pass);
    expect(rot.code).toBe(0);
    expect(rot.json.keyId).toBe(2);
    const weak = cli(['keys', 'recover', '--data', enc, '--json'], { PROFILESYNC_RECOVERY_PHRASE: phrase, PROFILESYNC_NEW_PASSPHRASE: 'short' });
    expect([weak.code, weak.error?.code]).toEqual([5, 'CRYPTO_PASSPHRASE_WEAK']);
    expect(weak.error?.message).toContain('at least 12');
    expect(cli(['verify', '--data', enc, '--json'], pass).json.ok).toBe(true); // unchanged
    const rec = cli(['keys', 'recover', '--data', enc, '--json'], { PROFILESYNC_RECOVERY_PHRASE: phrase, PROFILESYNC_NEW_PASSPHRASE: 'second passphrase 456' });
    expect(rec.code).toBe(0);
    expect(cli(['verify', '--data', enc, '--json'], pass).code).toBe(5);
    const next = { PROFILESYNC_PASSPHRASE: 'second passphrase 456' };
    expect(cli(['verify', '--data', enc, '--json'], next).json.ok).toBe(true);
    const bak = join(dir, 'enc.bak');
    expect(cli(['backup', bak, '--data', enc, '--json'], next).code).toBe(0);
    const restored = join(dir, 'enc-restored');
    const r = cli(['restore', bak, '--data', restored, '--json'], next);
    expect(r.code).toBe(0);
    expect(cli(['export', '--data', restored, '--json'], next).json.profiles.map((p: any) => p.id)).toEqual(['secret']);
    expect(cli(['keys', 'show', '--data', restored, '--json']).json.publicKey).toBe(cli(['keys', 'show', '--data', enc, '--json']).json.publicKey);
  });
});
