/**
 * Fuzz (fast-check) over real HTTP: malformed JSON, random JSON values, wrong content types,
 * huge bodies, path traversal and odd unicode in ids. Every answer is a coded 4xx, the server
 * keeps serving, and nothing is written (the log's last lsn and the profile list stay put).
 */
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { http, profileInput, startTestServer, type TestServer } from './helpers.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 120);
const KNOWN_FIELDS = new Set(['id', 'modelId', 'name', 'description', 'systemMessage', 'templates', 'parameters', 'meta', 'labels']);
let t: TestServer;
let dirListing: string[];

beforeAll(async () => {
  t = await startTestServer({ bodyLimit: 64 * 1024, maxProfileBytes: 16 * 1024 });
  await http(t.url, 'POST', '/api/profiles', { body: profileInput('fz') });
  dirListing = readdirSync(t.dir, { recursive: true }) as string[];
});
afterAll(async () => {
  await t?.stop();
});

const lsn = () => t.server.node.log.info().lastLsn;

async function expectCoded4xx(r: { status: number; body: any }): Promise<void> {
  expect(r.status, JSON.stringify(r.body)).toBeGreaterThanOrEqual(400);
  expect(r.status).toBeLessThan(500);
  expect(typeof r.body?.error?.code).toBe('string');
  expect(r.body.error.code).toMatch(/^[A-Z][A-Z_]+$/);
}

async function unchanged(before: number): Promise<void> {
  expect(lsn()).toBe(before);
  expect((await http(t.url, 'GET', '/healthz', { token: null })).status).toBe(200);
}

const notJson = fc.string({ maxLength: 200 }).map((s) => `{${s}`).filter((s) => {
  try {
    JSON.parse(s);
    return false;
  } catch {
    return true;
  }
});

const routes: [string, string][] = [
  ['POST', '/api/profiles'],
  ['PATCH', '/api/profiles/fz'],
  ['POST', '/api/profiles/fz/revert'],
  ['PUT', '/api/profiles/fz/labels/prod'],
  ['POST', '/api/tokens'],
  ['POST', '/api/peers'],
];

