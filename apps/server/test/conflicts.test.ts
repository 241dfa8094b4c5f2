/**
 * Issue 13 on real nodes: two servers (LevelDB temp dirs) peered over /sync on 127.0.0.1, the
 * scenarios of the issue (a system message edited apart on both; one export imported on both),
 * a /yjs client reconnecting after offline work, live co-editing, and two nodes resolving one
 * conflict at once. Conflicts are listed and resolved over HTTP, counted in /metrics, carried
 * by the change feed and the audit.
 */
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';
import { defaultConfig, startServer, type RunningServer } from '../src/index.js';
import { ADMIN, http, profileInput, tempDir, wsUrl, ok } from './helpers.js';

const dir = tempDir('ps-conflicts-');
const servers: RunningServer[] = [];
const providers: WebsocketProvider[] = [];
afterAll(async () => {
  for (const p of providers) p.destroy();
  for (const s of servers) await s.close().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

let n = 0;
async function node(): Promise<RunningServer> {
  const s = await startServer(defaultConfig({ dataDir: join(dir, `n${n++}`), port: 0, logLevel: (process.env.LOG_LEVEL ?? 'silent') as 'silent' }), { env: {}, adminToken: ADMIN });
  servers.push(s);
  return s;
}

/** Peers a and b both ways and syncs until converged. */
async function meet(a: RunningServer, b: RunningServer): Promise<void> {
  await ok(a, 'POST', '/api/peers', { url: wsUrl(b, '/sync'), key: b.publicKey, name: 'b' });
  await ok(b, 'POST', '/api/peers', { url: wsUrl(a, '/sync'), key: a.publicKey, name: 'a' });
  // right after peering, the first dials can cross (one side refuses the other until it knows
  // it; the two sessions of a pair are deduplicated): a sync may end SYNC_NOT_CONNECTED then
  let r: { converged: boolean } = { converged: false };
  for (let i = 0; i < 20 && !r.converged; i++) r = await ok<{ converged: boolean }>(a, 'POST', '/api/sync', { timeoutMs: 20_000 });
  expect(r, JSON.stringify(r)).toMatchObject({ converged: true });
}

/** Ends the peering (both sides forget each other: they are apart from here on). */
async function part(a: RunningServer, b: RunningServer): Promise<void> {
  for (const [x, y] of [
    [a, b],
    [b, a],
  ] as const) {
    const peers = await ok<{ peers: { id: string; fingerprint: string }[] }>(x, 'GET', '/api/peers');
    for (const p of peers.peers.filter((p) => p.fingerprint === y.fingerprint)) await ok(x, 'DELETE', `/api/peers/${p.id}`);
  }
}

const view = (s: RunningServer, id: string) => ok(s, 'GET', `/api/profiles/${id}`);
const conflicts = async (s: RunningServer, id: string) => (await ok<{ conflicts: any[] }>(s, 'GET', `/api/profiles/${id}/conflicts`)).conflicts;
const metric = async (s: RunningServer, name: string): Promise<number> => {
  const text = (await http(s.url, 'GET', '/metrics')).text;
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
};

describe('issue 13 on two peered nodes', () => {
  it('a system message edited apart on both nodes: the garbled merge is reported on both, counted, fed, audited, and resolved', async () => {
    const a = await node();
    const b = await node();
    await ok(a, 'POST', '/api/profiles', profileInput('coder', { systemMessage: 'You write clean code.' }));
    await meet(a, b);
    expect((await view(b, 'coder')).systemMessage).toBe('You write clean code.');
    await part(a, b);
    await ok(a, 'PATCH', '/api/profiles/coder', { systemMessage: 'You write code. Always add tests.' });
    await ok(b, 'PATCH', '/api/profiles/coder', { systemMessage: 'You write clean, well-named code.' });
    const feed = new AbortController();
    const events: any[] = [];
    let ready = false;
    const reading = (async () => {
      const res = await fetch(`${a.url}/api/changes?ids=coder`, { headers: { authorization: `Bearer ${ADMIN}` }, signal: feed.signal });
      const decoder = new TextDecoder();
      let buf = '';
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true });
        for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const data = block.split('\n').find((l) => l.startsWith('data: '));
          if (block.includes('event: change') && data) events.push(JSON.parse(data.slice(6)));
          if (block.includes('event: ready')) ready = true;
        }
      }
    })().catch(() => undefined);
    for (const end = Date.now() + 5_000; !ready && Date.now() < end; ) await new Promise((r) => setTimeout(r, 10));
    expect(ready).toBe(true);
    await meet(a, b);
    // the first scenario: the two edits interleave into a text nobody wrote ...
    const va = await view(a, 'coder');
    const vb = await view(b, 'coder');
    expect(va.systemMessage).toBe(vb.systemMessage);
    expect(va.systemMessage).not.toBe('You write code. Always add tests.');
    expect(va.systemMessage).not.toBe('You write clean, well-named code.');
    // ... and now it is reported, the same record on both nodes
    expect(va.conflicts).toBe(1);
    expect(vb.conflicts).toBe(1);
    const ca = await conflicts(a, 'coder');
    const cb = await conflicts(b, 'coder');
    expect(ca).toHaveLength(1);
    expect(ca.map((c) => c.id)).toEqual(cb.map((c) => c.id));
    expect(ca[0]).toMatchObject({ field: 'systemMessage', kind: 'text', status: 'open', base: 'You write clean code.', merged: va.systemMessage });
    expect([ca[0].ours, ca[0].theirs].sort()).toEqual(['You write clean, well-named code.', 'You write code. Always add tests.']);
    expect((await ok<{ profiles: unknown[] }>(a, 'GET', '/api/profiles?limit=10')).profiles).toEqual(expect.arrayContaining([expect.objectContaining({ id: 'coder', conflicts: 1 })]));
    expect(await metric(a, 'profilesync_conflicts_open')).toBe(1);
    const detected = (await metric(a, 'profilesync_conflicts_detected_total')) + (await metric(b, 'profilesync_conflicts_detected_total'));
    expect(detected).toBeGreaterThanOrEqual(1);
    // resolve on A: keep B's text; a new version; closed on B too after the next sync
    const bText = 'You write clean, well-named code.';
    const keep = ca[0].ours === bText ? 'ours' : 'theirs';
    const resolved = await ok(a, 'POST', `/api/profiles/coder/conflicts/${ca[0].id}/resolve`, { keep });
    expect(resolved).toMatchObject({ systemMessage: bText, conflicts: 0 });
    expect((await ok<{ versions: any[] }>(a, 'GET', '/api/profiles/coder/history')).versions[0]).toMatchObject({ reason: 'resolve', fields: ['systemMessage'] });
    expect(await metric(a, 'profilesync_conflicts_open')).toBe(0);
    expect(await metric(a, 'profilesync_conflicts_resolved_total')).toBe(1);
    await ok(a, 'POST', '/api/sync', { timeoutMs: 20_000 });
    expect(await view(b, 'coder')).toMatchObject({ systemMessage: bText, conflicts: 0 });
    expect((await conflicts(b, 'coder'))[0]).toMatchObject({ id: ca[0].id, status: 'resolved', resolution: { keep } });
    const again = await http(b.url, 'POST', `/api/profiles/coder/conflicts/${ca[0].id}/resolve`, { body: { keep: 'merged' } });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('CONFLICT_RESOLVED');
    // the audit has both; the feed said when the conflict opened and closed
    const audit = await ok<{ records: any[] }>(a, 'GET', '/api/audit?profile=coder');
    const actions = (audit.records ?? (audit as unknown as any[])).map((r: any) => r.action);
    expect(actions).toEqual(expect.arrayContaining(['conflict.resolve']));
    const bAudit = await ok<{ records: any[] }>(b, 'GET', '/api/audit?profile=coder');
    expect([...actions, ...(bAudit.records ?? (bAudit as unknown as any[])).map((r: any) => r.action)]).toEqual(expect.arrayContaining(['conflict.detected']));
    const until = Date.now() + 5_000;
    while (Date.now() < until && !events.some((e) => e.conflicts === 0 && e.version === resolved.version)) await new Promise((r) => setTimeout(r, 20));
    feed.abort();
    await reading;
    expect(events.some((e) => e.conflicts === 1)).toBe(true);
    expect(events.at(-1)).toMatchObject({ id: 'coder', version: resolved.version, conflicts: 0 });
  }, 60_000);

  it('one export imported on two nodes, then peered: the content once, not doubled (also a node seeded from it)', async () => {
    const a = await node();
    const b = await node();
    const c = await node();
    await ok(a, 'POST', '/api/profiles', profileInput('careful', { systemMessage: 'You are a careful assistant.', messages: [{ role: 'user', content: 'Review {{diff}}.' }] }));
    await ok(a, 'PATCH', '/api/profiles/careful', { systemMessage: 'You are a careful, kind assistant.' });
    // the export file's profile, imported into running nodes (what `profilesync import --url` does: a create)
    const { id, modelId, name, description, systemMessage, templates, messages, parameters, meta } = await view(a, 'careful');
    const exported = JSON.parse(JSON.stringify({ id, modelId, name, description, systemMessage, templates, messages, parameters, meta }));
    await ok(b, 'POST', '/api/profiles', exported);
    await ok(c, 'POST', '/api/profiles', exported);
    await meet(b, c);
    for (const s of [b, c]) {
      const v = await view(s, 'careful');
      expect(v.systemMessage).toBe('You are a careful, kind assistant.');
      expect(v.messages.map((m: { content: string }) => m.content)).toEqual(['Review {{diff}}.']);
      expect(v.conflicts).toBe(0);
    }
    // the node the export came from (with its whole history) meets a node seeded from it
    await meet(a, b);
    const v = await view(a, 'careful');
    expect(v.systemMessage).toBe('You are a careful, kind assistant.');
    expect(v.conflicts).toBe(0);
    expect(v.version).toBe((await view(b, 'careful')).version);
  }, 60_000);

  it('two nodes resolving one conflict at once (apart) end in one state, the conflict closed everywhere', async () => {
    const a = await node();
    const b = await node();
    await ok(a, 'POST', '/api/profiles', profileInput('twice', { templates: { greet: 'Hello {{name}}.' } }));
    await meet(a, b);
    await part(a, b);
    await ok(a, 'PATCH', '/api/profiles/twice', { templates: { greet: 'Hello {{name}}, welcome.' } });
    await ok(b, 'PATCH', '/api/profiles/twice', { templates: { greet: 'Hi {{name}}.' } });
    await meet(a, b);
    const [c] = await conflicts(a, 'twice');
    expect(c).toMatchObject({ field: 'templates.greet', status: 'open' });
    await part(a, b);
    await ok(a, 'POST', `/api/profiles/twice/conflicts/${c.id}/resolve`, { keep: 'ours' });
    await ok(b, 'POST', `/api/profiles/twice/conflicts/${c.id}/resolve`, { keep: 'value', value: 'Good day, {{name}}.' });
    await meet(a, b);
    const va = await view(a, 'twice');
    const vb = await view(b, 'twice');
    expect(va.templates.greet).toBe(vb.templates.greet);
    expect(va.version).toBe(vb.version);
    expect([c.ours, 'Good day, {{name}}.']).toContain(va.templates.greet);
    expect(va.conflicts).toBe(0);
    expect(vb.conflicts).toBe(0);
    const la = await conflicts(a, 'twice');
    expect(la).toEqual(await conflicts(b, 'twice'));
    expect(la.map((x) => x.status)).toEqual(['resolved']);
  }, 60_000);
});

