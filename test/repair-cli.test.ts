/**
 * `profilesync verify --repair [--from BACKUP]` through the real binary (issue 11.3): a damaged
 * entry of one profile AND a flipped view byte of another are both reported, each with what was
 * done about it (the view finding is not skipped because the entry finding blocks a rebuild);
 * without --from the damaged profile is reported as not repaired (exit 3); with --from a backup
 * it is rebuilt as a new chain segment (history from the backup, then what was intact here),
 * audited as profile.repair, and verify is clean (exit 0).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { assertBuilt, cli } from '../apps/cli/test/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'ps-repair-'));
const data = join(dir, 'node');
const bak = join(dir, 'node.bak');

/** key of a stream-number record (catalog order: p0 = 1, p1 = 2, ...) */
const key = (prefix: string, stream: number, seq?: number): Uint8Array => {
  const k = new Uint8Array(seq === undefined ? 5 : 13);
  k[0] = prefix.charCodeAt(0);
  new DataView(k.buffer).setUint32(1, stream);
  if (seq !== undefined) new DataView(k.buffer).setUint32(9, seq);
  return k;
};

/** The stream number of a profile (plaintext node: a catalog value is a 5-byte frame header, then the name). */
async function streamNo(name: string): Promise<number> {
  const db = new Level<Uint8Array, Uint8Array>(join(data, 'log'), { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  try {
    for await (const [k, v] of db.iterator({ gte: Uint8Array.of(0x43), lt: Uint8Array.of(0x44) })) {
      if (Buffer.from(v.subarray(5)).toString('utf8') === name) return new DataView(k.buffer, k.byteOffset).getUint32(1);
    }
  } finally {
    await db.close();
  }
  throw new Error(`no stream ${name}`);
}

async function flipLast(k: Uint8Array): Promise<void> {
  const db = new Level<Uint8Array, Uint8Array>(join(data, 'log'), { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  try {
    const v = new Uint8Array((await db.get(k)) as Uint8Array);
    v[v.byteLength - 1] = (v[v.byteLength - 1] as number) ^ 0x01;
    await db.put(k, v);
  } finally {
    await db.close();
  }
}

beforeAll(() => {
  assertBuilt();
  expect(cli(['init', '--data', data, '--json']).code).toBe(0);
  const profiles = (v: number) => ({ profiles: [0, 1, 2].map((i) => ({ id: `p${i}`, modelId: 'm', name: `P${i}`, systemMessage: `version ${v} of ${i}` })) });
  writeFileSync(join(dir, 'v1.json'), JSON.stringify(profiles(1)));
  writeFileSync(join(dir, 'v2.json'), JSON.stringify(profiles(2)));
  expect(cli(['import', join(dir, 'v1.json'), '--data', data, '--json']).code).toBe(0);
  expect(cli(['backup', bak, '--data', data, '--json']).code).toBe(0);
  expect(cli(['import', join(dir, 'v2.json'), '--data', data, '--json']).code).toBe(0);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('reports every finding with its action; repairs the damaged profile from a backup', async () => {
  const ok = cli(['verify', '--data', data, '--json']);
  expect(ok.code).toBe(0);
  const ids = cli(['export', '--data', data, '--json']).json.profiles.map((p: { id: string }) => p.id);
  expect(ids).toEqual(['p0', 'p1', 'p2']);
  await flipLast(key('E', await streamNo('p0'), 1)); // p0's first entry: damage in the history
  await flipLast(key('V', await streamNo('p1'))); // p1's view: derived data

  const report = cli(['verify', '--data', data, '--repair', '--json']);
  expect(report.code).toBe(3);
  const byKind = (k: string, s: string) => report.json.findings.find((f: { kind: string; stream: string }) => f.kind === k && f.stream === s);
  expect(byKind('checksum', 'p0')?.action).toMatch(/^not repaired: a peer/);
  expect(byKind('view', 'p1')?.action).toMatch(/^rebuilt from the log/);
  expect(report.json.broken.map((b: { stream: string }) => b.stream)).toEqual(['p0']);

  const fixed = cli(['verify', '--data', data, '--repair', '--from', bak, '--json']);
  expect(fixed.code).toBe(0);
  expect(fixed.json.repaired).toEqual(['p0']);
  expect(fixed.json.findings.find((f: { stream: string }) => f.stream === 'p0').action).toMatch(/^repaired from .*: 1 entries from the backup \+ 1 still intact here/);
  expect(fixed.json.ok).toBe(true);

  const after = cli(['export', '--data', data, '--json']).json.profiles;
  expect(after.map((p: { systemMessage: string }) => p.systemMessage)).toEqual(['version 2 of 0', 'version 2 of 1', 'version 2 of 2']);
  expect(cli(['verify', '--data', data, '--json']).json).toMatchObject({ ok: true, retired: 1 });
});
