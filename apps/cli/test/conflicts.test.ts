/**
 * `profilesync profile conflicts ID` and `profilesync profile resolve ID CID --keep ...` through
 * the real binary, against two served nodes that edited one profile apart and then synced
 * (`peer add`, `sync`, `peer remove` as an operator would).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { assertBuilt, cli, serve, type Served } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'ps-cli-conflicts-'));
const nodes: Served[] = [];
beforeAll(() => assertBuilt());
afterAll(async () => {
  for (const n of nodes) await n.stop('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const LONG = 'Ticket from {{customer}} about their order:\n{{body}}';
const LONG_A = 'Ticket #{{id}} from {{customer}} about their order:\n{{body}}\nAnswer in one paragraph.';
const LONG_B = 'Ticket #{{id}} from {{customer}} <{{email}}> about their order:\n{{body}}';
const env = (n: Served) => ({ PROFILESYNC_URL: n.info.url, PROFILESYNC_DATA_DIR: n.info.dataDir });
const wsUrl = (n: Served) => `${n.info.url.replace(/^http/, 'ws')}/sync`;

function peer(from: Served, to: Served): string {
  const r = cli(['peer', 'add', wsUrl(to), '--key', to.info.publicKey, '--json'], env(from));
  expect(r.code, r.stderr).toBe(0);
  return r.json.id as string;
}

/** `profilesync sync` until converged (the first dials of a fresh pair can cross). */
function sync(n: Served): void {
  let r = cli(['sync', '--json'], env(n));
  for (let i = 0; i < 20 && !r.json?.converged; i++) r = cli(['sync', '--json'], env(n));
  expect(r.json, r.stderr).toMatchObject({ converged: true });
}

