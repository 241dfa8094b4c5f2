/**
 * Issue 11.2/11.3 end to end, on real nodes (apps/server + the sync mount, real LevelDB, ws on
 * 127.0.0.1): node A's acknowledged writes to one profile are lost from the end of LevelDB's
 * write-ahead log (a crash image whose WAL is truncated). Restarted, A answers that profile with
 * 503 PROFILE_DAMAGED everywhere (never its older state, never 404, its id not re-creatable),
 * serves every other profile, reports it (/readyz degraded, /metrics, /api/damage); with its healthy peer
 * B it rebuilds the profile from B's full state as a new chain segment, audited as
 * `profile.repair`, and then holds exactly B's content.
 */
import { cpSync, mkdtempSync, readdirSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { createSyncMount } from '@profilesync/sync';
import { defaultConfig, startServer, type RunningServer } from '@profilesync/server';
import { req as httpReq, until, type Answer } from './node-http.js';

const ADMIN = 'damage-e2e-admin-token-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'ps-damage-'));
const running: RunningServer[] = [];

async function start(data: string, sync = true): Promise<RunningServer> {
  const s = await startServer(defaultConfig({ dataDir: data, port: 0, logLevel: 'silent' }), { env: {}, adminToken: ADMIN, sync: sync ? (ctx) => createSyncMount(ctx) : false });
  running.push(s);
  return s;
}

async function stop(s: RunningServer): Promise<void> {
  await s.close();
  running.splice(running.indexOf(s), 1);
}

const req = (s: RunningServer, method: string, path: string, body?: unknown): Promise<Answer> => httpReq(s, ADMIN, method, path, body);

/** The view without the fields that name the local entry (its time and actor). */
const content = (v: Record<string, unknown>): Record<string, unknown> => {
  const { updatedAt: _a, updatedBy: _b, ...rest } = v;
  return rest;
};

afterAll(async () => {
  for (const s of running.splice(0)) await s.close().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

it('a lost WAL tail: PROFILE_DAMAGED (never an older state, never 404, not re-creatable), reported, repaired from the peer', async () => {
  const dataA = join(dir, 'a');
  const b = await start(join(dir, 'b'));
  let a = await start(dataA);
  expect((await req(a, 'POST', '/api/peers', { url: `${b.url.replace(/^http/, 'ws')}/sync`, key: b.publicKey })).status).toBe(201);
  expect((await req(b, 'POST', '/api/peers', { url: `${a.url.replace(/^http/, 'ws')}/sync`, key: a.publicKey })).status).toBe(201);
  for (let i = 0; i < 5; i++) expect((await req(a, 'POST', '/api/profiles', { id: `p${i}`, modelId: 'm', name: `P${i}`, systemMessage: `v1 of ${i}` })).status).toBe(201);
  // restart: everything so far moves into LevelDB table files
  await stop(a);
  a = await start(dataA);
  for (let r = 2; r <= 4; r++) expect((await req(a, 'PATCH', '/api/profiles/p1', { systemMessage: `v${r} of 1` })).status).toBe(200);
  await until(async () => (await req(a, 'POST', '/api/sync', { timeoutMs: 5000 })).json?.converged === true, 'A and B converged');
  const onB = (await req(b, 'GET', '/api/profiles/p1')).json;
  expect(onB.systemMessage).toBe('v4 of 1');

  // a crash image of A (its files while it runs, idle), then A stops; the image's WAL loses its tail
  await a.node.log.idle();
  const image = join(dir, 'a-image');
  cpSync(dataA, image, { recursive: true });
  await stop(a);
  const logDir = join(image, 'log');
  const wal = readdirSync(logDir).filter((f) => f.endsWith('.log'));
  expect(wal.length).toBe(1);
  truncateSync(join(logDir, wal[0] as string), 0);

  // without sync first: what the damaged node answers
  const lone = await start(image, false);
  const get = await req(lone, 'GET', '/api/profiles/p1');
  expect(get.status).toBe(503);
  expect(get.json.error.code).toBe('PROFILE_DAMAGED');
  expect(get.text).not.toContain('v1 of 1'); // never the older state
  for (const [method, path, body] of [
    ['GET', '/api/profiles/p1/history', undefined],
    ['PATCH', '/api/profiles/p1', { name: 'x' }],
    ['DELETE', '/api/profiles/p1', undefined],
    ['POST', '/api/profiles', { id: 'p1', modelId: 'm', name: 'again' }],
    ['GET', '/api/audit?profile=p1', undefined],
  ] as const) {
    const r = await req(lone, method, path, body);
    expect([method, path, r.status, r.json?.error?.code]).toEqual([method, path, 503, 'PROFILE_DAMAGED']);
  }
  for (const id of ['p0', 'p2', 'p3', 'p4']) {
    const r = await req(lone, 'GET', `/api/profiles/${id}`);
    expect([id, r.status]).toEqual([id, 200]);
    expect(r.json.systemMessage).toBe(`v1 of ${id.slice(1)}`);
  }
  expect((await req(lone, 'PATCH', '/api/profiles/p2', { name: 'still writable' })).status).toBe(200);
  const list = (await req(lone, 'GET', '/api/profiles')).json.profiles.map((p: { id: string }) => p.id);
  expect(list).not.toContain('p1');
  const damage = (await req(lone, 'GET', '/api/damage')).json;
  expect(damage.profiles.map((p: { id: string }) => p.id)).toEqual(['p1']);
  expect(damage.profiles[0].findings[0].kind).toBe('rollback');
  // degraded, not unready: the node keeps serving its intact profiles (docs/operations.md)
  const ready = await req(lone, 'GET', '/readyz');
  expect(ready.status).toBe(200);
  expect(ready.json).toMatchObject({ ready: true, degraded: true });
  expect(ready.json.reasons).toContainEqual(expect.objectContaining({ check: 'storage', code: 'STORAGE_DAMAGED', degraded: true }));
  expect((await req(lone, 'GET', '/metrics')).text).toMatch(/^profilesync_damaged_profiles 1$/m);
  await stop(lone);

  // with sync: the peer's full state repairs it
  const healed = await start(image);
  await until(async () => (await req(healed, 'GET', '/api/profiles/p1')).status === 200, 'p1 repaired from B');
  await until(async () => (await req(healed, 'POST', '/api/sync', { timeoutMs: 5000 })).json?.converged === true, 'converged after the repair');
  const repaired = (await req(healed, 'GET', '/api/profiles/p1')).json;
  const fromB = (await req(b, 'GET', '/api/profiles/p1')).json;
  expect(JSON.stringify(content(repaired))).toBe(JSON.stringify(content(fromB)));
  expect(repaired.systemMessage).toBe('v4 of 1');
  const audit = (await req(healed, 'GET', '/api/audit?profile=p1')).json.records;
  expect(audit.map((r: { action: string }) => r.action)).toContain('profile.repair');
  expect((await req(healed, 'GET', '/readyz')).json).toEqual({ ready: true });
  expect((await req(healed, 'GET', '/api/damage')).json.profiles).toEqual([]);
  expect((await req(healed, 'GET', '/metrics')).text).toMatch(/^profilesync_profile_repairs_total\{source="peer"\} 1$/m);
  // and it is an ordinary profile again
  expect((await req(healed, 'PATCH', '/api/profiles/p1', { name: 'after repair' })).status).toBe(200);
  expect((await req(healed, 'GET', '/api/profiles/p1/history')).status).toBe(200);
});
