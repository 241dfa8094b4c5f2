/**
 * GET /api/profiles as a search and a paged list over real HTTP: ?q= over prompt text with the
 * place of the match, ?sort=&order=, ?limit=&cursor= walks, a token's grants before paging and
 * counting, and coded errors for bad queries.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http, profileInput, startTestServer, type TestServer } from './helpers.js';

let t: TestServer;
const req = <T = any>(method: string, path: string, opts: Parameters<typeof http>[3] = {}) => http<T>(t.url, method, path, opts);

beforeAll(async () => {
  t = await startTestServer({}, { sync: false });
  const make = (id: string, extra: Record<string, unknown>) => req('POST', '/api/profiles', { body: profileInput(id, extra) });
  expect((await make('team-a.support', { name: 'Support', systemMessage: 'You refund orders politely.' })).status).toBe(201);
  expect((await make('team-a.coder', { name: 'coder', modelId: 'claude-3', templates: { review: 'Review the pull request for REFUND bugs' } })).status).toBe(201);
  expect((await make('team-b.writer', { name: 'Writer', systemMessage: 'Write release notes.' })).status).toBe(201);
  for (let i = 0; i < 12; i++) expect((await make(`bulk-${String(i).padStart(2, '0')}`, { name: `Bulk ${String(i).padStart(2, '0')}` })).status).toBe(201);
});
afterAll(async () => {
  await t?.stop();
});

describe('GET /api/profiles: search, sort, pages', () => {
  it('without the new parameters: every profile by id, with total and no cursor (as before)', async () => {
    const r = await req('GET', '/api/profiles');
    expect(r.status).toBe(200);
    expect(r.body.profiles).toHaveLength(15);
    expect(r.body.profiles.map((p: any) => p.id)).toEqual([...r.body.profiles.map((p: any) => p.id)].sort());
    expect(r.body.total).toBe(15);
    expect(r.body.nextCursor).toBeNull();
    expect(r.body.profiles[0].match).toBeUndefined();
  });

  it('?q= searches prompt text (system message, templates) and names the field', async () => {
    const r = await req('GET', '/api/profiles?q=refund&sort=name');
    expect(r.body.total).toBe(2);
    expect(r.body.profiles.map((p: any) => [p.id, p.match.field, p.match.snippet])).toEqual([
      ['team-a.coder', 'templates.review', 'Review the pull request for REFUND bugs'],
      ['team-a.support', 'systemMessage', 'You refund orders politely.'],
    ]);
    expect((await req('GET', `/api/profiles?q=${encodeURIComponent('release NOTES')}`)).body.profiles.map((p: any) => p.id)).toEqual(['team-b.writer']);
    expect((await req('GET', '/api/profiles?q=refund&modelId=claude-3')).body.profiles.map((p: any) => p.id)).toEqual(['team-a.coder']);
  });

  it('?limit= and ?cursor= walk every profile once, in the chosen order', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r: any = await req('GET', `/api/profiles?sort=name&order=desc&limit=4${cursor ? `&cursor=${cursor}` : ''}`);
      expect(r.status).toBe(200);
      expect(r.body.total).toBe(15);
      seen.push(...r.body.profiles.map((p: any) => p.name));
      cursor = r.body.nextCursor;
      pages++;
    } while (cursor !== null);
    expect(pages).toBe(4);
    expect(seen).toHaveLength(15);
    expect(seen[0]).toBe('Writer');
    expect(seen).toEqual([...seen].sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? 1 : -1)));
  });

  it('?facets=true answers the distinct models, labels and tags a filter menu offers', async () => {
    const r = await req('GET', '/api/profiles?limit=1&facets=true&modelId=claude-3');
    expect(r.body.profiles).toHaveLength(1);
    expect(r.body.facets).toEqual({ models: ['claude-3', 'gpt-4o'], labels: [], tags: ['test'] });
    expect((await req('GET', '/api/profiles?limit=1')).body.facets).toBeUndefined();
  });

  it('rows carry their open conflict count; ?conflicts=open keeps only profiles with one', async () => {
    const r = await req('GET', '/api/profiles?limit=2&sort=id');
    expect(r.body.profiles.map((p: any) => p.conflicts)).toEqual([0, 0]);
    const open = await req('GET', '/api/profiles?conflicts=open');
    expect([open.status, open.body.total, open.body.profiles]).toEqual([200, 0, []]);
    expect((await req('GET', '/api/profiles?conflicts=all')).body.error).toMatchObject({ code: 'REQUEST_INVALID', details: { field: 'conflicts' } });
  });

  it('a token limited to some profiles gets only those, counted before paging', async () => {
    const tok = await req('POST', '/api/tokens', { body: { name: 'team-a', role: 'viewer', profiles: ['team-a.*'] } });
    expect(tok.status).toBe(201);
    const r = await req('GET', '/api/profiles?limit=1&sort=id', { token: tok.body.token });
    expect(r.body.total).toBe(2);
    expect(r.body.profiles.map((p: any) => p.id)).toEqual(['team-a.coder']);
    const next = await req('GET', `/api/profiles?limit=1&sort=id&cursor=${r.body.nextCursor}`, { token: tok.body.token });
    expect(next.body.profiles.map((p: any) => p.id)).toEqual(['team-a.support']);
    expect(next.body.nextCursor).toBeNull();
    expect((await req('GET', '/api/profiles?q=release', { token: tok.body.token })).body.total).toBe(0);
  });

  it('bad queries: coded errors naming the field, nothing listed', async () => {
    const first = await req('GET', '/api/profiles?sort=name&limit=2');
    const cases: [string, number, string, string][] = [
      ['sort=size', 400, 'REQUEST_INVALID', 'sort'],
      ['order=up', 400, 'REQUEST_INVALID', 'order'],
      ['limit=0', 400, 'REQUEST_INVALID', 'limit'],
      ['limit=1001', 400, 'REQUEST_INVALID', 'limit'],
      [`q=${'x'.repeat(257)}`, 400, 'REQUEST_INVALID', 'q'],
      ['cursor=garbage', 400, 'PROFILE_LIST_INVALID', 'cursor'],
      [`sort=updated&cursor=${first.body.nextCursor}`, 400, 'PROFILE_LIST_INVALID', 'cursor'],
      [`q=${Array.from({ length: 17 }, (_, i) => `w${i}`).join('+')}`, 400, 'PROFILE_LIST_INVALID', 'q'],
    ];
    for (const [query, status, code, field] of cases) {
      const r = await req('GET', `/api/profiles?${query}`);
      expect([query, r.status, r.body.error?.code, r.body.error?.details?.field]).toEqual([query, status, code, field]);
    }
  });
});
