/**
 * A profile-scoped admin grants only within its scope (issue 11.6). The attack from the issue
 * first: an admin token limited to `alpha-*` minting an unrestricted admin, listing every token
 * and reading every audit record. Then what it may still do: manage tokens inside its scope
 * (also on live sockets), read the audit of its profiles; and what needs an unrestricted admin:
 * peers, sync, tokens outside the scope.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http, profileInput, startTestServer, type TestServer } from './helpers.js';
import { RawYjsClient } from './live-client.js';

let t: TestServer;
let scoped: { id: string; token: string };
let beta: { id: string; token: string };

const as = (token: string) => ({
  get: (path: string) => http(t.url, 'GET', path, { token }),
  post: (path: string, body?: unknown) => http(t.url, 'POST', path, { token, ...(body !== undefined ? { body } : {}) }),
  patch: (path: string, body: unknown) => http(t.url, 'PATCH', path, { token, body }),
  del: (path: string) => http(t.url, 'DELETE', path, { token }),
});

beforeAll(async () => {
  t = await startTestServer();
  for (const id of ['alpha-1', 'alpha-2', 'beta-1']) expect((await http(t.url, 'POST', '/api/profiles', { body: profileInput(id) })).status).toBe(201);
  scoped = (await http(t.url, 'POST', '/api/tokens', { body: { role: 'admin', name: 'alpha admin', profiles: ['alpha-*'] } })).body;
  beta = (await http(t.url, 'POST', '/api/tokens', { body: { role: 'editor', name: 'beta editor', profiles: ['beta-*'] } })).body;
});
afterAll(async () => {
  await t.stop();
});

describe('a scoped admin cannot reach beyond its scope', () => {
  it('cannot mint an unrestricted or broader token (403 AUTH_FORBIDDEN, audited, nothing created)', async () => {
    const a = as(scoped.token);
    const before = (await http(t.url, 'GET', '/api/tokens')).body.tokens.length;
    for (const body of [
      { role: 'admin', name: 'root2' },
      { role: 'viewer', name: 'all', profiles: null },
      { role: 'editor', name: 'b', profiles: ['beta-*'] },
      { role: 'editor', name: 'wider', profiles: ['alpha*'] },
      { role: 'editor', name: 'mixed', profiles: ['alpha-1', 'beta-1'] },
      { role: 'editor', name: 'star', profiles: ['*'] },
      { role: 'editor', name: 'q', profiles: ['?lpha-1'] },
    ]) {
      const r = await a.post('/api/tokens', body);
      expect([body.name, r.status, r.body.error?.code, r.body.error?.details?.reason]).toEqual([body.name, 403, 'AUTH_FORBIDDEN', 'scope']);
    }
    expect((await http(t.url, 'GET', '/api/tokens')).body.tokens.length).toBe(before);
    const denied = (await http(t.url, 'GET', '/api/audit?action=auth.denied')).body.records.filter((r: any) => r.details?.reason === 'scope');
    expect(denied.length).toBeGreaterThanOrEqual(7);
    expect(denied[0]).toMatchObject({ actor: 'alpha admin', origin: `api:${scoped.id}`, outcome: 'denied' });
  });

  it('can grant within its scope (narrower globs, its own glob, the same role)', async () => {
    const a = as(scoped.token);
    for (const profiles of [['alpha-1'], ['alpha-?'], ['alpha-*'], ['alpha-x*', 'alpha-1']]) {
      const r = await a.post('/api/tokens', { role: 'admin', name: 'sub', profiles });
      expect([profiles, r.status, r.body.profiles]).toEqual([profiles, 201, profiles]);
    }
  });

  it('lists only tokens within its scope', async () => {
    const listed = (await as(scoped.token).get('/api/tokens')).body.tokens as { id: string; profiles: string[] | null }[];
    expect(listed.map((x) => x.id)).toContain(scoped.id);
    expect(listed.every((x) => x.profiles !== null && x.profiles.every((g) => g.startsWith('alpha-')))).toBe(true);
    expect(listed.map((x) => x.id)).not.toContain(beta.id);
    const all = (await http(t.url, 'GET', '/api/tokens')).body.tokens.length;
    expect(listed.length).toBeLessThan(all);
  });

  it('cannot revoke or change tokens outside its scope; the root admin can', async () => {
    const a = as(scoped.token);
    const root = (await http(t.url, 'GET', '/api/tokens')).body.tokens.find((x: any) => x.profiles === null && x.role === 'admin');
    for (const id of [root.id, beta.id]) {
      const del = await a.del(`/api/tokens/${id}`);
      expect([del.status, del.body.error.code]).toEqual([403, 'AUTH_FORBIDDEN']);
      const patch = await a.patch(`/api/tokens/${id}`, { role: 'viewer' });
      expect([patch.status, patch.body.error.code]).toEqual([403, 'AUTH_FORBIDDEN']);
    }
    expect((await http(t.url, 'GET', '/api/profiles', { token: beta.token })).status).toBe(200);
    // widening a token of its own scope is refused too
    const sub = (await a.post('/api/tokens', { role: 'viewer', name: 'sub2', profiles: ['alpha-2'] })).body;
    const widen = await a.patch(`/api/tokens/${sub.id}`, { profiles: null });
    expect([widen.status, widen.body.error.details?.reason]).toEqual([403, 'scope']);
    expect((await a.patch(`/api/tokens/${sub.id}`, { role: 'editor' })).body).toMatchObject({ id: sub.id, role: 'editor', profiles: ['alpha-2'] });
    expect((await a.del(`/api/tokens/${sub.id}`)).status).toBe(204);
    expect((await a.del('/api/tokens/0123456789abcdef')).body.error.code).toBe('TOKEN_NOT_FOUND');
  });

  it('reads only the audit records of its profiles', async () => {
    expect((await http(t.url, 'PATCH', '/api/profiles/beta-1', { body: { name: 'beta changed' } })).status).toBe(200);
    const mine = (await as(scoped.token).get('/api/audit?limit=1000')).body.records as { profile?: string; action: string }[];
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.every((r) => r.profile !== undefined && r.profile.startsWith('alpha-'))).toBe(true);
    const everything = (await http(t.url, 'GET', '/api/audit?limit=1000')).body.records as { profile?: string; action: string }[];
    expect(everything.some((r) => r.profile === 'beta-1')).toBe(true);
    expect(everything.some((r) => r.action === 'token.create')).toBe(true);
    const other = await as(scoped.token).get('/api/audit?profile=beta-1');
    expect([other.status, other.body.error.code]).toEqual([403, 'AUTH_FORBIDDEN']);
    expect((await as(scoped.token).get('/api/audit?profile=alpha-1')).body.records.length).toBeGreaterThan(0);
  });

  it('has no node-wide powers: peers and sync need an unrestricted admin', async () => {
    const a = as(scoped.token);
    for (const r of [await a.get('/api/peers'), await a.post('/api/peers', { url: 'ws://127.0.0.1:1/sync', key: 'x'.repeat(43) }), await a.post('/api/sync', {})]) {
      expect([r.status, r.body.error.code, r.body.error.details?.reason]).toEqual([403, 'AUTH_FORBIDDEN', 'scope']);
    }
    expect((await http(t.url, 'GET', '/api/peers')).status).toBe(200);
  });

  it('revoking a token of its scope closes that token\'s live socket; a socket outside its grants never opens', async () => {
    const a = as(scoped.token);
    const ed = (await a.post('/api/tokens', { role: 'editor', name: 'alpha ed', profiles: ['alpha-1'] })).body;
    const c = await RawYjsClient.connect(t.url, 'alpha-1', ed.token);
    expect((await a.del(`/api/tokens/${ed.id}`)).status).toBe(204);
    expect(await c.closed).toMatchObject({ code: 4401, reason: 'AUTH_UNAUTHORIZED' });
    const outside = new RawYjsClient(`${t.url.replace(/^http/, 'ws')}/yjs/beta-1?token=${scoped.token}`);
    await outside.opened;
    expect(await outside.closed).toMatchObject({ code: 4403, reason: 'AUTH_FORBIDDEN' });
  });

  it('the last unrestricted admin cannot be revoked, restricted or demoted (409 TOKEN_LAST_ADMIN)', async () => {
    const root = (await http(t.url, 'GET', '/api/tokens')).body.tokens.find((x: any) => x.profiles === null && x.role === 'admin');
    for (const r of [
      await http(t.url, 'DELETE', `/api/tokens/${root.id}`),
      await http(t.url, 'PATCH', `/api/tokens/${root.id}`, { body: { profiles: ['alpha-*'] } }),
      await http(t.url, 'PATCH', `/api/tokens/${root.id}`, { body: { role: 'editor' } }),
    ]) {
      expect([r.status, r.body.error.code]).toEqual([409, 'TOKEN_LAST_ADMIN']);
    }
    const bad = await http(t.url, 'PATCH', `/api/tokens/${root.id}`, { body: {} });
    expect([bad.status, bad.body.error.code]).toEqual([400, 'REQUEST_INVALID']);
  });
});
