/**
 * An edit made while two nodes were apart keeps a version of its own (docs/profile-model.md §5,
 * "Runs and peers"): two real nodes peered over /sync on 127.0.0.1. A edits and stops with its
 * run still open; B edits meanwhile; A starts again and syncs. Each node's run is a version
 * closed at its own node's state with its own actor, the merge is no node's version, and both
 * nodes list the same versions. The idle gap is long: nothing here waits for a run to go idle.
 */
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultConfig, startServer, type RunningServer } from '../src/index.js';
import { ADMIN, ok, profileInput, tempDir, wsUrl } from './helpers.js';

const dir = tempDir('ps-apart-');
const servers: RunningServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.close().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

async function node(name: string, port = 0): Promise<RunningServer> {
  const base = defaultConfig({ dataDir: join(dir, name), port, logLevel: (process.env.LOG_LEVEL ?? 'silent') as 'silent' });
  const s = await startServer({ ...base, versions: { idleMs: 600_000 } }, { env: {}, adminToken: ADMIN });
  servers.push(s);
  return s;
}

async function stop(s: RunningServer): Promise<void> {
  await s.close();
  servers.splice(servers.indexOf(s), 1);
}

async function sync(s: RunningServer): Promise<void> {
  let r: { converged: boolean } = { converged: false };
  for (let i = 0; i < 20 && !r.converged; i++) r = await ok<{ converged: boolean }>(s, 'POST', '/api/sync', { timeoutMs: 20_000 });
  expect(r, JSON.stringify(r)).toMatchObject({ converged: true });
}

const history = async (s: RunningServer, id: string) => (await ok<{ versions: any[] }>(s, 'GET', `/api/profiles/${id}/history`)).versions;
const closed = (versions: any[]) => versions.filter((v) => v.open !== true).map(({ ref, version, at, actors, node, reason, fields }) => ({ ref, version, at, actors, node, reason, fields }));

describe('versions of edits made apart, over /sync', () => {
  it("a run left open by a stop and the peer's run made meanwhile are two versions, the same on both nodes", async () => {
    const a = await node('a');
    let b = await node('b');
    await ok(a, 'POST', '/api/peers', { url: wsUrl(b, '/sync'), key: b.publicKey, name: 'b' });
    await ok(b, 'POST', '/api/peers', { url: wsUrl(a, '/sync'), key: a.publicKey, name: 'a' });
    await ok(a, 'POST', '/api/profiles', profileInput('p3', { systemMessage: 'You answer briefly.' }));
    await sync(a);
    const nodeA = (await history(a, 'p3'))[0].node as string;

    // B is down; A edits and stops with its run open
    const portB = b.port;
    await stop(b);
    const edited = await ok(a, 'PATCH', '/api/profiles/p3', { systemMessage: 'You answer briefly and kindly.' });
    expect((await history(a, 'p3'))[0]).toMatchObject({ open: true, reason: 'open', version: edited.version });
    const portA = a.port;
    await stop(a);

    // B edits while A is down
    b = await node('b', portB);
    const fromB = await ok(b, 'PATCH', '/api/profiles/p3', { systemMessage: 'You answer briefly, in English.', parameters: { temperature: 0.2 } });
    const bNode = (await history(b, 'p3'))[0].node as string;

    // A starts (its run still open) and syncs
    const a2 = await node('a', portA);
    await sync(a2);
    await sync(b);
    const [ha, hb] = [await history(a2, 'p3'), await history(b, 'p3')];
    expect(closed(hb)).toEqual(closed(ha));
    expect(closed(ha).map((v) => [v.ref, v.version, v.node, v.actors, v.reason, v.fields])).toEqual([
      ['@3', fromB.version, bNode, ['admin'], 'merge', ['parameters.temperature', 'systemMessage']],
      ['@2', edited.version, nodeA, ['admin'], 'startup', ['systemMessage']],
      ['@1', expect.any(String), nodeA, ['admin'], 'create', expect.any(Array)],
    ]);
    expect(nodeA).not.toBe(bNode);
    expect((await ok(b, 'GET', '/api/profiles/p3?version=@2')).systemMessage).toBe('You answer briefly and kindly.');
    expect((await ok(a2, 'GET', '/api/profiles/p3?version=@3')).parameters.temperature).toBe(0.2);
    // the merged state (a text conflict) is no node's version: listed newest, open, on both
    const view = await ok(a2, 'GET', '/api/profiles/p3');
    expect(view.conflicts).toBe(1);
    expect(ha[0]).toMatchObject({ ref: '@4', open: true, reason: 'open', version: view.version });
    expect(hb[0]).toMatchObject({ ref: '@4', open: true, reason: 'open', version: view.version });
  });
});