it('lists the conflict of apart edits and resolves it; bad requests get codes and exit codes', async () => {
  const a = await serve(['--data', join(dir, 'a')]);
  nodes.push(a);
  const b = await serve(['--data', join(dir, 'b')]);
  nodes.push(b);
  expect(cli(['profile', 'create', '--id', 'coder', '--model', 'gpt-4o', '--name', 'Coder', 'systemMessage=You write clean code.', '--json'], env(a)).code).toBe(0);
  expect(cli(['profile', 'create', '--id', 'long', '--model', 'gpt-4o', '--name', 'Long', `systemMessage=${LONG}`, '--json'], env(a)).code).toBe(0);
  let ab = peer(a, b);
  let ba = peer(b, a);
  sync(a);
  expect(cli(['profile', 'get', 'coder', '--json'], env(b)).json.systemMessage).toBe('You write clean code.');
  expect(cli(['peer', 'remove', ab, '--json'], env(a)).code).toBe(0);
  expect(cli(['peer', 'remove', ba, '--json'], env(b)).code).toBe(0);
  expect(cli(['profile', 'set', 'coder', 'systemMessage=You write code. Always add tests.', '--json'], env(a)).code).toBe(0);
  expect(cli(['profile', 'set', 'coder', 'systemMessage=You write clean, small functions.', '--json'], env(b)).code).toBe(0);
  expect(cli(['profile', 'set', 'long', `systemMessage=${LONG_A}`, '--json'], env(a)).code).toBe(0);
  expect(cli(['profile', 'set', 'long', `systemMessage=${LONG_B}`, '--json'], env(b)).code).toBe(0);
  ab = peer(a, b);
  ba = peer(b, a);
  sync(a);

  const listed = cli(['profile', 'conflicts', 'coder', '--json'], env(b));
  expect(listed.code).toBe(0);
  expect(listed.json.conflicts).toHaveLength(1);
  const c = listed.json.conflicts[0];
  expect(c).toMatchObject({ field: 'systemMessage', kind: 'text', status: 'open', base: 'You write clean code.' });
  const human = cli(['profile', 'conflicts', 'coder'], env(b));
  expect(human.stdout).toMatch(/ID\s+FIELD\s+KIND\s+STATUS/);
  expect(human.stdout).toContain(c.id);
  expect(human.stdout).toContain('profilesync profile resolve coder ID --keep');
  // whose side "ours" is: the node that found it, named in the row
  expect(human.stdout).toMatch(/FOUND ON/);
  expect(human.stdout).toContain(c.node);
  expect(human.stdout).toContain('OURS is the side of the node the conflict was found on');
  // sides longer than a table cell: the cells start alike ("Ticket #{{id}} from {{customer}}…"),
  // so each side follows the table in full (one line, as JSON), or a person cannot tell them apart
  const long = cli(['profile', 'conflicts', 'long', '--json'], env(b)).json.conflicts[0];
  expect(long).toMatchObject({ field: 'systemMessage', kind: 'text', status: 'open' });
  const longHuman = cli(['profile', 'conflicts', 'long'], env(b)).stdout;
  for (const side of ['ours', 'theirs', 'merged'] as const) expect(longHuman).toContain(`  ${side.padEnd(6)}  ${JSON.stringify(long[side])}`);
  expect(longHuman).toContain(`  base    ${JSON.stringify(LONG)}`);
  // the merged text was cut in its cell: the block under the table has it whole
  expect(human.stdout).toContain(`  merged  ${JSON.stringify(c.merged)}`);
  // the change feed's text lines show the open conflicts too (the JSON has `conflicts`)
  const feed = cli(['changes', '--ids', 'coder'], env(b));
  expect(feed.code, feed.stderr).toBe(0);
  expect(feed.stdout).toMatch(/^\S+ {2}coder {2}v2\.\S+ {2}\[1 open conflict\]$/m);
  expect(cli(['changes', '--ids', 'coder', '--json'], env(b)).json.changes[0].data.conflicts).toBe(1);

  // usage and coded errors change nothing
  expect(cli(['profile', 'resolve', 'coder', c.id, '--keep', 'mine'], env(b)).code).toBe(2);
  expect(cli(['profile', 'resolve', 'coder', c.id, '--keep', 'value'], env(b)).code).toBe(2);
  const unknown = cli(['profile', 'resolve', 'coder', 'AAAAAAAAAAAAAAAA', '--keep', 'ours', '--json'], env(b));
  expect(unknown.code).toBe(4);
  expect(unknown.error).toMatchObject({ code: 'CONFLICT_NOT_FOUND', hint: expect.stringContaining('profilesync profile conflicts') });
  expect(cli(['profile', 'get', 'coder', '--json'], env(b)).json.conflicts).toBe(1);

  const resolved = cli(['profile', 'resolve', 'coder', c.id, '--keep', 'value', '--value', 'You write clean, tested code.', '--json'], env(b));
  expect(resolved.code, resolved.stderr).toBe(0);
  expect(resolved.json).toMatchObject({ systemMessage: 'You write clean, tested code.', conflicts: 0 });
  expect(cli(['changes', '--ids', 'coder'], env(b)).stdout).not.toContain('open conflict');
  const twice = cli(['profile', 'resolve', 'coder', c.id, '--keep', 'merged', '--json'], env(b));
  expect(twice.code).toBe(6);
  expect(twice.error?.code).toBe('CONFLICT_RESOLVED');
  sync(b);
  const onA = cli(['profile', 'conflicts', 'coder', '--open', '--json'], env(a));
  expect(onA.json.conflicts).toEqual([]);
  expect(cli(['profile', 'get', 'coder', '--json'], env(a)).json).toMatchObject({ systemMessage: 'You write clean, tested code.', conflicts: 0 });

  // one id created apart with other content: a 'create' conflict, whose sides are whole profiles;
  // the table shows where they differ (not the same first 40 characters of both)
  for (const r of cli(['peer', 'list', '--json'], env(a)).json.peers as { id: string }[]) expect(cli(['peer', 'remove', r.id, '--json'], env(a)).code).toBe(0);
  for (const r of cli(['peer', 'list', '--json'], env(b)).json.peers as { id: string }[]) expect(cli(['peer', 'remove', r.id, '--json'], env(b)).code).toBe(0);
  expect(cli(['profile', 'create', '--id', 'faq', '--model', 'gpt-4o', '--name', 'FAQ', 'systemMessage=Answer from the FAQ.', '--json'], env(a)).code).toBe(0);
  expect(cli(['profile', 'create', '--id', 'faq', '--model', 'gpt-4o', '--name', 'FAQ bot', 'systemMessage=Answer briefly.', '--json'], env(b)).code).toBe(0);
  peer(a, b);
  peer(b, a);
  sync(a);
  const created = cli(['profile', 'conflicts', 'faq', '--json'], env(a));
  expect(created.json.conflicts).toHaveLength(1);
  const cc = created.json.conflicts[0];
  expect(cc).toMatchObject({ kind: 'create', field: '', status: 'open' });
  const table = cli(['profile', 'conflicts', 'faq'], env(a));
  expect(table.code, table.stderr).toBe(0);
  expect(table.stdout).toContain(`${cc.id} (created apart): the two sides differ in name, systemMessage; --json shows both whole profiles`);
  const row = table.stdout.split('\n').find((l) => l.startsWith(cc.id) && l.includes('create'))!;
  // each side's cell names its own name and system message
  expect(row).toContain('"name":"FAQ"');
  expect(row).toContain('"name":"FAQ bot"');
}, 120_000);
