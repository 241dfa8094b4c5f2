/**
 * Which node a command reaches, and what its errors offer, through the real binary against
 * real nodes: a data dir's admin token only ever goes to the node that serves that dir
 * (NODE_NOT_RUNNING / ADMIN_TOKEN_WRONG_NODE instead of a 401 from some other node), an error
 * answer names the URL that answered, LOG_LOCKED offers `--url` only to commands that take
 * it, and `restore --until` before every entry (LOG_RESTORE_NOTHING) or into a used dir
 * (LOG_RESTORE_NOT_EMPTY) changes nothing and says what would work.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cli, ROOT, serve, type Served } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'ps-cli-targets-'));
/** node A's dir: served for the whole file */
const a = join(dir, 'a');
/** a second node dir: not served, except in one test */
const other = join(dir, 'other');
let nodeA: Served | undefined;
let nodeB: Served | undefined;
let adminA = '';

beforeAll(async () => {
  assertBuilt();
  expect(cli(['init', '--data', a, '--json']).code).toBe(0);
  expect(cli(['init', '--data', other, '--json']).code).toBe(0);
  nodeA = await serve(['--data', a]);
  adminA = readFileSync(join(a, 'admin.token'), 'utf8').trim();
  expect(cli(['profile', 'create', '--id', 'triage', '--model', 'gpt-4o', '--name', 'Triage', '--data', a, '--json']).code).toBe(0);
  expect(cli(['profile', 'set', 'triage', 'description=first pass', '--data', a, '--json']).code).toBe(0);
});
afterAll(async () => {
  await nodeB?.stop('SIGKILL');
  await nodeA?.stop('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** The 401/403s node A has audited (every denial is an `auth.denied` record). */
async function deniedOnA(): Promise<number> {
  const res = await fetch(`${nodeA!.info.url}/api/audit?action=auth.denied`, { headers: { authorization: `Bearer ${adminA}` } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { records: unknown[] }).records.length;
}

describe('a data dir with no node running on it', () => {
  it('a remote command is NODE_NOT_RUNNING (exit 7) naming the dir and how to start it; nothing goes to the node on another dir', async () => {
    // the configured address is node A's (as for a newcomer's node on the default port)
    const atA = { PROFILESYNC_PORT: new URL(nodeA!.info.url).port };
    const r = cli(['profile', 'history', 'triage', '--data', other, '--json'], atA);
    expect([r.code, r.error?.code]).toEqual([7, 'NODE_NOT_RUNNING']);
    expect(r.error?.message).toContain(`no node is running on ${other}`);
    expect(r.error?.message).toContain(`nothing was sent to ${nodeA!.info.url}`);
    expect(r.error?.hint).toContain(`profilesync serve --data ${other}`);
    const human = cli(['profile', 'history', 'triage', '--data', other], atA);
    expect(human.code).toBe(7);
    expect(human.stderr).toContain('error NODE_NOT_RUNNING');
    expect(human.stdout).toBe('');
    // its admin token is not sent to an explicit --url either, unless that node serves the dir
    const toA = cli(['profile', 'list', '--data', other, '--url', nodeA!.info.url, '--json']);
    expect([toA.code, toA.error?.code]).toEqual([7, 'NODE_NOT_RUNNING']);
    expect(toA.error?.message).toContain(`not sent to ${nodeA!.info.url}`);
    // PROFILESYNC_DATA_DIR names a dir as --data does
    expect(cli(['profile', 'list', '--json'], { ...atA, PROFILESYNC_DATA_DIR: other }).error?.code).toBe('NODE_NOT_RUNNING');
    // node A never saw a token of the other dir
    expect(await deniedOnA()).toBe(0);
    // no dir named, a token given: the configured address is used as before (the cwd has no ./data)
    expect(existsSync(join(ROOT, 'data'))).toBe(false);
    const byToken = cli(['profile', 'list', '--token', adminA, '--json'], atA);
    expect(byToken.code).toBe(0);
    expect(byToken.json.profiles.map((p: { id: string }) => p.id)).toEqual(['triage']);
  });

  it('commands that also work offline do that on the dir', () => {
    const r = cli(['export', '--data', other, '--json']);
    expect(r.code).toBe(0);
    expect(r.json.profiles).toEqual([]);
  });

  it('a node running on the dir is reached from --data; an --url of another node does not get the dir\'s token (ADMIN_TOKEN_WRONG_NODE, exit 5)', async () => {
    nodeB = await serve(['--data', other]);
    try {
      const own = cli(['profile', 'list', '--data', other, '--json']);
      expect(own.code).toBe(0);
      expect(own.json.profiles).toEqual([]);
      const wrong = cli(['profile', 'list', '--data', other, '--url', nodeA!.info.url, '--json']);
      expect([wrong.code, wrong.error?.code]).toEqual([5, 'ADMIN_TOKEN_WRONG_NODE']);
      expect(wrong.error?.message).toContain(nodeB.info.url);
      expect(wrong.error?.hint).toContain('--token');
      // the dir's own node named by --url is fine
      expect(cli(['profile', 'list', '--data', other, '--url', `${nodeB.info.url}/`, '--json']).code).toBe(0);
      // an explicit token goes where --url says
      expect(cli(['profile', 'list', '--data', other, '--url', nodeA!.info.url, '--token', adminA, '--json']).json.profiles.map((p: { id: string }) => p.id)).toEqual(['triage']);
      expect(await deniedOnA()).toBe(0);
    } finally {
      await nodeB.stop('SIGTERM');
      nodeB = undefined;
    }
    // stopped: its server.json is gone, so the dir has no node again
    expect(existsSync(join(other, 'server.json'))).toBe(false);
    expect(cli(['profile', 'list', '--data', other, '--json']).error?.code).toBe('NODE_NOT_RUNNING');
  });

  it('an error answer names the URL that answered', async () => {
    const missing = cli(['profile', 'get', 'nope', '--data', a, '--json']);
    expect([missing.code, missing.error?.code]).toEqual([4, 'PROFILE_NOT_FOUND']);
    expect(missing.error?.message).toContain(`answered by ${nodeA!.info.url}`);
    const bad = cli(['profile', 'list', '--data', a, '--token', 'ps_0000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', '--json']);
    expect([bad.code, bad.error?.code]).toEqual([5, 'AUTH_UNAUTHORIZED']);
    expect(bad.error?.message).toContain(`answered by ${nodeA!.info.url}`);
    // the control: a token node A does not know is audited there (so the zero counts above mean something)
    expect(await deniedOnA()).toBeGreaterThan(0);
  });
});

describe('LOG_LOCKED offers --url only to commands that take it', () => {
  it('verify: stop the node first, or read /api/damage of the running node; never --url', async () => {
    const r = cli(['verify', '--data', a, '--json']);
    expect([r.code, r.error?.code]).toEqual([7, 'LOG_LOCKED']);
    expect(r.error?.message).toContain(`at ${nodeA!.info.url} (pid ${nodeA!.info.pid})`);
    expect(r.error?.hint).toContain('stop that server first');
    expect(r.error?.hint).toContain(`kill -TERM ${nodeA!.info.pid}`);
    expect(r.error?.hint).not.toContain('--url');
    expect(r.error?.hint).toContain(`${nodeA!.info.url}/api/damage`);
    // what the hint offers works against the running node
    const damage = await fetch(`${nodeA!.info.url}/api/damage`, { headers: { authorization: `Bearer ${adminA}` } });
    expect(damage.status).toBe(200);
    expect(await damage.json()).toMatchObject({ profiles: [] });
    // and what it no longer offers is indeed refused
    expect(cli(['verify', '--data', a, '--url', nodeA!.info.url]).code).toBe(2);
  });

  it('keys rotate: stop the node first; never --url', () => {
    const r = cli(['keys', 'rotate', '--data', a, '--json']);
    expect([r.code, r.error?.code]).toEqual([7, 'LOG_LOCKED']);
    expect(r.error?.hint).toContain('stop that server first');
    expect(r.error?.hint).not.toContain('--url');
    expect(cli(['keys', 'rotate', '--data', a, '--url', nodeA!.info.url]).code).toBe(2);
  });

  it('export (takes --url): a locked dir whose node left no server.json gets the --url hint, and --url works', () => {
    const file = join(a, 'server.json');
    const saved = readFileSync(file, 'utf8');
    rmSync(file);
    try {
      const r = cli(['export', '--data', a, '--json']);
      expect([r.code, r.error?.code]).toEqual([7, 'LOG_LOCKED']);
      expect(r.error?.hint).toContain('--url URL --token TOKEN');
      const online = cli(['export', '--data', a, '--url', nodeA!.info.url, '--token', adminA, '--json']);
      expect(online.code).toBe(0);
      expect(online.json.profiles.map((p: { id: string }) => p.id)).toEqual(['triage']);
    } finally {
      writeFileSync(file, saved, { mode: 0o600 });
    }
  });
});

describe('restore: nothing to restore, or a used target', () => {
  const bak = join(dir, 'node.bak');

  it('--until before every entry is LOG_RESTORE_NOTHING (exit 8) naming the backup\'s first and last entry times; no dir is left', () => {
    // the profile's entries, read BEFORE the backup: the node may still append (its idle version
    // close), and the backup then holds everything read here and maybe more, never less
    const raw = cli(['profile', 'history', 'triage', '--raw', '--data', a, '--json']).json.entries as { at: string }[];
    expect(raw.length).toBeGreaterThan(0);
    expect(cli(['backup', bak, '--data', a, '--json']).code).toBe(0);
    const target = join(dir, 'restored-may');
    const r = cli(['restore', bak, '--data', target, '--until', '2024-05-01T10:00:00Z', '--json']);
    expect([r.code, r.error?.code]).toEqual([8, 'LOG_RESTORE_NOTHING']);
    expect(existsSync(target)).toBe(false);
    const m = /entries run from (\S+) to (\S+) \(lsn (\d+) to (\d+)\)/.exec(r.error?.message ?? '');
    expect(m).not.toBeNull();
    const [first, last] = [Date.parse(m![1]!), Date.parse(m![2]!)];
    expect(first).toBeLessThanOrEqual(last);
    // the profile's entries lie between the two times named
    for (const e of raw) {
      expect(Date.parse(e.at)).toBeGreaterThanOrEqual(first);
      expect(Date.parse(e.at)).toBeLessThanOrEqual(last);
    }
    expect(r.error?.hint).toContain(`--until ${m![2]}`);
    // an lsn bound before the first entry: the same
    expect(cli(['restore', bak, '--data', target, '--until', '0', '--json']).error?.code).toBe('LOG_RESTORE_NOTHING');
    expect(existsSync(target)).toBe(false);
    // an empty dir given as the target stays, empty
    const empty = join(dir, 'empty-target');
    mkdirSync(empty);
    expect(cli(['restore', bak, '--data', empty, '--until', '2024-05-01T10:00:00Z', '--json']).error?.code).toBe('LOG_RESTORE_NOTHING');
    expect(readdirSync(empty)).toEqual([]);
    // the bound the hint names keeps every entry
    const all = cli(['restore', bak, '--data', target, '--until', m![2]!, '--json']);
    expect(all.code).toBe(0);
    expect(all.json.skipped).toBe(0);
    expect(cli(['export', '--data', target, '--json']).json.profiles.map((p: { id: string }) => p.id)).toEqual(['triage']);
  });

  it('into a dir that holds a node: LOG_RESTORE_NOT_EMPTY (exit 6) with a hint that is not the message, whose command works', () => {
    const r = cli(['restore', bak, '--data', a, '--json']);
    expect([r.code, r.error?.code]).toEqual([6, 'LOG_RESTORE_NOT_EMPTY']);
    expect(r.error?.message).toContain(`${a} already holds a node`);
    const hint = r.error?.hint ?? '';
    expect(hint).not.toBe(r.error?.message);
    expect(r.error?.message).not.toContain(hint);
    const command = /`profilesync (restore [^`]+)`/.exec(hint);
    expect(command?.[1]).toBe(`restore ${bak} --data ${a}-restored`);
    const ran = cli([...command![1]!.split(' '), '--json']);
    expect(ran.code).toBe(0);
    expect(cli(['export', '--data', `${a}-restored`, '--json']).json.profiles.map((p: { id: string }) => p.id)).toEqual(['triage']);
    // the human form prints the hint on its own line, not the message again
    const human = cli(['restore', bak, '--data', a]);
    const lines = human.stderr.trim().split('\n');
    expect(lines[0]).toContain('error LOG_RESTORE_NOT_EMPTY');
    expect(lines[1]).toContain(`--data ${a}-restored-2`);
  });
});