describe('fuzz', () => {
  it('malformed JSON -> 400 REQUEST_MALFORMED_JSON, nothing written', async () => {
    await fc.assert(
      fc.asyncProperty(notJson, fc.constantFrom(...routes), async (raw, [method, path]) => {
        const before = lsn();
        const r = await http(t.url, method, path, { raw, type: 'application/json' });
        await expectCoded4xx(r);
        expect(r.body.error.code).toBe('REQUEST_MALFORMED_JSON');
        await unchanged(before);
      }),
      { numRuns: RUNS },
    );
  });

  it('random JSON values that are not valid requests -> coded 4xx, nothing written', async () => {
    const value = fc.jsonValue({ maxDepth: 3 }).filter((v) => !(typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).some((k) => KNOWN_FIELDS.has(k) || k === 'version' || k === 'role' || k === 'url')));
    await fc.assert(
      fc.asyncProperty(value, fc.constantFrom(...routes), async (body, [method, path]) => {
        const before = lsn();
        const r = await http(t.url, method, path, { raw: JSON.stringify(body), type: 'application/json' });
        if (method === 'PATCH' && typeof body === 'object' && body !== null && !Array.isArray(body) && Object.keys(body).length === 0) {
          expect(r.status).toBe(200); // the empty merge patch: a no-op
        } else {
          await expectCoded4xx(r);
        }
        await unchanged(before);
      }),
      { numRuns: RUNS },
    );
  });

  it('profile-shaped bodies with bad field values -> coded 4xx, nothing written', async () => {
    const bad = fc.record({
      modelId: fc.oneof(fc.constant(''), fc.integer(), fc.constant(null), fc.string({ minLength: 300, maxLength: 400 })),
      name: fc.oneof(fc.string(), fc.integer()),
      parameters: fc.oneof(fc.record({ temperature: fc.oneof(fc.double({ min: 2.01, max: 1e9, noNaN: true }), fc.string()) }), fc.record({ top_p: fc.double({ min: -5, max: -0.01, noNaN: true }) }), fc.constant([1])),
    });
    await fc.assert(
      fc.asyncProperty(bad, fc.boolean(), async (body, patch) => {
        const before = lsn();
        const r = patch ? await http(t.url, 'PATCH', '/api/profiles/fz', { body: { parameters: body.parameters } }) : await http(t.url, 'POST', '/api/profiles', { body: { id: 'fz-new', ...body } });
        await expectCoded4xx(r);
        await unchanged(before);
      }),
      { numRuns: RUNS },
    );
  });

  it('wrong content types -> 415, nothing written', async () => {
    const type = fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'application/octet-stream', 'image/png', 'application/jsonx', 'text/json-ish');
    await fc.assert(
      fc.asyncProperty(type, fc.constantFrom(...routes), fc.string({ maxLength: 100 }), async (ct, [method, path], raw) => {
        const before = lsn();
        const r = await http(t.url, method, path, { raw: raw.length === 0 ? 'x' : raw, type: ct });
        await expectCoded4xx(r);
        expect(r.status).toBe(415);
        expect(r.body.error.code).toBe('REQUEST_UNSUPPORTED_MEDIA_TYPE');
        await unchanged(before);
      }),
      { numRuns: Math.ceil(RUNS / 2) },
    );
  });

  it('huge bodies -> 413 above body_limit, PROFILE_TOO_LARGE below it; nothing written', async () => {
    const before = lsn();
    const over = await http(t.url, 'POST', '/api/profiles', { body: profileInput('big', { systemMessage: 'x'.repeat(100 * 1024) }) });
    expect(over.status).toBe(413);
    expect(over.body.error.code).toBe('REQUEST_TOO_LARGE');
    const overPatch = await http(t.url, 'PATCH', '/api/profiles/fz', { raw: `{"description":"${'y'.repeat(200 * 1024)}"}`, type: 'application/json' });
    expect(overPatch.status).toBe(413);
    const under = await http(t.url, 'PATCH', '/api/profiles/fz', { body: { systemMessage: 'z'.repeat(40 * 1024) } });
    await expectCoded4xx(under);
    expect(under.body.error.code).toBe('PROFILE_TOO_LARGE');
    const deep = await http(t.url, 'PATCH', '/api/profiles/fz', { raw: `${'{"meta":'.repeat(2000)}1${'}'.repeat(2000)}`, type: 'application/json' });
    await expectCoded4xx(deep);
    await unchanged(before);
  });

  it('path traversal and odd unicode in ids -> coded 4xx, no file outside the data dir, nothing written', async () => {
    const odd = fc.oneof(
      fc.constantFrom('..', '.', '../..', '../../etc/passwd', '..\\..\\windows', '%2e%2e', 'a/../b', '\u0000', 'nul\u0000byte', ' ', 'a b', '-leading', '_x', 'é', 'ü'.repeat(10), '\u202e', '\ud83d\ude00', 'x'.repeat(129)),
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 20 }),
    );
    await fc.assert(
      fc.asyncProperty(odd, fc.constantFrom('GET', 'PATCH', 'DELETE', 'HISTORY', 'LABEL'), async (id, op) => {
        const before = lsn();
        const p = `/api/profiles/${encodeURIComponent(id)}`;
        const r =
          op === 'GET' ? await http(t.url, 'GET', p)
          : op === 'PATCH' ? await http(t.url, 'PATCH', p, { body: { name: 'x' } })
          : op === 'DELETE' ? await http(t.url, 'DELETE', p)
          : op === 'HISTORY' ? await http(t.url, 'GET', `${p}/history`)
          : await http(t.url, 'PUT', `${p}/labels/${encodeURIComponent(id)}`, { body: { version: 'v' } });
        await expectCoded4xx(r);
        await unchanged(before);
      }),
      { numRuns: RUNS },
    );
    expect(readdirSync(t.dir, { recursive: true }).filter((f) => !String(f).startsWith('data'))).toEqual(dirListing.filter((f) => !String(f).startsWith('data')));
  });

  it('raw URLs with dot segments and encoded slashes never reach a handler with a bad id', async () => {
    const { request } = await import('node:http');
    const raw = (path: string) =>
      new Promise<{ status: number; body: any }>((resolve, reject) => {
        const u = new URL(t.url);
        const r = request({ host: u.hostname, port: u.port, path, method: 'GET', headers: { authorization: `Bearer ${'test-admin-token-0123456789abcdef'}` } }, (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
        });
        r.on('error', reject);
        r.end();
      });
    for (const p of ['/api/profiles/../../etc/passwd', '/api/profiles/..%2f..%2fetc', '/api/profiles/%2e%2e', '/api/profiles/fz%00', '/api/profiles/%ff%fe', '/api/../healthz/../api/tokens']) {
      const r = await raw(p);
      await expectCoded4xx(r);
    }
  });
});
