/**
 * People behind tokens (issue 16.4): an admin gives a token a display name and an email at
 * creation; changes made with it are attributed to that person in history, views and the audit,
 * and the session says who the caller is. Nothing a client sends can claim another name.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';
import { defaultConfig, startServer } from '../src/index.js';
import { ADMIN, http, profileInput, startTestServer, tokenSecret, type TestServer } from './helpers.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({}, { sync: false });
});
afterAll(async () => {
  await t?.stop();
});

describe('tokens with a display name and email', () => {
  let ada = '';
  let grace = '';
  let adaId = '';

  it('are created by an admin with both; list and session show them; the secret stays out of lists', async () => {
    const a = await http(t.url, 'POST', '/api/tokens', { body: { name: 'ada-laptop', role: 'editor', displayName: 'Ada Lovelace', email: 'ada@example.com' } });
    expect(a.status).toBe(201);
    expect(a.body).toMatchObject({ name: 'ada-laptop', displayName: 'Ada Lovelace', email: 'ada@example.com', role: 'editor' });
    ada = a.body.token;
    adaId = a.body.id;
    const g = await http(t.url, 'POST', '/api/tokens', { body: { name: 'grace', role: 'editor', displayName: '  Grace Hopper ' } });
    expect(g.body.displayName).toBe('Grace Hopper');
    expect(g.body.email).toBeUndefined();
    grace = g.body.token;
    const list = await http(t.url, 'GET', '/api/tokens');
    expect(list.body.tokens.find((x: { id: string }) => x.id === adaId)).toEqual(expect.objectContaining({ displayName: 'Ada Lovelace', email: 'ada@example.com' }));
    expect(JSON.stringify(list.body)).not.toContain(tokenSecret(ada));
    const session = await http(t.url, 'GET', '/api/session', { token: ada });
    expect(session.body).toMatchObject({ tokenId: adaId, name: 'ada-laptop', displayName: 'Ada Lovelace', email: 'ada@example.com', actor: 'Ada Lovelace' });
    // a token without one: its name, as before
    expect((await http(t.url, 'GET', '/api/session')).body).toMatchObject({ name: 'admin', displayName: 'admin', actor: 'admin' });
  });

  it('history, the view and the audit name the person; two people are told apart', async () => {
    expect((await http(t.url, 'POST', '/api/profiles', { token: ada, body: profileInput('shared') })).status).toBe(201);
    expect((await http(t.url, 'PATCH', '/api/profiles/shared', { token: grace, body: { systemMessage: 'Grace was here' } })).status).toBe(200);
    const view = await http(t.url, 'GET', '/api/profiles/shared');
    expect(view.body.updatedBy).toBe('Grace Hopper');
    const history = await http(t.url, 'GET', '/api/profiles/shared/history');
    expect(history.body.versions.map((v: { actor: string }) => v.actor)).toEqual(['Grace Hopper', 'Ada Lovelace']);
    const raw = await http(t.url, 'GET', '/api/profiles/shared/history?entries=raw');
    expect(raw.body.entries.at(-1).origin).toBe(`api:${adaId}`);
    // Grace's edit is one version: its profile.edit record is written when it closes (a checkpoint here)
    expect((await http(t.url, 'POST', '/api/profiles/shared/versions', { token: grace, body: { message: 'reviewed' } })).status).toBe(201);
    const audit = await http(t.url, 'GET', '/api/audit?profile=shared');
    expect(new Set(audit.body.records.map((r: { actor: string }) => r.actor))).toEqual(new Set(['Ada Lovelace', 'Grace Hopper']));
    const byAda = await http(t.url, 'GET', `/api/audit?actor=${encodeURIComponent('Ada Lovelace')}`);
    expect(byAda.body.records.length).toBeGreaterThan(0);
    const created = await http(t.url, 'GET', '/api/audit?action=token.create');
    expect(created.body.records.find((r: { details: { id: string } }) => r.details.id === adaId).details.displayName).toBe('Ada Lovelace');
  });

  it('a client cannot claim a name: computed attribution fields are refused and change nothing', async () => {
    const before = (await http(t.url, 'GET', '/api/profiles/shared')).body;
    const r = await http(t.url, 'PATCH', '/api/profiles/shared', { token: grace, body: { updatedBy: 'Somebody Else' } });
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect((await http(t.url, 'GET', '/api/profiles/shared')).body).toEqual(before);
    // an editor cannot create tokens (nor name anyone)
    expect((await http(t.url, 'POST', '/api/tokens', { token: grace, body: { name: 'x', role: 'viewer', displayName: 'Ada Lovelace' } })).status).toBe(403);
  });

  it('bad display names and emails are REQUEST_INVALID naming the field, and create nothing', async () => {
    const count = (await http(t.url, 'GET', '/api/tokens')).body.tokens.length;
    for (const [body, field] of [
      [{ displayName: 'Evil\u001b[2J' }, 'displayName'],
      [{ displayName: 'RLO \u202e name' }, 'displayName'],
      [{ displayName: '   ' }, 'displayName'],
      [{ displayName: 'x'.repeat(101) }, 'displayName'],
      [{ email: 'not-an-address' }, 'email'],
      [{ email: 'Ada <ada@example.com>' }, 'email'],
      [{ email: 'ada@example' }, 'email'],
      [{ displayName: 42 }, 'displayName'],
    ] as const) {
      const r = await http(t.url, 'POST', '/api/tokens', { body: { name: 'bad', role: 'viewer', ...body } });
      expect([r.status, r.body.error.code, r.body.error.details?.field]).toEqual([400, 'REQUEST_INVALID', field]);
    }
    expect((await http(t.url, 'GET', '/api/tokens')).body.tokens.length).toBe(count);
  });

  it('survive a restart', async () => {
    const dir = join(t.dir, 'restart');
    const config = defaultConfig({ dataDir: dir, port: 0, logLevel: 'silent' });
    const s1 = await startServer(config, { adminToken: ADMIN, env: {}, sync: false });
    const created = await http(s1.url, 'POST', '/api/tokens', { body: { name: 'ops', role: 'viewer', displayName: 'Margaret Hamilton', email: 'mh@example.org' } });
    await s1.close();
    const s2 = await startServer(config, { adminToken: ADMIN, env: {}, sync: false });
    try {
      expect((await http(s2.url, 'GET', '/api/session', { token: created.body.token })).body).toMatchObject({ displayName: 'Margaret Hamilton', email: 'mh@example.org' });
    } finally {
      await s2.close();
    }
  });
});

describe('presence on /yjs', () => {
  it("shows the person a token names, whatever name the client claims; a token without a display name keeps the client's", async () => {
    const s = await startTestServer();
    const providers: WebsocketProvider[] = [];
    try {
      expect((await http(s.url, 'POST', '/api/profiles', { body: profileInput('room') })).status).toBe(201);
      const ada = (await http(s.url, 'POST', '/api/tokens', { body: { name: 'ada-laptop', role: 'editor', displayName: 'Ada Lovelace' } })).body.token as string;
      const shared = (await http(s.url, 'POST', '/api/tokens', { body: { name: 'team', role: 'editor' } })).body.token as string;
      const open = (token: string): WebsocketProvider => {
        const p = new WebsocketProvider(`${s.url.replace(/^http/, 'ws')}/yjs`, 'room', new Y.Doc(), { WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket, params: { token }, disableBc: true });
        providers.push(p);
        return p;
      };
      const watcher = open(ADMIN);
      const pa = open(ada);
      const pt = open(shared);
      pa.awareness.setLocalStateField('user', { name: 'Grace Hopper', color: '#aa0000' });
      pt.awareness.setLocalStateField('user', { name: 'Linus on the team token', color: '#00aa00' });
      const nameOf = (p: WebsocketProvider): string | undefined => (watcher.awareness.getStates().get(p.awareness.clientID) as { user?: { name?: string } } | undefined)?.user?.name;
      const end = Date.now() + 15_000;
      while ((nameOf(pa) === undefined || nameOf(pt) === undefined) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      expect(nameOf(pa)).toBe('Ada Lovelace');
      expect(nameOf(pt)).toBe('Linus on the team token');
    } finally {
      for (const p of providers) p.destroy();
      await s.stop();
    }
  });
});
