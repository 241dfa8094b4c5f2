/**
 * The SDK and the node's OpenAPI document agree: every request the SDK sends (reads by id,
 * label and version, revalidation, the change feed) and every answer it gets (views, 304s,
 * errors, SSE change events) is checked against /openapi.json with Ajv, on a real node. The
 * admin calls the test makes go through the same checker, so the document's shapes for writes,
 * tokens, caches, history and audit are checked against real answers too.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '@profilesync/client';
import { ADMIN, profile, startNode, until, type TestNode } from './node.js';
import { OpenApiChecker, recordingFetch, type Exchange } from './openapi.js';

let node: TestNode;
let doc: any;
beforeAll(async () => {
  node = await startNode();
  doc = await (await fetch(`${node.url}/openapi.json`)).json();
});
afterAll(async () => {
  await node?.destroy();
});

describe('OpenAPI document', () => {
  it('names every operation, types its parameters and bodies, and lists servers', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.servers.length).toBeGreaterThan(0);
    const ids: string[] = [];
    const loose: string[] = [];
    const walk = (v: unknown, at: string): void => {
      if (Array.isArray(v)) return v.forEach((x, i) => walk(x, `${at}[${i}]`));
      if (typeof v !== 'object' || v === null) return;
      const o = v as Record<string, unknown>;
      if (o.additionalProperties === true) loose.push(`${at}: additionalProperties: true`);
      if (o.type === 'object' && o.properties === undefined && o.additionalProperties === undefined && o.allOf === undefined) loose.push(`${at}: an object schema without properties`);
      for (const [k, x] of Object.entries(o)) walk(x, `${at}.${k}`);
    };
    for (const [path, ops] of Object.entries<any>(doc.paths)) {
      for (const [method, op] of Object.entries<any>(ops)) {
        ids.push(op.operationId);
        expect(op.operationId, `${method} ${path}`).toMatch(/^[a-z][A-Za-z]+$/);
        for (const p of op.parameters ?? []) expect(p.schema, `${method} ${path} ${p.name}`).toBeTypeOf('object');
        for (const [status, r] of Object.entries<any>(op.responses)) {
          if (status === '204' || status === '304') continue;
          expect(r.content, `${method} ${path} ${status} has no content type`).toBeTypeOf('object');
        }
        walk(op, `${method} ${path}`);
      }
    }
    walk(doc.components.schemas, 'components.schemas');
    expect(new Set(ids).size).toBe(ids.length);
    expect(loose).toEqual([]);
  });

  it('the SDK\'s requests and the node\'s answers conform to it', async () => {
    const log: Exchange[] = [];
    const rec = recordingFetch(log);
    const adminCall = async (method: string, path: string, body?: unknown, opts: { invalid?: boolean } = {}) => {
      const res = await rec(node.url + path, {
        method,
        headers: { authorization: `Bearer ${ADMIN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      if (opts.invalid) log[log.length - 1]!.invalid = true;
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    };

    const v1 = (await adminCall('POST', '/api/profiles', profile('oa', { meta: { tags: ['x'], owner: 'ops' }, description: 'd' }))).body.version;
    await adminCall('PUT', '/api/profiles/oa/labels/production', { version: v1 });
    const ps = createClient({ url: node.url, token: ADMIN, live: true, ttlMs: 60_000, fetch: rec });
    let now = Date.now();
    const clocked = createClient({ url: node.url, token: ADMIN, fetch: rec, ttlMs: 1000, clock: () => now });
    await ps.ready();
    await ps.get('oa');
    await ps.get('oa', { label: 'production' });
    await ps.get('oa', { version: v1 });
    await ps.get('oa', { version: '@1' }).catch(() => undefined); // @N refs (profile model v2): an answer either way
    await expect(ps.get('missing')).rejects.toMatchObject({ code: 'PROFILE_NOT_FOUND' });
    await expect(ps.get('oa', { label: 'nope' })).rejects.toMatchObject({ code: 'LABEL_NOT_FOUND' });
    await clocked.get('oa');
    now += 5000;
    await clocked.get('oa'); // stale: revalidated with If-None-Match -> 304
    await until(() => clocked.stats().notModified === 1, '304');
    const edited = await adminCall('PATCH', '/api/profiles/oa', { systemMessage: 'Edited {{product}}.' });
    await until(async () => (await ps.get('oa')).version === edited.body.version, 'live edit');
    await adminCall('DELETE', '/api/profiles/oa/labels/production');
    await adminCall('POST', '/api/profiles', profile('oa2'));
    await adminCall('DELETE', '/api/profiles/oa2');
    await until(() => ps.stats().live.changes >= 4, 'change events');
    await ps.close();
    await clocked.close();

    // the rest of the API, as a client of the document would use it
    await adminCall('GET', '/api/profiles');
    await adminCall('GET', '/api/profiles?limit=1&sort=updated&q=profile');
    await adminCall('GET', '/api/profiles/oa/history');
    await adminCall('GET', `/api/profiles/oa/diff?from=${encodeURIComponent(v1)}&to=${encodeURIComponent(edited.body.version)}`);
    await adminCall('POST', '/api/profiles/oa/revert', { version: v1 });
    // bad requests on purpose: their error answers must still match the document
    await adminCall('PATCH', '/api/profiles/oa', { temperature: 1 }, { invalid: true });
    await adminCall('GET', '/api/profiles/oa2');
    await adminCall('POST', '/api/profiles', { name: 'no model' }, { invalid: true });
    const tok = await adminCall('POST', '/api/tokens', { name: 'oa-viewer', role: 'viewer', profiles: ['oa*'] });
    await adminCall('GET', '/api/tokens');
    await adminCall('PATCH', `/api/tokens/${tok.body.id}`, { role: 'editor' });
    await adminCall('DELETE', `/api/tokens/${tok.body.id}`);
    await adminCall('GET', '/api/session');
    await adminCall('GET', '/api/audit?limit=5');
    await adminCall('GET', '/api/cache/stats');
    await adminCall('POST', '/api/cache/clear/profiles');
    await adminCall('POST', '/api/cache/clear/nope');
    await adminCall('GET', '/api/peers');
    await adminCall('GET', '/healthz');
    await adminCall('GET', '/readyz');
    await adminCall('GET', '/api/changes?bogus=1', undefined, { invalid: true });
    // webhooks: the admin routes, and a real delivery's body against WebhookPayload
    const bodies: string[] = [];
    const receiver = createServer((req, res) => {
      let raw = '';
      req.on('data', (c) => (raw += c));
      req.on('end', () => {
        bodies.push(raw);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const hook = await adminCall('POST', '/api/webhooks', { url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/h`, events: ['profile.updated'], name: 'oa' });
    await adminCall('PATCH', '/api/profiles/oa', { name: 'hooked' });
    await until(() => bodies.length === 1, 'a webhook delivery');
    await adminCall('GET', '/api/webhooks');
    await adminCall('GET', `/api/webhooks/${hook.body.id}`);
    await adminCall('GET', `/api/webhooks/${hook.body.id}/deliveries?limit=5`);
    await adminCall('POST', '/api/webhooks', { url: 'ftp://x' }, { invalid: true });
    await adminCall('DELETE', `/api/webhooks/${hook.body.id}`);
    await adminCall('GET', `/api/webhooks/${hook.body.id}`);
    receiver.closeAllConnections();
    await new Promise((r) => receiver.close(r));

    const checker = new OpenApiChecker(doc);
    const problems = [...log.flatMap((ex) => checker.check(ex)), ...checker.checkComponent('WebhookPayload', JSON.parse(bodies[0]!))];
    expect(problems).toEqual([]);
    const sdkOps = ['getProfile', 'streamChanges'];
    for (const id of sdkOps) expect(checker.seen).toContain(id);
    expect(log.filter((x) => x.url.includes('/api/changes') && x.status === 200).flatMap((x) => x.events.filter((e) => e.event === 'change')).length).toBeGreaterThanOrEqual(4);
    expect(log.some((x) => x.status === 304)).toBe(true);
    expect(checker.seen.size).toBeGreaterThanOrEqual(20);
  });
});
