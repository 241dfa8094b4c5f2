/**
 * Every route over real HTTP on 127.0.0.1 (a listening socket, fetch): success, validation
 * failure, 401, 403, 404, label errors, history/diff/revert round trip, tokens, caches,
 * metrics, OpenAPI coverage.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, http, profileInput, startTestServer, tokenSecret, type TestServer } from './helpers.js';

let t: TestServer;
const req = <T = any>(method: string, path: string, opts: Parameters<typeof http>[3] = {}) => http<T>(t.url, method, path, opts);

beforeAll(async () => {
  // sync: false pins the node-without-sync contract (503 SYNC_UNAVAILABLE); sync-mount.test.ts covers the default mount
  t = await startTestServer({}, { sync: false });
});
afterAll(async () => {
  await t?.stop();
});

async function denialsSince(count: number): Promise<any[]> {
  const r = await req('GET', '/api/audit', { headers: {} });
  return r.body.records.filter((x: any) => x.action === 'auth.denied').slice(0, count);
}

describe('system routes', () => {
  it('healthz needs no token and says little', async () => {
    const r = await req('GET', '/healthz', { token: null });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ status: 'ok' });
  });

  it('echoes a valid x-request-id and makes one otherwise', async () => {
    const a = await req('GET', '/healthz', { token: null, headers: { 'x-request-id': 'abc-123' } });
    expect(a.headers.get('x-request-id')).toBe('abc-123');
    const b = await req('GET', '/healthz', { token: null, headers: { 'x-request-id': 'bad id\twith junk' } });
    expect(b.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('serves an OpenAPI document listing every route, and nothing else', async () => {
    const r = await req('GET', '/openapi.json', { token: null });
    expect(r.status).toBe(200);
    const doc = r.body;
    const documented = new Set<string>();
    for (const [path, ops] of Object.entries<any>(doc.paths)) for (const m of Object.keys(ops)) documented.add(`${m.toUpperCase()} ${path}`);
    const served = new Set(t.server.routes.map((x) => `${x.method} ${x.url.replace(/:([A-Za-z]+)/g, '{$1}')}`));
    expect([...served].sort()).toEqual([...documented].sort());
    // every operation documents the error body for the statuses it does not list (503s any
    // route can answer while the node starts or its store fails, 500 INTERNAL)
    const withoutDefault: string[] = [];
    for (const [path, ops] of Object.entries<any>(doc.paths)) {
      for (const [m, o] of Object.entries<any>(ops)) {
        if (o.responses?.default?.content?.['application/json']?.schema?.$ref !== '#/components/schemas/Error') withoutDefault.push(`${m.toUpperCase()} ${path}`);
      }
    }
    expect(withoutDefault).toEqual([]);
  });

  it('unknown routes are 404 ROUTE_NOT_FOUND', async () => {
    const r = await req('GET', '/api/nope');
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('ROUTE_NOT_FOUND');
  });

  it('metrics are open on a loopback bind and carry request, cache and log series', async () => {
    await req('GET', '/api/profiles');
    const r = await req('GET', '/metrics', { token: null });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('text/plain');
    expect(r.text).toContain('profilesync_http_request_duration_seconds_bucket{');
    expect(r.text).toContain('route="/api/profiles"');
    expect(r.text).toMatch(/profilesync_cache_hits_total\{cache="[^"]+"\}/);
    expect(r.text).toContain('profilesync_log_appends_total');
    // the log's own faults, each kind present from the start (0 until it happens)
    for (const kind of ['seal-failed', 'reopened', 'corruption', 'snapshot-thread-failed']) expect(r.text).toContain(`profilesync_log_faults_total{kind="${kind}"} 0`);
    expect(r.text).toContain('profilesync_process_cpu_seconds_total');
  });
});

describe('authentication and authorization', () => {
  it('401 without a token or with a bad one, both audited', async () => {
    const a = await req('GET', '/api/profiles', { token: null });
    expect(a.status).toBe(401);
    expect(a.body.error.code).toBe('AUTH_UNAUTHORIZED');
    const b = await req('GET', '/api/profiles', { token: 'ps_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' });
    expect(b.status).toBe(401);
    const c = await req('GET', '/api/profiles', { headers: { authorization: 'Basic Zm9vOmJhcg==' }, token: null });
    expect(c.status).toBe(401);
    const denied = await denialsSince(3);
    // HEAD routes (exposed for every GET) enforce the same access rules
    expect((await req('HEAD', '/api/tokens', { token: null })).status).toBe(401);
    expect(denied.map((d) => d.details.reason)).toEqual(['missing-token', 'bad-token', 'missing-token']);
    expect(denied.every((d) => d.outcome === 'denied')).toBe(true);
  });

  it('roles: viewer reads, editor writes, only admin manages tokens; 403 audited', async () => {
    await req('POST', '/api/profiles', { body: profileInput('roles-1') });
    const viewer = (await req('POST', '/api/tokens', { body: { name: 'v', role: 'viewer' } })).body.token as string;
    const editor = (await req('POST', '/api/tokens', { body: { name: 'e', role: 'editor' } })).body.token as string;
    expect((await req('GET', '/api/profiles/roles-1', { token: viewer })).status).toBe(200);
    const vPatch = await req('PATCH', '/api/profiles/roles-1', { token: viewer, body: { name: 'x' } });
    expect(vPatch.status).toBe(403);
    expect(vPatch.body.error.code).toBe('AUTH_FORBIDDEN');
    expect((await req('PATCH', '/api/profiles/roles-1', { token: editor, body: { name: 'by editor' } })).status).toBe(200);
    expect((await req('GET', '/api/tokens', { token: editor })).status).toBe(403);
    expect((await req('GET', '/api/audit', { token: editor })).status).toBe(403);
    expect((await req('POST', '/api/cache/clear', { token: viewer })).status).toBe(403);
    const [last] = await denialsSince(1);
    expect(last).toMatchObject({ actor: 'v', details: { reason: 'role' } });
    const edit = await req('GET', '/api/profiles/roles-1/history');
    expect(edit.body.versions[0]).toMatchObject({ actor: 'e' });
  });

  it('per-profile grants: globs on ids, list filtered, create needs a granted id', async () => {
    await req('POST', '/api/profiles', { body: profileInput('team-a-one') });
    await req('POST', '/api/profiles', { body: profileInput('team-b-one') });
    const tok = (await req('POST', '/api/tokens', { body: { name: 'team-a', role: 'editor', profiles: ['team-a-*'] } })).body.token as string;
    expect((await req('PATCH', '/api/profiles/team-a-one', { token: tok, body: { name: 'ok' } })).status).toBe(200);
    const denied = await req('PATCH', '/api/profiles/team-b-one', { token: tok, body: { name: 'no' } });
    expect(denied.status).toBe(403);
    expect((await req('GET', '/api/profiles/team-b-one', { token: tok })).status).toBe(403);
    const list = await req('GET', '/api/profiles', { token: tok });
    expect(list.body.profiles.map((p: any) => p.id)).toEqual(['team-a-one']);
    const session = await req('GET', '/api/session', { token: tok });
    expect(session.body).toMatchObject({ name: 'team-a', role: 'editor', profiles: ['team-a-*'], actor: 'team-a' });
    expect((await req('GET', '/api/session')).body).toMatchObject({ role: 'admin', profiles: null });
    expect((await req('GET', '/api/session', { token: null })).status).toBe(401);
    expect((await req('POST', '/api/profiles', { token: tok, body: profileInput('team-a-two') })).status).toBe(201);
    expect((await req('POST', '/api/profiles', { token: tok, body: profileInput('team-c-two') })).status).toBe(403);
    const noId = profileInput('x') as Record<string, unknown>;
    delete noId.id;
    const idless = await req('POST', '/api/profiles', { token: tok, body: noId });
    expect(idless.status).toBe(403);
    expect(idless.body.error).toEqual({ code: 'AUTH_FORBIDDEN', message: 'a token restricted to some profiles must give the new profile an id', details: { reason: 'grant', field: 'id' } });
    // both refusals are audited (every 403 is), the newest first
    const [last, before] = await denialsSince(2);
    expect(last).toMatchObject({ actor: 'team-a', details: { reason: 'grant', field: 'id', method: 'POST', route: '/api/profiles' } });
    expect(last.profile).toBeUndefined();
    expect(before).toMatchObject({ profile: 'team-c-two', details: { reason: 'grant' } });
  });

  it('tokens: created once, listed without secrets, revoked -> 401; last admin protected', async () => {
    const created = await req('POST', '/api/tokens', { body: { name: 'temp', role: 'viewer' } });
    expect(created.status).toBe(201);
    expect(created.body.token).toMatch(/^ps_[0-9a-f]{16}_/);
    const list = await req('GET', '/api/tokens');
    const text = JSON.stringify(list.body);
    expect(text).not.toContain(tokenSecret(created.body.token));
    expect(text).not.toContain('"hash"');
    expect(list.body.tokens.find((x: any) => x.id === created.body.id)).toMatchObject({ name: 'temp', role: 'viewer', profiles: null });
    expect((await req('GET', '/api/profiles', { token: created.body.token })).status).toBe(200);
    expect((await req('DELETE', `/api/tokens/${created.body.id}`)).status).toBe(204);
    expect((await req('GET', '/api/profiles', { token: created.body.token })).status).toBe(401);
    expect((await req('DELETE', `/api/tokens/${created.body.id}`)).body.error.code).toBe('TOKEN_NOT_FOUND');
    const admins = list.body.tokens.filter((x: any) => x.role === 'admin');
    expect(admins).toHaveLength(1);
    const last = await req('DELETE', `/api/tokens/${admins[0].id}`);
    expect(last.status).toBe(409);
    expect(last.body.error.code).toBe('TOKEN_LAST_ADMIN');
    const audit = await req('GET', '/api/audit', { headers: {} });
    const actions = audit.body.records.map((r: any) => r.action);
    expect(actions).toContain('token.create');
    expect(actions).toContain('token.revoke');
  });

  it('token body validation names the field', async () => {
    const r = await req('POST', '/api/tokens', { body: { name: 'x', role: 'root' } });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'REQUEST_INVALID', details: { field: 'role' } });
    const g = await req('POST', '/api/tokens', { body: { name: 'x', role: 'viewer', profiles: ['a/b'] } });
    expect(g.body.error.details.field).toBe('profiles.0');
  });
});

describe('profiles', () => {
  it('create -> 201 with Location; get; list; duplicate -> 409', async () => {
    const r = await req('POST', '/api/profiles', { body: profileInput('p1') });
    expect(r.status).toBe(201);
    expect(r.headers.get('location')).toBe('/api/profiles/p1');
    expect(r.body).toMatchObject({ id: 'p1', modelId: 'gpt-4o', templates: { greet: 'Hello {{name}}' }, parameters: { temperature: 0.7 }, updatedBy: 'admin' });
    expect(typeof r.body.version).toBe('string');
    const g = await req('GET', '/api/profiles/p1');
    expect(g.status).toBe(200);
    expect(g.body).toEqual(r.body);
    const etag = g.headers.get('etag')!;
    const again = await req('GET', '/api/profiles/p1', { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    const list = await req('GET', '/api/profiles');
    expect(list.body.profiles.find((p: any) => p.id === 'p1')).toMatchObject({ id: 'p1', modelId: 'gpt-4o', version: r.body.version });
    const dup = await req('POST', '/api/profiles', { body: profileInput('p1') });
    expect(dup.status).toBe(409);
    expect(dup.body.error.code).toBe('PROFILE_EXISTS');
  });

  it('create without id generates one', async () => {
    const body = profileInput('ignored') as Record<string, unknown>;
    delete body.id;
    const r = await req('POST', '/api/profiles', { body });
    expect(r.status).toBe(201);
    expect(r.body.id).toMatch(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/);
  });

  it('validation: shape -> 400 REQUEST_INVALID naming the field; content -> 422', async () => {
    const unknown = await req('POST', '/api/profiles', { body: { ...profileInput('v1'), version: 'x' } });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toMatchObject({ code: 'REQUEST_INVALID', details: { field: 'version' } });
    const wrongType = await req('POST', '/api/profiles', { body: { ...profileInput('v1'), name: 5 } });
    expect(wrongType.body.error.details.field).toBe('name');
    const hot = await req('POST', '/api/profiles', { body: profileInput('v1', { parameters: { temperature: 9 } }) });
    expect(hot.status).toBe(422);
    expect(hot.body.error.code).toBe('PROFILE_INVALID');
    // every mistake of one write at once (a new LLM config can have several), each with path, rule and message; nothing stored
    const many = await req('POST', '/api/profiles', {
      body: profileInput('v-many', {
        messages: [{ role: 'robot', content: 'Hi {{name}}' }],
        parameters: { temperature: 3, top_p: 5, tools: [{ type: 'function', function: { name: 'lookup', parameters: { type: 'objekt' } } }] },
      }),
    });
    expect([many.status, many.body.error.code, many.body.error.details.path]).toEqual([422, 'PROFILE_INVALID', 'messages.0.role']);
    expect(many.body.error.details.issues).toEqual([
      { path: 'messages.0.role', rule: 'invalid_value', message: 'must be one of system, developer, user, assistant' },
      { path: 'parameters.temperature', rule: 'too_big', message: 'must be <= 2' },
      { path: 'parameters.top_p', rule: 'too_big', message: 'must be <= 1' },
      { path: 'parameters.tools.0.function.parameters.type', rule: 'json-schema', message: expect.stringContaining('not a valid JSON Schema') },
    ]);
    expect((await req('GET', '/api/profiles/v-many')).status).toBe(404);
    const badId = await req('POST', '/api/profiles', { body: profileInput('../etc') });
    expect(badId.status).toBe(400);
    expect(badId.body.error.code).toBe('PROFILE_INVALID_ID');
    const badQuery = await req('GET', '/api/profiles?colour=red');
    expect(badQuery.body.error).toMatchObject({ code: 'REQUEST_INVALID', details: { field: 'colour', in: 'query' } });
    const both = await req('GET', '/api/profiles/p1?version=a&label=b');
    expect(both.status).toBe(400);
    // the message is a sentence about the field it names
    expect(both.body.error).toEqual({ code: 'REQUEST_INVALID', message: 'query parameter "label" must not be given together with "version" (give one of them)', details: { field: 'label', in: 'query' } });
    const bothRender = await req('POST', '/api/profiles/p1/render', { body: { version: '@1', label: 'b' } });
    expect(bothRender.body.error).toEqual({ code: 'REQUEST_INVALID', message: 'body field "label" must not be given together with "version" (give one of them)', details: { field: 'label', in: 'body' } });
    const badParam = await req('GET', `/api/profiles/${encodeURIComponent('bad id')}`);
    expect(badParam.body.error).toMatchObject({ code: 'REQUEST_INVALID', details: { field: 'id', in: 'params' } });
    expect((await req('GET', '/api/profiles/missing-one')).body.error.code).toBe('PROFILE_NOT_FOUND');
    expect((await req('GET', '/api/profiles/missing-one')).status).toBe(404);
  });

  it('PATCH merges: text fields character-merge, null removes a key, readonly fields refused', async () => {
    await req('POST', '/api/profiles', { body: profileInput('m1', { templates: { a: 'A', b: 'B' } }) });
    const r = await req('PATCH', '/api/profiles/m1', { body: { systemMessage: 'You are a very helpful assistant.', templates: { b: null, c: 'C' }, parameters: { top_p: 0.5 } } });
    expect(r.status).toBe(200);
    expect(r.body.templates).toEqual({ a: 'A', c: 'C' });
    expect(r.body.parameters).toMatchObject({ temperature: 0.7, top_p: 0.5 });
    expect(r.body.systemMessage).toBe('You are a very helpful assistant.');
    const mp = await req('PATCH', '/api/profiles/m1', { body: { name: 'merge-patch type' }, type: 'application/merge-patch+json' });
    expect(mp.status).toBe(200);
    // another type: the answer names both types a PATCH takes
    const text = await req('PATCH', '/api/profiles/m1', { raw: '{"name":"x"}', type: 'text/plain' });
    expect([text.status, text.body.error.code]).toEqual([415, 'REQUEST_UNSUPPORTED_MEDIA_TYPE']);
    expect(text.body.error.message).toBe('unsupported content type; send application/json (or application/merge-patch+json)');
    const ro = await req('PATCH', '/api/profiles/m1', { body: { version: 'v1.x' } });
    expect(ro.status).toBe(422);
    expect(ro.body.error.code).toBe('PROFILE_READONLY_FIELD');
    const proto = await req('PATCH', '/api/profiles/m1', { raw: '{"__proto__":{"polluted":true}}', type: 'application/json' });
    expect(proto.status).toBe(400);
    expect(proto.body.error.code).toBe('REQUEST_MALFORMED_JSON');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const arr = await req('PATCH', '/api/profiles/m1', { body: [1, 2] });
    expect(arr.status).toBe(400);
    expect(arr.body.error.code).toBe('REQUEST_INVALID');
    expect((await req('PATCH', '/api/profiles/nobody', { body: { name: 'x' } })).status).toBe(404);
  });

  it('history / diff / revert round trip', async () => {
    const v1 = (await req('POST', '/api/profiles', { body: profileInput('h1') })).body;
    const v2 = (await req('PATCH', '/api/profiles/h1', { body: { parameters: { temperature: 1.1 } } })).body;
    const v3 = (await req('PATCH', '/api/profiles/h1', { body: { systemMessage: 'Be terse.' } })).body;
    const raw = await req('GET', '/api/profiles/h1/history?entries=raw');
    expect(raw.status).toBe(200);
    expect(raw.body.entries.map((v: any) => v.version)).toEqual([v3.version, v2.version, v1.version]);
    expect(raw.body.entries[0]).toMatchObject({ seq: 3, actor: 'admin' });
    expect(raw.body.entries[0].summary).toContain('systemMessage');
    // versions: the create, then admin's two patches as one open run
    const hist = await req('GET', '/api/profiles/h1/history');
    expect(hist.body.versions.map((v: any) => [v.ref, v.version, v.open ?? false])).toEqual([
      ['@2', v3.version, true],
      ['@1', v1.version, false],
    ]);
    expect(hist.body.versions[0].fields).toEqual(['parameters.temperature', 'systemMessage']);
    const limited = await req('GET', '/api/profiles/h1/history?limit=1');
    expect(limited.body.versions).toHaveLength(1);
    const past = await req('GET', `/api/profiles/h1?version=${encodeURIComponent(v1.version)}`);
    expect(past.body.parameters.temperature).toBe(0.7);
    expect((await req('GET', '/api/profiles/h1?version=@1')).body.version).toBe(v1.version);
    expect((await req('GET', '/api/profiles/h1?version=@2')).body.systemMessage).toBe('Be terse.');
    expect((await req('GET', '/api/profiles/h1?version=@9')).body.error.code).toBe('PROFILE_VERSION_UNAVAILABLE');
    const d = await req('GET', `/api/profiles/h1/diff?from=${encodeURIComponent(v1.version)}&to=${encodeURIComponent(v3.version)}`);
    expect(d.status).toBe(200);
    expect(d.body.changes.map((c: any) => c.path).sort()).toEqual(['parameters.temperature', 'systemMessage']);
    const rev = await req('POST', '/api/profiles/h1/revert', { body: { version: v1.version } });
    expect(rev.status).toBe(200);
    expect(rev.body.version).not.toBe(v3.version);
    expect(rev.body.systemMessage).toBe(v1.systemMessage);
    expect(rev.body.parameters).toEqual(v1.parameters);
    const none = await req('GET', `/api/profiles/h1/diff?from=${encodeURIComponent(v1.version)}&to=${encodeURIComponent(rev.body.version)}`);
    expect(none.body.changes).toEqual([]);
    // the run closed before the revert; the revert is a version of its own
    expect((await req('GET', '/api/profiles/h1/history')).body.versions.map((v: any) => v.reason)).toEqual(['revert', 'idle', 'create']);
    expect((await req('GET', '/api/profiles/h1/diff?from=@1&to=@2')).body.changes.map((c: any) => c.path)).toEqual(['parameters.temperature', 'systemMessage']);
    const missing = await req('GET', '/api/profiles/h1/diff?from=x');
    expect(missing.body.error).toMatchObject({ code: 'REQUEST_INVALID', details: { field: 'to' } });
    const bad = await req('POST', '/api/profiles/h1/revert', { body: { version: 'not a ref' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('PROFILE_BAD_VERSION');
  });

  it('labels: set, read by label, move, remove; unknown and reserved labels', async () => {
    const v1 = (await req('POST', '/api/profiles', { body: profileInput('l1') })).body;
    const v2 = (await req('PATCH', '/api/profiles/l1', { body: { name: 'second' } })).body;
    const set = await req('PUT', '/api/profiles/l1/labels/production', { body: { version: v1.version } });
    expect(set.status).toBe(200);
    expect(set.body.labels.production).toBe(v1.version);
    const byLabel = await req('GET', '/api/profiles/l1?label=production');
    expect(byLabel.body.name).toBe(v1.name);
    await req('PUT', '/api/profiles/l1/labels/production', { body: { version: v2.version } });
    expect((await req('GET', '/api/profiles/l1?label=production')).body.name).toBe('second');
    const list = await req('GET', '/api/profiles?label=production');
    expect(list.body.profiles.map((p: any) => p.id)).toContain('l1');
    const unknown = await req('GET', '/api/profiles/l1?label=staging');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('LABEL_NOT_FOUND');
    const reserved = await req('PUT', '/api/profiles/l1/labels/latest', { body: { version: v1.version } });
    expect(reserved.status).toBe(400);
    expect(reserved.body.error.code).toBe('LABEL_INVALID');
    const badRef = await req('PUT', '/api/profiles/l1/labels/canary', { body: { version: 'garbage!' } });
    expect(badRef.body.error.code).toBe('PROFILE_BAD_VERSION');
    const removed = await req('DELETE', '/api/profiles/l1/labels/production');
    expect(removed.status).toBe(204);
    expect((await req('GET', '/api/profiles/l1')).body.labels.production).toBeUndefined();
    expect((await req('DELETE', '/api/profiles/l1/labels/production')).body.error.code).toBe('LABEL_NOT_FOUND');
  });

  it('delete tombstones: 204, then 410, hidden from the list, history stays', async () => {
    await req('POST', '/api/profiles', { body: profileInput('d1') });
    expect((await req('DELETE', '/api/profiles/d1')).status).toBe(204);
    const g = await req('GET', '/api/profiles/d1');
    expect(g.status).toBe(410);
    expect(g.body.error.code).toBe('PROFILE_DELETED');
    expect((await req('GET', '/api/profiles')).body.profiles.map((p: any) => p.id)).not.toContain('d1');
    expect((await req('GET', '/api/profiles?includeDeleted=true')).body.profiles.map((p: any) => p.id)).toContain('d1');
    expect((await req('GET', '/api/profiles/d1/history')).body.versions.length).toBeGreaterThanOrEqual(2);
  });

  it("a deleted profile's labels serve nothing (410 like its current view); its versions, history, diff and log stay readable", async () => {
    const created = (await req('POST', '/api/profiles', { body: { ...profileInput('d2'), systemMessage: 'Hello {{who}}.' } })).body;
    expect((await req('PUT', '/api/profiles/d2/labels/production', { body: { version: created.version } })).status).toBe(200);
    expect((await req('DELETE', '/api/profiles/d2')).status).toBe(204);
    const gone = async (method: string, path: string, body?: unknown) => {
      const r = await req(method, path, body === undefined ? {} : { body });
      return [r.status, r.body?.error?.code];
    };
    // serving pointers: a label (as ?label= or as a ref), latest; reads and renders
    expect(await gone('GET', '/api/profiles/d2?label=production')).toEqual([410, 'PROFILE_DELETED']);
    expect(await gone('GET', '/api/profiles/d2?label=latest')).toEqual([410, 'PROFILE_DELETED']);
    expect(await gone('GET', '/api/profiles/d2?version=production')).toEqual([410, 'PROFILE_DELETED']);
    expect(await gone('GET', '/api/profiles/d2?version=latest')).toEqual([410, 'PROFILE_DELETED']);
    expect(await gone('GET', '/api/profiles/d2?label=staging')).toEqual([410, 'PROFILE_DELETED']);
    expect(await gone('POST', '/api/profiles/d2/render', { label: 'production', variables: { who: 'Ada' } })).toEqual([410, 'PROFILE_DELETED']);
    expect(await gone('POST', '/api/profiles/d2/render', { version: 'production', variables: { who: 'Ada' } })).toEqual([410, 'PROFILE_DELETED']);
    // history stays: explicit versions, the history, a diff (labels as refs too), the raw log
    const at1 = await req('GET', '/api/profiles/d2?version=@1');
    expect([at1.status, at1.body.systemMessage, at1.body.deleted]).toEqual([200, 'Hello {{who}}.', false]);
    expect((await req('GET', `/api/profiles/d2?version=${encodeURIComponent(created.version)}`)).body.version).toBe(created.version);
    expect((await req('POST', '/api/profiles/d2/render', { body: { version: '@1', variables: { who: 'Ada' } } })).body.messages[0].content).toBe('Hello Ada.');
    expect((await req('GET', '/api/profiles/d2/history')).body.versions.length).toBeGreaterThanOrEqual(2);
    const diff = await req('GET', '/api/profiles/d2/diff?from=production&to=latest');
    expect(diff.status).toBe(200);
    expect(diff.body.changes.map((c: any) => c.path)).toContain('deleted');
    expect((await req('GET', '/api/profiles/d2/log')).status).toBe(200);
  });
});

describe('audit, caches, peers, sync', () => {
  it('render: the prompt with variables, at a version or label, a named template; missing and unused variables; metrics', async () => {
    const body = { ...profileInput('rn1'), systemMessage: 'You help {{customer}}.', messages: [{ role: 'user', content: 'Order {{order}}?' }], templates: { follow: 'Ticket {{ticket}}' }, parameters: { temperature: 0.2, extra: { top_k: 5 } } };
    expect((await req('POST', '/api/profiles', { body })).status).toBe(201);
    const r = await req('POST', '/api/profiles/rn1/render', { body: { variables: { customer: 'Ada', order: 7, extra: 'x' } } });
    expect(r.status).toBe(200);
    expect(r.body.messages).toEqual([
      { role: 'system', content: 'You help Ada.' },
      { role: 'user', content: 'Order 7?' },
    ]);
    expect(r.body.warnings).toEqual([{ code: 'RENDER_UNUSED_VARIABLE', variable: 'extra' }]);
    expect(r.body.request).toEqual({ model: body.modelId, messages: r.body.messages, temperature: 0.2, top_k: 5 });
    const missing = await req('POST', '/api/profiles/rn1/render', { body: { variables: { customer: 'Ada' }, template: 'follow' } });
    expect(missing.status).toBe(422);
    expect(missing.body.error).toMatchObject({ code: 'PROFILE_RENDER_MISSING_VARIABLES', details: { missing: ['order', 'ticket'] } });
    // a typo'd parameter: 422 with the suggestion
    const typo = await req('PATCH', '/api/profiles/rn1', { body: { parameters: { temprature: 0.5 } } });
    expect(typo.status).toBe(422);
    expect(typo.body.error).toMatchObject({ code: 'PROFILE_INVALID', details: { path: 'parameters.temprature', rule: 'unknown-parameter', suggestion: "did you mean 'temperature'?" } });
    expect((await req('POST', '/api/profiles/rn1/render', { body: { variables: { a: { b: 1 } } } })).body.error).toMatchObject({ code: 'PROFILE_RENDER_INVALID', details: { variable: 'a' } });
    expect((await req('POST', '/api/profiles/rn1/render', { body: { template: 'nope', variables: { customer: 'a', order: 1 } } })).status).toBe(404);
    // at a version and a label
    await req('PATCH', '/api/profiles/rn1', { body: { systemMessage: 'Changed {{x}}' } });
    expect((await req('POST', '/api/profiles/rn1/render', { body: { version: '@1', variables: { customer: 'B', order: 1 } } })).body.messages[0].content).toBe('You help B.');
    await req('PUT', '/api/profiles/rn1/labels/production', { body: { version: '@1' } });
    expect((await req('POST', '/api/profiles/rn1/render', { body: { label: 'production', variables: { customer: 'C', order: 1 } } })).body.messages[0].content).toBe('You help C.');
    const m = (await req('GET', '/metrics')).text as string;
    expect(m).toMatch(/profilesync_render_total\{outcome="ok"\} [3-9]/);
    expect(m).toMatch(/profilesync_render_total\{outcome="missing"\} 1/);
    expect(m).toMatch(/profilesync_versions_closed_total\{reason="label"\} \d/);
  });

  it('audit filters by profile and action', async () => {
    await req('POST', '/api/profiles', { body: profileInput('a1') });
    await req('PATCH', '/api/profiles/a1', { body: { name: 'changed' } });
    await req('PATCH', '/api/profiles/a1', { body: { name: 'changed again' } });
    // the two patches are one version: a checkpoint closes it into one profile.edit record
    const cp = await req('POST', '/api/profiles/a1/versions', { body: { message: 'renamed' } });
    expect(cp.status).toBe(201);
    expect(cp.body).toMatchObject({ ref: '@2', seq: 2, reason: 'checkpoint', message: 'renamed', fields: ['name'], created: true });
    const again = await req('POST', '/api/profiles/a1/versions', { body: { message: 'nothing new' } });
    expect([again.status, again.body.ref, again.body.created]).toEqual([200, '@2', false]);
    const r = await req('GET', '/api/audit?profile=a1');
    expect(r.status).toBe(200);
    expect(r.body.records.map((x: any) => x.action)).toEqual(['profile.edit', 'profile.create']);
    expect(r.body.records[0]).toMatchObject({ fields: ['name'], details: { reason: 'checkpoint', message: 'renamed' } });
    expect(r.body.records.every((x: any) => x.profile === 'a1')).toBe(true);
    const denied = await req('GET', '/api/audit?action=auth.denied&limit=2');
    expect(denied.body.records.length).toBeLessThanOrEqual(2);
    expect(denied.body.records.every((x: any) => x.action === 'auth.denied')).toBe(true);
    expect((await req('GET', '/api/audit?limit=0')).status).toBe(400);
  });

  it('cache stats list every cache; clear one or all; unknown name -> 404', async () => {
    await req('GET', '/api/profiles/p1');
    await req('GET', '/api/profiles/p1');
    const s = await req('GET', '/api/cache/stats');
    expect(s.status).toBe(200);
    const names = s.body.caches.map((c: any) => c.name);
    expect(names).toContain('http-views');
    expect(names.length).toBeGreaterThanOrEqual(2);
    for (const c of s.body.caches) {
      expect(c).toEqual(expect.objectContaining({ name: expect.any(String), hits: expect.any(Number), misses: expect.any(Number), size: expect.any(Number), hit_rate: expect.any(Number), evictions: expect.any(Number) }));
      expect('ttl' in c).toBe(true);
    }
    const views = s.body.caches.find((c: any) => c.name === 'http-views');
    expect(views.hits).toBeGreaterThan(0);
    // live docs report the bytes of their Yjs state (each profile's update is hundreds of bytes), not 1 per doc
    const docs = s.body.caches.find((c: any) => c.name === 'docs');
    expect(docs.size).toBeGreaterThan(0);
    expect(docs.bytes).toBeGreaterThan(docs.size * 100);
    const one = await req('POST', '/api/cache/clear/http-views');
    expect(one.body).toEqual({ cleared: ['http-views'] });
    expect((await req('GET', '/api/cache/stats')).body.caches.find((c: any) => c.name === 'http-views').size).toBe(0);
    const all = await req('POST', '/api/cache/clear');
    expect(all.body.cleared).toEqual(expect.arrayContaining(names));
    // caches of the cache package registered in the node's registry are listed, cleared and exported
    const { MemoryCache } = await import('@profilesync/cache');
    const mem = new MemoryCache<string>({ maxEntries: 10 });
    const unregister = t.server.cacheRegistry.register('llm-responses', mem);
    await mem.set('k', 'v');
    await mem.get('k');
    await mem.get('missing');
    const withMem = (await req('GET', '/api/cache/stats')).body.caches.find((c: any) => c.name === 'llm-responses');
    expect(withMem).toMatchObject({ hits: 1, misses: 1, size: 1 });
    expect((await req('GET', '/metrics')).text).toContain('profilesync_cache_hits_total{cache="llm-responses"} 1');
    expect((await req('POST', '/api/cache/clear/llm-responses')).body).toEqual({ cleared: ['llm-responses'] });
    expect(await mem.get('k')).toBeUndefined();
    await mem.set('k2', 'v');
    expect((await req('POST', '/api/cache/clear')).body.cleared).toContain('llm-responses');
    expect(await mem.get('k2')).toBeUndefined();
    unregister();
    const unknown = await req('POST', '/api/cache/clear/nope');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('CACHE_NOT_FOUND');
    expect((await req('GET', '/api/profiles/p1')).status).toBe(200);
  });

  it('peers: add, list, duplicate, remove; sync unavailable until wired', async () => {
    const key = Buffer.alloc(32, 9).toString('base64url');
    const empty = await req('GET', '/api/peers');
    expect(empty.body).toEqual({ sync: 'unavailable', self: { publicKey: t.server.publicKey, fingerprint: t.server.fingerprint }, peers: [] });
    const add = await req('POST', '/api/peers', { body: { url: 'ws://127.0.0.1:9/sync', key } });
    expect(add.status).toBe(201);
    expect(add.body).toMatchObject({ url: 'ws://127.0.0.1:9/sync', key, source: 'added' });
    expect((await req('POST', '/api/peers', { body: { url: 'ws://127.0.0.1:9/sync', key } })).status).toBe(409);
    expect((await req('POST', '/api/peers', { body: { url: 'http://x', key } })).body.error.code).toBe('PEER_INVALID');
    // a request is no config file: the message names the field only (it said "peer.key (file): ...")
    expect((await req('POST', '/api/peers', { body: { url: 'ws://x/sync', key: 'nope' } })).body.error).toEqual({
      code: 'PEER_INVALID',
      message: 'peer.key: must be a base64url Ed25519 public key (43 characters, from `profilesync keys show`)',
      details: { field: 'key' },
    });
    const list = await req('GET', '/api/peers');
    expect(list.body.peers).toEqual([expect.objectContaining({ id: add.body.id, url: 'ws://127.0.0.1:9/sync', fingerprint: add.body.fingerprint, connected: false, lastSeen: null, pending: 0 })]);
    expect((await req('DELETE', `/api/peers/${add.body.id}`)).status).toBe(204);
    expect((await req('DELETE', `/api/peers/${add.body.id}`)).status).toBe(404);
    const sync = await req('POST', '/api/sync', { body: {} });
    expect(sync.status).toBe(503);
    expect(sync.body.error.code).toBe('SYNC_UNAVAILABLE');
  });

  it('WebSocket upgrades: unknown path 404, sync paths 503 on a node without sync', async () => {
    const { request } = await import('node:http');
    const upgrade = (path: string) =>
      new Promise<number>((resolve, reject) => {
        const u = new URL(t.url);
        const r = request({ host: u.hostname, port: u.port, path, headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' } });
        r.on('response', (res) => resolve(res.statusCode ?? 0));
        r.on('upgrade', () => resolve(101));
        r.on('error', reject);
        r.end();
      });
    expect(await upgrade('/nowhere')).toBe(404);
    expect(await upgrade('/sync')).toBe(503);
    expect(await upgrade(`/yjs/p1?token=${ADMIN}`)).toBe(503);
  });
});
