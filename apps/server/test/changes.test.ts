/**
 * GET /api/changes on real nodes (LevelDB in temp dirs, HTTP on 127.0.0.1), read by a plain
 * EventSource client (`eventsource`) and by curl: one event per change, label move and
 * deletion; resume with Last-Event-ID without a gap or a duplicate, also across a node
 * restart with changes made while the node was down; ids and grant filters; heartbeats;
 * revocation; bad input.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openNode } from '../src/index.js';
import { ADMIN, http, profileInput, startTestServer, tempDir, type TestServer } from './helpers.js';
import { record, type Recorder } from './sse-client.js';

const servers: TestServer[] = [];
const recorders: Recorder[] = [];
afterEach(async () => {
  for (const r of recorders.splice(0)) r.close();
  for (const s of servers.splice(0)) await s.stop();
});

async function start(overrides: Parameters<typeof startTestServer>[0] = {}, dir?: string): Promise<TestServer> {
  const t = await startTestServer({ ...overrides }, { sync: false }, dir);
  servers.push(t);
  return t;
}

function rec(url: string, opts: Parameters<typeof record>[1] = {}): Recorder {
  const r = record(url, opts);
  recorders.push(r);
  return r;
}

const lsnOf = (eventId: string) => Number(eventId.split('-')[1]);

describe('change feed', () => {
  it('one event per create, edit, label move and deletion, with the view data', async () => {
    const t = await start();
    const r = rec(t.url);
    await r.until((x) => x.readies.length === 1, 'ready');
    const created = await http(t.url, 'POST', '/api/profiles', { body: profileInput('feed-a') });
    await r.until((x) => x.changes.length === 1, 'create event');
    expect(r.changes[0]!.data).toEqual({ id: 'feed-a', version: created.body.version, labels: {}, deleted: false, conflicts: 0 });

    const edited = await http(t.url, 'PATCH', '/api/profiles/feed-a', { body: { systemMessage: 'Be brief.' } });
    await r.until((x) => x.changes.length === 2, 'edit event');
    expect(r.changes[1]!.data.version).toBe(edited.body.version);

    const labelled = await http(t.url, 'PUT', '/api/profiles/feed-a/labels/production', { body: { version: created.body.version } });
    expect(labelled.status).toBe(200);
    await r.until((x) => x.changes.length === 3, 'label event');
    expect(r.changes[2]!.data.labels).toEqual({ production: created.body.version });

    expect((await http(t.url, 'DELETE', '/api/profiles/feed-a')).status).toBe(204);
    await r.until((x) => x.changes.length === 4, 'delete event');
    expect(r.changes[3]!.data.deleted).toBe(true);

    const ids = r.changes.map((c) => lsnOf(c.id));
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    // every id carries this log's epoch
    expect(new Set(r.changes.map((c) => c.id.split('-')[0])).size).toBe(1);
  });

  it('resumes with Last-Event-ID: what was missed, once, and nothing before it', async () => {
    const t = await start();
    for (const id of ['r1', 'r2', 'r3']) await http(t.url, 'POST', '/api/profiles', { body: profileInput(id) });
    const all = rec(t.url, { lastEventId: '0' });
    await all.until((x) => x.readies.length === 1 && x.changes.length === 3, 'catch-up of 3');
    expect(all.changes.map((c) => c.data.id)).toEqual(['r1', 'r2', 'r3']);
    const cursor = all.changes[1]!.id; // as if the client stopped after r2
    all.close();

    await http(t.url, 'PATCH', '/api/profiles/r1', { body: { name: 'renamed' } });
    const r1 = await http(t.url, 'PATCH', '/api/profiles/r1', { body: { name: 'renamed again' } });
    const resumed = rec(t.url, { lastEventId: cursor });
    await resumed.until((x) => x.readies.length === 1, 'ready');
    // r3 (after the cursor) and r1 (changed twice since: one event, its latest state); r2 not again
    expect(resumed.changes.map((c) => c.data.id)).toEqual(['r3', 'r1']);
    expect(resumed.changes[1]!.data.version).toBe(r1.body.version);
    expect(lsnOf(resumed.changes[0]!.id)).toBeGreaterThan(lsnOf(cursor));
  });

  it('a live subscription survives a node restart with no lost and no duplicate change', async () => {
    const dir = tempDir();
    let t = await startTestServer({}, { sync: false }, dir);
    const port = t.server.port;
    await http(t.url, 'POST', '/api/profiles', { body: profileInput('restart-a') });
    await http(t.url, 'POST', '/api/profiles', { body: profileInput('restart-b') });
    const r = rec(t.url);
    await r.until((x) => x.readies.length === 1, 'ready');
    await http(t.url, 'PATCH', '/api/profiles/restart-a', { body: { name: 'before the restart' } });
    await r.until((x) => x.changes.length === 1, 'first live change');

    await t.server.close();
    // changes made while the node is down (an offline tool on the data dir): read from the log on resume
    const node = await openNode({ dataDir: join(dir, 'data') });
    await node.store.update('restart-b', { name: 'while down' }, { actor: 'cli', origin: 'cli' });
    await node.store.update('restart-a', { name: 'while down too' }, { actor: 'cli', origin: 'cli' });
    await node.store.create(profileInput('restart-c') as never, { actor: 'cli', origin: 'cli' });
    await node.close();

    t = await startTestServer({ port }, { sync: false }, dir);
    servers.push(t);
    // the EventSource reconnects by itself with its Last-Event-ID
    await r.until((x) => x.readies.length === 2 && x.changes.length === 4, 'catch-up after restart', 20_000);
    await http(t.url, 'PATCH', '/api/profiles/restart-c', { body: { name: 'after the restart' } });
    await r.until((x) => x.changes.length === 5, 'live change after restart');

    const final = await Promise.all(['restart-a', 'restart-b', 'restart-c'].map(async (id) => (await http(t.url, 'GET', `/api/profiles/${id}`)).body.version));
    const lastSeen = new Map(r.changes.map((c) => [c.data.id, c.data.version]));
    expect(['restart-a', 'restart-b', 'restart-c'].map((id) => lastSeen.get(id))).toEqual(final);
    expect(r.changes.map((c) => c.data.id)).toEqual(['restart-a', 'restart-b', 'restart-a', 'restart-c', 'restart-c']);
    const ids = r.changes.map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.map(lsnOf)).toEqual([...ids.map(lsnOf)].sort((a, b) => a - b));
  });

  it('a stream opened while the node is still starting waits for it instead of getting a 503', async () => {
    let release!: (p: string) => void;
    const passphrase = new Promise<string>((r) => (release = r));
    let bound!: (url: string) => void;
    const listening = new Promise<string>((r) => (bound = r));
    const starting = startTestServer({ encryption: true }, { sync: false, scrypt: { N: 2 ** 10 }, passphrase: () => passphrase, onListening: ({ url }) => bound(url) });
    const url = await listening;
    const r = rec(url, { lastEventId: '0' });
    // the node is bound but blocked on its passphrase: the stream is held, not refused
    expect((await http(url, 'GET', '/readyz', { token: null })).status).toBe(503);
    release('correct horse battery staple');
    const t = await starting;
    servers.push(t);
    await r.until((x) => x.readies.length === 1, 'ready after start');
    expect(r.errors).toBe(0);
    await http(t.url, 'POST', '/api/profiles', { body: profileInput('held') });
    await r.until((x) => x.changes.length === 1, 'live change');
  });

  it('filters by ?ids= and by the token\'s grants', async () => {
    const t = await start();
    const tok = await http(t.url, 'POST', '/api/tokens', { body: { name: 'team', role: 'viewer', profiles: ['team-*'] } });
    const r = rec(t.url, { token: tok.body.token });
    const only = rec(t.url, { query: '?ids=team-2,other' });
    await r.until((x) => x.readies.length === 1, 'ready');
    await only.until((x) => x.readies.length === 1, 'ready');
    for (const id of ['team-1', 'other', 'team-2', 'secret']) await http(t.url, 'POST', '/api/profiles', { body: profileInput(id) });
    await r.until((x) => x.changes.length === 2, 'granted changes');
    await only.until((x) => x.changes.length === 2, 'filtered changes');
    // the full catch-up of a restricted token holds only its profiles too
    const restrictedAll = rec(t.url, { token: tok.body.token, lastEventId: '0' });
    await restrictedAll.until((x) => x.readies.length === 1, 'ready');
    expect(r.changes.map((c) => c.data.id)).toEqual(['team-1', 'team-2']);
    expect(only.changes.map((c) => c.data.id)).toEqual(['other', 'team-2']);
    expect(restrictedAll.changes.map((c) => c.data.id)).toEqual(['team-1', 'team-2']);

    const denied = await http(t.url, 'GET', '/api/changes?ids=team-1,secret', { token: tok.body.token });
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe('AUTH_FORBIDDEN');
  });

  it('curl reads the stream: catch-up, ready, heartbeats', async () => {
    const t = await start({ changes: { heartbeatMs: 200, maxConnections: 10 } });
    await http(t.url, 'POST', '/api/profiles', { body: profileInput('curl-a') });
    const curl = spawn('curl', ['-sN', '-H', `Authorization: Bearer ${ADMIN}`, '-H', 'Last-Event-ID: 0', `${t.url}/api/changes`]);
    let out = '';
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no heartbeat from curl; got ${out}`)), 15_000);
        curl.stdout.on('data', (b: Buffer) => {
          out += b.toString('utf8');
          if (out.includes(': hb\n\n')) {
            clearTimeout(timer);
            resolve();
          }
        });
        curl.on('error', reject);
      });
    } finally {
      curl.kill();
    }
    const blocks = out.split('\n\n');
    expect(blocks[0]).toMatch(/^retry: \d+$/);
    expect(blocks[1]).toMatch(/^id: [0-9a-z]+-\d+\nevent: change\ndata: \{"conflicts":0,"deleted":false,"id":"curl-a","labels":\{\},"version":"[^"]+"\}$/);
    expect(blocks[2]).toMatch(/^event: ready\ndata: \{"heartbeatMs":200,"position":"[0-9a-z]+-\d+"\}$/);
  });

  it('revoking the token ends its stream; the node refuses it afterwards', async () => {
    const t = await start();
    const tok = await http(t.url, 'POST', '/api/tokens', { body: { name: 'revokee', role: 'viewer' } });
    const r = rec(t.url, { token: tok.body.token });
    await r.until((x) => x.readies.length === 1, 'ready');
    expect((await http(t.url, 'DELETE', `/api/tokens/${tok.body.id}`)).status).toBe(204);
    // the stream ends; the EventSource retries, gets 401 and gives up (readyState CLOSED)
    await r.until((x) => x.es.readyState === 2, 'closed after revocation');
    await http(t.url, 'POST', '/api/profiles', { body: profileInput('after-revoke') });
    expect(r.changes).toEqual([]);
  });

  it('bad input: 400 naming the field, 401 without a token; an unknown epoch replays everything', async () => {
    const t = await start();
    await http(t.url, 'POST', '/api/profiles', { body: profileInput('bad-in') });
    const cases: [string, Record<string, string>, string][] = [
      ['/api/changes?ids=ok,not%20an%20id', {}, 'ids'],
      ['/api/changes?ids=', {}, 'ids'],
      ['/api/changes?since=yesterday', {}, 'since'],
      ['/api/changes?bogus=1', {}, 'bogus'],
      ['/api/changes', { 'last-event-id': 'x-1-2' }, 'Last-Event-ID'],
    ];
    for (const [path, headers, field] of cases) {
      const res = await http(t.url, 'GET', path, { headers });
      expect(res.status, path).toBe(400);
      expect(res.body.error.code).toBe('REQUEST_INVALID');
      expect(res.body.error.details.field).toBe(field);
    }
    expect((await http(t.url, 'GET', '/api/changes', { token: null })).status).toBe(401);
    // a position of another log (other epoch) or past this log's end: the client gets everything again
    for (const id of ['zzzz-1', `${(await firstEpoch(t.url))}-999999`]) {
      const r = rec(t.url, { lastEventId: id });
      await r.until((x) => x.readies.length === 1, 'ready');
      expect(r.changes.map((c) => c.data.id)).toEqual(['bad-in']);
    }
  });

  it('answers 503 CHANGES_TOO_MANY_CONNECTIONS above changes.max_connections', async () => {
    const t = await start({ changes: { heartbeatMs: 15_000, maxConnections: 1 } });
    const r = rec(t.url);
    await r.until((x) => x.readies.length === 1, 'ready');
    const res = await http(t.url, 'GET', '/api/changes');
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('CHANGES_TOO_MANY_CONNECTIONS');
  });
});

async function firstEpoch(url: string): Promise<string> {
  const r = record(url, { lastEventId: '0' });
  try {
    await r.until((x) => x.readies.length === 1, 'ready');
    return r.readies[0]!.position.split('-')[0]!;
  } finally {
    r.close();
  }
}
