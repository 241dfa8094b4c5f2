/**
 * Converged nodes show identical views (DESIGN §3; docs/profile-model.md "Which view fields are
 * node-local"): two real nodes peered over /sync on 127.0.0.1, edits made on one, on the other,
 * and apart on both; once the runs are closed (versions.idleMs) and the nodes converged, the
 * whole view (updatedAt and updatedBy included), the list rows and the closed versions are the
 * same on both, and stay the same after a node restart (read back from the persisted view).
 * updatedAt/updatedBy are the version record's (at, the run's last actor), never a node's own
 * apply time or a peer's fingerprint.
 */
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultConfig, startServer, type RunningServer } from '../src/index.js';
import { ADMIN, http, profileInput, tempDir, wsUrl, ok } from './helpers.js';

const dir = tempDir('ps-converged-');
const servers: RunningServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.close().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

const IDLE_MS = 150;
async function node(name: string, port = 0): Promise<RunningServer> {
  const base = defaultConfig({ dataDir: join(dir, name), port, logLevel: (process.env.LOG_LEVEL ?? 'silent') as 'silent' });
  const s = await startServer({ ...base, versions: { idleMs: IDLE_MS } }, { env: {}, adminToken: ADMIN });
  servers.push(s);
  return s;
}

async function sync(a: RunningServer): Promise<void> {
  let r: { converged: boolean } = { converged: false };
  for (let i = 0; i < 20 && !r.converged; i++) r = await ok<{ converged: boolean }>(a, 'POST', '/api/sync', { timeoutMs: 20_000 });
  expect(r, JSON.stringify(r)).toMatchObject({ converged: true });
}

async function peer(a: RunningServer, b: RunningServer): Promise<void> {
  await ok(a, 'POST', '/api/peers', { url: wsUrl(b, '/sync'), key: b.publicKey, name: 'other' });
  await ok(b, 'POST', '/api/peers', { url: wsUrl(a, '/sync'), key: a.publicKey, name: 'other' });
  await sync(a);
}

async function part(a: RunningServer, b: RunningServer): Promise<void> {
  for (const [x, y] of [
    [a, b],
    [b, a],
  ] as const) {
    const peers = await ok<{ peers: { id: string; fingerprint: string }[] }>(x, 'GET', '/api/peers');
    for (const p of peers.peers.filter((p) => p.fingerprint === y.fingerprint)) await ok(x, 'DELETE', `/api/peers/${p.id}`);
  }
}

/** What a reader sees of a profile on one node: the view, its list row, its closed versions. */
async function seen(s: RunningServer, id: string): Promise<{ view: any; row: any; versions: any[]; open: boolean }> {
  const view = await ok(s, 'GET', `/api/profiles/${id}`);
  const rows = await ok<{ profiles: any[] }>(s, 'GET', '/api/profiles?limit=100');
  const history = await ok<{ versions: any[] }>(s, 'GET', `/api/profiles/${id}/history`);
  // the open run is node-local by definition (only its node closes it); closed versions are shared
  return { view, row: rows.profiles.find((p) => p.id === id), versions: history.versions.filter((v) => !v.open).map(({ seq: _seq, ...v }) => v), open: history.versions.some((v) => v.open) };
}

/**
 * Waits (syncing) until both nodes show the same view, row and versions with no run open (a
 * merge of states edited apart is no node's run: `merged` accepts its open entry); returns it.
 */
async function converged(a: RunningServer, b: RunningServer, id: string, merged = false): Promise<{ view: any; versions: any[] }> {
  const end = Date.now() + 20_000;
  let last = '';
  for (;;) {
    await sync(a);
    const [x, y] = [await seen(a, id), await seen(b, id)];
    if ((merged || (!x.open && !y.open)) && JSON.stringify(x) === JSON.stringify(y)) return x;
    last = JSON.stringify({ a: x, b: y });
    if (Date.now() > end) throw new Error(`not converged: ${last}`);
    await new Promise((r) => setTimeout(r, IDLE_MS));
  }
}

/** The view's stamp is its version record's: at, and the run's last actor. */
function expectStampOfNewest(view: any, versions: any[]): void {
  // history lists newest first: @N with the highest N is the newest closed version
  const newest = [...versions].sort((x, y) => Number(y.ref.slice(1)) - Number(x.ref.slice(1)))[0];
  const current = versions.find((v) => v.version === view.version) ?? newest;
  expect(current).toBeDefined();
  expect(view.updatedAt).toBe(current.at);
  expect(view.updatedBy).toBe(current.actors[current.actors.length - 1]);
}

describe('converged nodes show identical views', () => {
  it('edits on one node, on the other, and apart on both: same view (updatedAt, updatedBy), rows and versions; also after a restart', async () => {
    const a = await node('a');
    const b = await node('b');
    await peer(a, b);
    // tokens are per node: Grace edits on B
    const grace = (await ok(b, 'POST', '/api/tokens', { name: 'grace', role: 'editor', displayName: 'Grace Hopper' })).token as string;

    // 1. created and edited on A, replicated to B
    await ok(a, 'POST', '/api/profiles', profileInput('conv', { systemMessage: 'Hello.' }));
    await ok(a, 'PATCH', '/api/profiles/conv', { systemMessage: 'Hello there.' });
    let c = await converged(a, b, 'conv');
    expect(c.view.systemMessage).toBe('Hello there.');
    expect(c.view.updatedBy).toBe('admin');
    expect(c.view.updatedBy).not.toMatch(/^peer:/);
    expectStampOfNewest(c.view, c.versions);

    // 2. edited on B by another person: B's run closes on B, A shows the same stamp
    expect((await http(b.url, 'PATCH', '/api/profiles/conv', { token: grace, body: { description: 'from b' } })).status).toBe(200);
    c = await converged(a, b, 'conv');
    expect(c.view.description).toBe('from b');
    expect(c.view.updatedBy).toBe('Grace Hopper');
    expectStampOfNewest(c.view, c.versions);

    // 3. edited apart on both, then merged: no node closes the merged state; both show the newest version's stamp
    await part(a, b);
    await ok(a, 'PATCH', '/api/profiles/conv', { name: 'Named on A' });
    await ok(b, 'PATCH', '/api/profiles/conv', { templates: { greet: 'Hi {{name}} from B' } });
    // let both runs close apart, so each node has its own newest version before they meet
    for (const s of [a, b]) {
      const end = Date.now() + 10_000;
      while ((await ok<{ versions: any[] }>(s, 'GET', '/api/profiles/conv/history')).versions.some((v) => v.open)) {
        if (Date.now() > end) throw new Error('run did not close');
        await new Promise((res) => setTimeout(res, IDLE_MS));
      }
    }
    await peer(a, b);
    c = await converged(a, b, 'conv', true);
    expect(c.versions.some((v) => v.version === c.view.version)).toBe(false); // the merged state is not a version
    expect(c.view).toMatchObject({ name: 'Named on A', templates: { greet: 'Hi {{name}} from B' } });
    expectStampOfNewest(c.view, c.versions);

    // 4. B restarts: its view is read back from the persisted bytes, still identical
    const port = b.port;
    await b.close();
    servers.splice(servers.indexOf(b), 1);
    const b2 = await node('b', port);
    const [x, y] = [await seen(a, 'conv'), await seen(b2, 'conv')];
    expect(y).toEqual(x);
  });
});
