/**
 * Lossless moves over HTTP (issue 16.2) between two real nodes: GET /api/profiles/:id/log,
 * POST /api/import/log; history, labels and every version arrive; grants apply; bad input
 * changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, http, profileInput, startTestServer, type TestServer } from './helpers.js';

let a: TestServer;
let b: TestServer;
const TYPE = 'application/vnd.profilesync.profile-log';

beforeAll(async () => {
  [a, b] = await Promise.all([startTestServer({}, { sync: false }), startTestServer({}, { sync: false })]);
  expect((await http(a.url, 'POST', '/api/profiles', { body: profileInput('chat', { systemMessage: 'one' }) })).status).toBe(201);
  expect((await http(a.url, 'PATCH', '/api/profiles/chat', { body: { systemMessage: 'two' } })).status).toBe(200);
  const v2 = (await http(a.url, 'GET', '/api/profiles/chat')).body.version;
  expect((await http(a.url, 'PUT', '/api/profiles/chat/labels/production', { body: { version: v2 } })).status).toBe(200);
  expect((await http(a.url, 'PATCH', '/api/profiles/chat', { body: { systemMessage: 'three', parameters: { temperature: 0.2 } } })).status).toBe(200);
});
afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
});

async function exportLog(base: string, id: string, token = ADMIN): Promise<{ status: number; bytes: Buffer; type: string | null }> {
  const res = await fetch(`${base}/api/profiles/${id}/log`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()), type: res.headers.get('content-type') };
}

const importLog = (base: string, bytes: Uint8Array, token = ADMIN, type = TYPE) => http(base, 'POST', '/api/import/log', { token, raw: Buffer.from(bytes), type });

describe('profile log export / import over HTTP', () => {
  it('a new profile arrives with every version, actor and label; importing again is unchanged', async () => {
    const ex = await exportLog(a.url, 'chat');
    expect(ex.status).toBe(200);
    expect(ex.type).toBe(TYPE);
    const first = await importLog(b.url, ex.bytes);
    expect(first.status).toBe(201);
    expect(first.body).toEqual({ id: 'chat', result: 'created', entries: expect.any(Number) });
    const [ha, hb] = await Promise.all([http(a.url, 'GET', '/api/profiles/chat/history'), http(b.url, 'GET', '/api/profiles/chat/history')]);
    const shape = (vs: { version: string; seq: number; actor: string }[]) => vs.map((v) => ({ version: v.version, seq: v.seq, actor: v.actor }));
    expect(shape(hb.body.versions)).toEqual(shape(ha.body.versions));
    // every version of the history shows the same content on both nodes
    for (const v of ha.body.versions) {
      const [va, vb] = await Promise.all([http(a.url, 'GET', `/api/profiles/chat?version=${encodeURIComponent(v.version)}`), http(b.url, 'GET', `/api/profiles/chat?version=${encodeURIComponent(v.version)}`)]);
      expect(vb.status).toBe(200);
      expect({ ...vb.body, updatedAt: 0 }).toEqual({ ...va.body, updatedAt: 0 });
    }
    const [la, lb] = await Promise.all([http(a.url, 'GET', '/api/profiles/chat?label=production'), http(b.url, 'GET', '/api/profiles/chat?label=production')]);
    expect(lb.body.systemMessage).toBe('two');
    expect({ ...lb.body, updatedAt: 0 }).toEqual({ ...la.body, updatedAt: 0 });
    // the same content and version (updatedAt is the time of the import here)
    const { updatedAt: _ta, ...viewA } = (await http(a.url, 'GET', '/api/profiles/chat')).body;
    const { updatedAt: _tb, ...viewB } = (await http(b.url, 'GET', '/api/profiles/chat')).body;
    expect(viewB).toEqual(viewA);

    const again = await importLog(b.url, ex.bytes);
    expect([again.status, again.body.result]).toEqual([200, 'unchanged']);
    const audit = await http(b.url, 'GET', '/api/audit?action=profile.import');
    expect(audit.body.records.map((r: { details: { result: string } }) => r.details.result)).toEqual(['unchanged', 'created']);
  });

  it('into a profile the target already has: merged (updated), never lost on either side', async () => {
    expect((await http(b.url, 'PATCH', '/api/profiles/chat', { body: { description: 'b edits this' } })).status).toBe(200);
    expect((await http(a.url, 'PATCH', '/api/profiles/chat', { body: { name: 'A renamed it' } })).status).toBe(200);
    const r = await importLog(b.url, (await exportLog(a.url, 'chat')).bytes);
    expect([r.status, r.body.result]).toEqual([200, 'updated']);
    const view = (await http(b.url, 'GET', '/api/profiles/chat')).body;
    expect(view).toMatchObject({ name: 'A renamed it', description: 'b edits this', systemMessage: 'three' });
  });

  it('grants apply to export and import; a refused import writes nothing', async () => {
    const other = await http(a.url, 'POST', '/api/tokens', { body: { name: 'other-team', role: 'editor', profiles: ['team-*'] } });
    expect((await exportLog(a.url, 'chat', other.body.token)).status).toBe(403);
    expect((await http(a.url, 'POST', '/api/profiles', { body: profileInput('solo') })).status).toBe(201);
    const solo = (await exportLog(a.url, 'solo')).bytes;
    const bOther = await http(b.url, 'POST', '/api/tokens', { body: { name: 'other-team', role: 'editor', profiles: ['team-*'] } });
    const denied = await importLog(b.url, solo, bOther.body.token);
    expect([denied.status, denied.body.error.code]).toEqual([403, 'AUTH_FORBIDDEN']);
    const viewer = await http(b.url, 'POST', '/api/tokens', { body: { name: 'reader', role: 'viewer' } });
    expect((await importLog(b.url, solo, viewer.body.token)).status).toBe(403);
    expect((await http(b.url, 'GET', '/api/profiles/solo')).status).toBe(404);
  });

  it('a damaged, foreign or empty body is refused with a code and writes nothing', async () => {
    const solo = (await exportLog(a.url, 'solo')).bytes;
    const flipped = Buffer.from(solo);
    flipped[Math.floor(flipped.length / 2)]! ^= 0x01;
    for (const bad of [flipped, solo.subarray(0, solo.length - 10), Buffer.from('{"format":"profilesync-export/v1"}')]) {
      const r = await importLog(b.url, bad);
      expect([r.status, r.body.error.code]).toEqual([400, 'IMPORT_INVALID']);
    }
    const empty = await http(b.url, 'POST', '/api/import/log', { raw: Buffer.alloc(0), type: TYPE });
    expect([empty.status, empty.body.error.code]).toEqual([400, 'REQUEST_INVALID']);
    const json = await http(b.url, 'POST', '/api/import/log', { body: { log: 'x' } });
    expect([json.status, json.body.error.code]).toEqual([400, 'REQUEST_INVALID']);
    expect((await http(b.url, 'GET', '/api/profiles/solo')).status).toBe(404);
    // a JSON route still refuses a binary body
    const bin = await http(b.url, 'POST', '/api/profiles', { raw: solo, type: TYPE });
    expect(bin.status).toBe(415);
    expect((await http(a.url, 'GET', '/api/profiles/nope/log')).status).toBe(404);
  });
});
