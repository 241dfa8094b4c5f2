/**
 * The OpenAPI document against real answers, for the operations openapi.test.ts does not reach
 * through the SDK: render (200, 422 missing variables, 404 template), checkpoints (201, then
 * 200), the 410 of every route that refuses a tombstone, conflicts and their resolution on two peered nodes (a system message edited apart on
 * both), peers and sync, cluster, damage, cache clearing, the log export and import, online
 * backup, metrics and the document itself. Every exchange is checked with Ajv (openapi.ts); with
 * openapi.test.ts (the SDK's reads, writes, tokens, webhooks, audit) every operation of the
 * document is checked against a real answer.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '@profilesync/client';
import { defaultConfig, startServer, type RunningServer } from '@profilesync/server';
import { ADMIN, profile, until } from './node.js';
import { OpenApiChecker, recordingFetch, type Exchange } from './openapi.js';

const dir = mkdtempSync(join(tmpdir(), 'ps-openapi-routes-'));
const servers: RunningServer[] = [];
let doc: any;
let n = 0;

async function node(): Promise<RunningServer> {
  const base = defaultConfig({ dataDir: join(dir, `n${n++}`), port: 0, logLevel: 'silent' });
  const s = await startServer(base, { env: {}, adminToken: ADMIN, onAdminToken: () => undefined });
  servers.push(s);
  return s;
}

beforeAll(async () => {
  const a = await node();
  doc = await (await fetch(`${a.url}/openapi.json`)).json();
});
afterAll(async () => {
  for (const s of servers) await s.close().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

describe('OpenAPI document: every operation, real answers', () => {
  it('render, checkpoints, tombstones, conflicts, resolve, peers, sync, cluster, damage, caches, log export/import, backup, metrics', async () => {
    const log: Exchange[] = [];
    const rec = recordingFetch(log);
    const call = async (s: RunningServer, method: string, path: string, body?: unknown, opts: { invalid?: boolean; raw?: { type: string; bytes: Uint8Array } } = {}) => {
      const headers: Record<string, string> = { authorization: `Bearer ${ADMIN}` };
      let payload: string | Uint8Array | undefined; // fetch takes either
      if (opts.raw) {
        headers['content-type'] = opts.raw.type;
        payload = opts.raw.bytes;
      } else if (body !== undefined) {
        headers['content-type'] = 'application/json';
        payload = JSON.stringify(body);
      }
      const res = await rec(s.url + path, { method, headers, ...(payload !== undefined ? { body: payload as unknown as string } : {}) });
      if (opts.invalid) log[log.length - 1]!.invalid = true;
      const buf = new Uint8Array(await res.arrayBuffer());
      const type = res.headers.get('content-type') ?? '';
      return { status: res.status, bytes: buf, body: type.startsWith('application/json') && buf.byteLength > 0 ? JSON.parse(new TextDecoder().decode(buf)) : undefined };
    };
    const a = servers[0]!;
    const b = await node();
    const wsUrl = (s: RunningServer) => `${s.url.replace(/^http/, 'ws')}/sync`;
    const syncUntilConverged = async (s: RunningServer) => {
      let r: any = { converged: false };
      for (let i = 0; i < 20 && !r.converged; i++) r = (await call(s, 'POST', '/api/sync', { timeoutMs: 20_000 })).body;
      expect(r).toMatchObject({ converged: true });
    };

    // render and checkpoints
    const v = await call(a, 'POST', '/api/profiles', profile('oa-r', { messages: [{ role: 'user', content: 'Hi {{name}}' }], parameters: { temperature: 0.2, tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }], extra: { top_k: 3 } } }));
    expect(v.status).toBe(201);
    expect((await call(a, 'POST', '/api/profiles/oa-r/render', { variables: { product: 'Acme', name: 'Ada', unused: 1 }, template: 'greet' })).status).toBe(200);
    expect((await call(a, 'POST', '/api/profiles/oa-r/render', { variables: {}, label: 'nope' })).status).toBe(404);
    expect((await call(a, 'POST', '/api/profiles/oa-r/render', { variables: {} })).status).toBe(422);
    expect((await call(a, 'POST', '/api/profiles/oa-r/render', { variables: { product: 'x', name: 'y' }, template: 'nope' })).status).toBe(404);
    expect((await call(a, 'POST', '/api/profiles/oa-r/render', { variables: { product: 'x', name: 'y' }, version: '@1' })).status).toBe(200);
    // text that looks like a variable but is none: sent as typed, a warning says what and where
    expect((await call(a, 'POST', '/api/profiles', profile('oa-typo', { systemMessage: 'Hi {{ first name }}', templates: { greet: 'Re {{ticket}' } }))).status).toBe(201);
    const typo = await call(a, 'POST', '/api/profiles/oa-typo/render', { variables: { unused: 1 }, template: 'greet' });
    expect([typo.status, typo.body.messages[0].content, typo.body.warnings]).toEqual([
      200,
      'Hi {{ first name }}',
      [
        { code: 'RENDER_MALFORMED_VARIABLE', variable: '{{ first name }}', path: 'systemMessage' },
        { code: 'RENDER_MALFORMED_VARIABLE', variable: '{{ticket}', path: 'templates.greet' },
        { code: 'RENDER_UNUSED_VARIABLE', variable: 'unused' },
      ],
    ]);
    // a refused write names every problem (details.issues), not only the first
    const refused = await call(a, 'PATCH', '/api/profiles/oa-typo', { parameters: { temperature: 3, top_p: 5 } });
    expect([refused.status, refused.body.error.details.issues.map((i: { path: string }) => i.path)]).toEqual([422, ['parameters.temperature', 'parameters.top_p']]);
    await call(a, 'PATCH', '/api/profiles/oa-r', { description: 'checkpointed' });
    expect((await call(a, 'POST', '/api/profiles/oa-r/versions', { message: 'first cut' })).status).toBe(201);
    expect((await call(a, 'POST', '/api/profiles/oa-r/versions', { message: 'again' })).status).toBe(200);
    expect((await call(a, 'POST', '/api/profiles/oa-r/versions', {}, { invalid: true })).status).toBe(400);
    expect((await call(a, 'PUT', '/api/profiles/oa-r/labels/prod', { version: '@1' })).status).toBe(200);
    expect((await call(a, 'DELETE', '/api/profiles/oa-r/labels/prod')).status).toBe(204);
    expect((await call(a, 'GET', '/api/profiles/oa-r/history?entries=raw')).status).toBe(200);

    // peers and sync, then a system message edited apart on both nodes: a conflict on each
    await call(a, 'POST', '/api/profiles', profile('oa-c', { systemMessage: 'You write clean code.' }));
    expect((await call(a, 'POST', '/api/peers', { url: wsUrl(b), key: b.publicKey, name: 'b' })).status).toBe(201);
    expect((await call(b, 'POST', '/api/peers', { url: wsUrl(a), key: a.publicKey, name: 'a' })).status).toBe(201);
    await call(a, 'POST', '/api/peers', { url: 'not a url' }, { invalid: true });
    await syncUntilConverged(a);
    for (const [x, y] of [
      [a, b],
      [b, a],
    ] as const) {
      const peers = (await call(x, 'GET', '/api/peers')).body.peers as { id: string; fingerprint: string }[];
      for (const p of peers.filter((p) => p.fingerprint === y.fingerprint)) expect((await call(x, 'DELETE', `/api/peers/${p.id}`)).status).toBeLessThan(300);
    }
    expect((await call(a, 'DELETE', '/api/peers/000000000000')).status).toBe(404);
    await call(a, 'PATCH', '/api/profiles/oa-c', { systemMessage: 'You write code. Always add tests.' });
    await call(b, 'PATCH', '/api/profiles/oa-c', { systemMessage: 'You write clean, well-named code.' });
    await call(a, 'POST', '/api/peers', { url: wsUrl(b), key: b.publicKey, name: 'b' });
    await call(b, 'POST', '/api/peers', { url: wsUrl(a), key: a.publicKey, name: 'a' });
    await syncUntilConverged(a);
    let open: any[] = [];
    await until(async () => {
      open = (await call(a, 'GET', '/api/profiles/oa-c/conflicts')).body.conflicts.filter((c: { status: string }) => c.status === 'open');
      return open.length > 0;
    }, 'a conflict on A');
    expect((await call(b, 'GET', '/api/profiles/oa-c/conflicts')).status).toBe(200);
    // rendering the current state while conflicts are open warns (its text is a merge nobody wrote); @1, before the merge, does not
    expect((await call(a, 'POST', '/api/profiles/oa-c/render', {})).body.warnings).toEqual([{ code: 'RENDER_OPEN_CONFLICTS', conflicts: open.length }]);
    expect((await call(a, 'POST', '/api/profiles/oa-c/render', { version: '@1' })).body.warnings).toEqual([]);
    const sdk = createClient({ url: a.url, token: ADMIN, live: false });
    expect((await sdk.render('oa-c', {})).warnings).toEqual([{ code: 'RENDER_OPEN_CONFLICTS', conflicts: open.length }]);
    expect((await sdk.render('oa-c', {}, { version: '@1' })).warnings).toEqual([]);
    await sdk.close();
    expect((await call(b, 'GET', '/api/profiles/oa-c/conflicts?open=true', undefined, { invalid: true })).status).toBe(400);
    expect((await call(a, 'POST', `/api/profiles/oa-c/conflicts/${open[0].id}/resolve`, { keep: 'ours' })).status).toBe(200);
    expect((await call(a, 'POST', `/api/profiles/oa-c/conflicts/${open[0].id}/resolve`, { keep: 'ours' })).status).toBe(409);
    expect((await call(a, 'POST', '/api/profiles/oa-c/conflicts/nope/resolve', { keep: 'merged' })).status).toBe(404);
    expect((await call(a, 'GET', '/api/profiles/missing/conflicts')).status).toBe(404);

    // node-wide operations
    expect((await call(a, 'GET', '/api/cluster')).status).toBe(200);
    expect((await call(a, 'GET', '/api/damage')).status).toBe(200);
    expect((await call(a, 'POST', '/api/cache/clear')).status).toBe(200);
    expect((await call(a, 'GET', '/metrics')).status).toBe(200);
    expect((await call(a, 'GET', '/openapi.json')).status).toBe(200);
    const exported = await call(a, 'GET', '/api/profiles/oa-r/log');
    expect(exported.status).toBe(200);
    expect((await call(b, 'POST', '/api/import/log', undefined, { raw: { type: 'application/vnd.profilesync.profile-log', bytes: exported.bytes } })).status).toBeLessThan(300);
    expect((await call(b, 'POST', '/api/import/log', undefined, { raw: { type: 'application/vnd.profilesync.profile-log', bytes: new TextEncoder().encode('not a log') } })).status).toBe(400);
    // a tombstone: every write, the label routes and render answer 410 PROFILE_DELETED, documented per operation
    await call(a, 'POST', '/api/profiles', profile('oa-gone'));
    await call(a, 'PUT', '/api/profiles/oa-gone/labels/live', { version: 'latest' });
    expect((await call(a, 'DELETE', '/api/profiles/oa-gone')).status).toBe(204);
    const gone = [
      await call(a, 'PATCH', '/api/profiles/oa-gone', { name: 'again' }),
      await call(a, 'DELETE', '/api/profiles/oa-gone'),
      await call(a, 'POST', '/api/profiles/oa-gone/render', { variables: {} }),
      await call(a, 'PUT', '/api/profiles/oa-gone/labels/live', { version: '@1' }),
      await call(a, 'DELETE', '/api/profiles/oa-gone/labels/live'),
      await call(a, 'POST', '/api/profiles/oa-gone/versions', { message: 'after the delete' }),
      await call(a, 'GET', '/api/profiles/oa-gone'),
    ];
    expect(gone.map((r) => [r.status, r.body?.error?.code])).toEqual(gone.map(() => [410, 'PROFILE_DELETED']));
    const backup = await call(a, 'POST', '/api/backup');
    expect(backup.status).toBe(200);
    expect(backup.bytes.byteLength).toBeGreaterThan(0);
    // a status no operation lists: a node whose store is closed answers 503 STORE_CLOSED with the
    // error body, documented by every operation's `default`
    const c = await node();
    await c.node.store.close();
    const closed = [await call(c, 'GET', '/api/profiles/oa-1'), await call(c, 'POST', '/api/profiles/oa-1/render', { variables: {} })];
    expect(closed.map((r) => [r.status, r.body?.error?.code])).toEqual([
      [503, 'STORE_CLOSED'],
      [503, 'STORE_CLOSED'],
    ]);

    const checker = new OpenApiChecker(doc);
    expect(log.flatMap((ex) => checker.check(ex))).toEqual([]);
    for (const op of ['renderProfile', 'checkpointProfile', 'listConflicts', 'resolveConflict', 'getDamage', 'getCluster', 'runSync', 'addPeer', 'removePeer', 'clearCaches', 'exportProfileLog', 'importProfileLog', 'createBackup', 'getMetrics', 'getOpenApiDocument']) {
      expect(checker.seen, op).toContain(op);
    }
    // the statuses the document promises were seen for these routes (the checker found each documented)
    const statuses = (path: RegExp, method: string) => new Set(log.filter((x) => x.method === method && path.test(new URL(x.url).pathname)).map((x) => x.status));
    expect([...statuses(/\/render$/, 'POST')].sort()).toEqual([200, 404, 410, 422, 503]);
    expect([...statuses(/\/resolve$/, 'POST')].sort()).toEqual([200, 404, 409]);
    expect(statuses(/\/labels\/prod$/, 'DELETE')).toEqual(new Set([204]));
  });
});