describe('issue 13 over /yjs', () => {
  function provider(s: RunningServer, room: string, doc = new Y.Doc()): { doc: Y.Doc; p: WebsocketProvider } {
    const p = new WebsocketProvider(wsUrl(s, '/yjs'), room, doc, { WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket, params: { token: ADMIN }, disableBc: true });
    providers.push(p);
    return { doc, p };
  }
  const text = (doc: Y.Doc): Y.Text => doc.getMap('profile').get('systemMessage') as Y.Text;
  const synced = async (p: WebsocketProvider): Promise<void> => {
    if (!p.synced) await new Promise<void>((r) => p.on('sync', (x: boolean) => x && r()));
  };
  async function until(fn: () => Promise<boolean> | boolean): Promise<void> {
    const end = Date.now() + 10_000;
    while (!(await fn())) {
      if (Date.now() > end) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  it('live co-editing by two clients raises no conflict; a client reconnecting after offline work does', async () => {
    const a = await node();
    await ok(a, 'POST', '/api/profiles', profileInput('live', { systemMessage: 'You write clean code.' }));
    const one = provider(a, 'live');
    const two = provider(a, 'live');
    await synced(one.p);
    await synced(two.p);
    // both type into the same text at once (their updates cross on the wire)
    text(one.doc).insert(0, 'Always: ');
    text(two.doc).insert(text(two.doc).length, ' Add tests.');
    await until(async () => (await view(a, 'live')).systemMessage === 'Always: You write clean code. Add tests.');
    expect((await view(a, 'live')).conflicts).toBe(0);
    // offline work: the client is cut off, edits, and the node's text changes meanwhile
    one.p.disconnect();
    two.p.destroy();
    text(one.doc).delete(0, 'Always: '.length);
    text(one.doc).insert(0, 'Never: ');
    await ok(a, 'PATCH', '/api/profiles/live', { systemMessage: 'Sometimes: You write clean code. Add tests.' });
    one.p.connect();
    await until(async () => (await view(a, 'live')).conflicts === 1);
    const [c] = await conflicts(a, 'live');
    expect(c).toMatchObject({ field: 'systemMessage', kind: 'text', origin: expect.stringMatching(/^yjs:/) });
    expect([c.ours, c.theirs].sort()).toEqual(['Never: You write clean code. Add tests.', 'Sometimes: You write clean code. Add tests.'].sort());
    // resolving replaces the Y.Text: the connected client follows the new one
    await ok(a, 'POST', `/api/profiles/live/conflicts/${c.id}/resolve`, { keep: 'value', value: 'Often: you write clean code.' });
    await until(() => text(one.doc).toString() === 'Often: you write clean code.');
    text(one.doc).insert(text(one.doc).length, ' Really.');
    await until(async () => (await view(a, 'live')).systemMessage === 'Often: you write clean code. Really.');
    expect((await view(a, 'live')).conflicts).toBe(0);
  }, 60_000);
});
