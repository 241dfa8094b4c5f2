/**
 * /yjs/:profileId with the stock y-websocket WebsocketProvider (Node, `ws` as the polyfill):
 * live edits go through the store (view, log, origin yjs:<token>), other writers reach the
 * browser side, viewers are read-only (dropped + audited), bad access closes with 44xx codes.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import * as Y from 'yjs';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { WebsocketProvider } from 'y-websocket';
import type { YjsLiveHandle, YjsPrincipal } from '../src/index.js';
import { ctx, node, sample, until, type Store, type TestNode } from './helpers.js';

const SYSTEM = 'You are a helpful support agent. Answer briefly.';
const principal = (actor: string, tokenId: string, write: boolean, read: (id: string) => boolean = () => true): YjsPrincipal => ({
  actor,
  tokenId,
  role: write ? 'editor' : 'viewer',
  canRead: read,
  canWrite: (id) => write && read(id),
});
const TOKENS: Record<string, YjsPrincipal> = {
  'editor-token': { ...principal('erin', 'tok-ed', true), person: 'Erin Example' },
  'shared-token': principal('team', 'tok-team', true),
  'viewer-token': principal('vic', 'tok-view', false),
  'scoped-token': principal('sam', 'tok-scoped', true, (id) => id.startsWith('other')),
};

let a: TestNode;
const providers: WebsocketProvider[] = [];

function startSync(store?: Store): void {
  a.start({
    ...(store ? { store } : {}),
    authenticate: (token) => (token === undefined ? undefined : TOKENS[token]),
    limits: { yjsAuthTimeoutMs: 300 },
  });
}

beforeEach(async () => {
  a = await node('a');
  await a.store.create({ id: 'bot', ...sample({ systemMessage: SYSTEM }) }, ctx);
  startSync();
});
afterEach(async () => {
  for (const p of providers.splice(0)) p.destroy();
  await a.close();
});

function provider(room: string, token: string, doc = new Y.Doc()): { doc: Y.Doc; p: WebsocketProvider; synced: Promise<void>; closed: Promise<{ code: number; reason: string }> } {
  const p = new WebsocketProvider(`${a.url}/yjs`, room, doc, { WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket, params: { token }, disableBc: true });
  providers.push(p);
  const synced = new Promise<void>((r) => p.on('sync', (s: boolean) => s && r()));
  const closed = new Promise<{ code: number; reason: string }>((r) => p.on('closed', (e: { code: number; reason: string }) => r(e)));
  return { doc, p, synced, closed };
}

const text = (doc: Y.Doc, field: string): Y.Text => doc.getMap('profile').get(field) as Y.Text;

describe('stock WebsocketProvider', () => {
  it('edits systemMessage live; the change is in the view and in the log with origin yjs:<token>', async () => {
    const { doc, synced } = provider('bot', 'editor-token');
    await synced;
    expect(text(doc, 'systemMessage').toString()).toBe(SYSTEM);
    text(doc, 'systemMessage').insert(0, 'Hi! ');
    await until(async () => (await a.store.get('bot')).systemMessage === `Hi! ${SYSTEM}`, 10_000, 'store view');
    const [latest] = await a.store.entries('bot', { limit: 1 });
    expect(latest).toMatchObject({ actor: 'erin', origin: 'yjs:tok-ed' });
    // another writer (the API) reaches the client through the room
    await a.store.update('bot', { name: 'Renamed bot' }, ctx);
    await until(() => doc.getMap('profile').get('name') === 'Renamed bot', 10_000, 'client sees the API write');
  });

  it('two clients in a room see each other edits and awareness', async () => {
    const one = provider('bot', 'editor-token');
    const two = provider('bot', 'editor-token');
    await Promise.all([one.synced, two.synced]);
    // the client claims a name; the others see the person its token names (set by an admin),
    // with the colour and cursor it chose (issue 16: presence shows the person)
    one.p.awareness.setLocalStateField('user', { name: 'Mallory (claimed)', color: '#123456' });
    one.p.awareness.setLocalStateField('cursor', { index: 3 });
    type Seen = { user?: { name: string; color: string }; cursor?: { index: number } };
    const ofOne = (): Seen | undefined => two.p.awareness.getStates().get(one.doc.clientID) as Seen | undefined;
    await until(() => ofOne()?.cursor?.index === 3, 10_000, 'awareness');
    expect(ofOne()!.user).toEqual({ name: 'Erin Example', color: '#123456' });
    expect([...two.p.awareness.getStates().values()].some((s) => (s as Seen).user?.name === 'Mallory (claimed)')).toBe(false);
    text(one.doc, 'description').insert(0, '[one] ');
    await until(() => text(two.doc, 'description').toString().startsWith('[one] '), 10_000, 'edit relayed');
  });

  it('a token that names no person (shared by a team) keeps the names its clients give', async () => {
    const one = provider('bot', 'shared-token');
    const two = provider('bot', 'shared-token');
    await Promise.all([one.synced, two.synced]);
    one.p.awareness.setLocalStateField('user', { name: 'Ada', color: '#abcdef' });
    await until(() => (two.p.awareness.getStates().get(one.doc.clientID) as { user?: { name: string } } | undefined)?.user?.name === 'Ada', 10_000, 'the claimed name');
  });

  it('a viewer token is read-only: its edits are dropped, the store is unchanged, the audit shows it', async () => {
    const before = a.store.versionHashes().get('bot');
    const { doc, p, synced } = provider('bot', 'viewer-token');
    await synced;
    const denied = new Promise<string>((resolve) =>
      p.ws!.addEventListener('message', (ev: { data: unknown }) => {
        const d = decoding.createDecoder(new Uint8Array(ev.data as ArrayBuffer));
        if (decoding.readVarUint(d) === 2 && decoding.readVarUint(d) === 0) resolve(decoding.readVarString(d));
      }),
    );
    text(doc, 'systemMessage').insert(0, 'HACKED ');
    text(doc, 'systemMessage').insert(0, 'AGAIN ');
    expect(await denied).toContain('read-only');
    p.destroy();
    await until(async () => (await a.store.audit({ action: 'auth.denied', profile: 'bot' })).length > 0, 10_000, 'audit');
    const [record] = await a.store.audit({ action: 'auth.denied', profile: 'bot' });
    expect(record).toMatchObject({ actor: 'vic', origin: 'yjs:tok-view', outcome: 'denied', details: { reason: 'read-only', droppedUpdates: 2 } });
    expect(a.store.versionHashes().get('bot')).toBe(before);
    expect((await a.store.get('bot')).systemMessage).toBe(SYSTEM);
  });

  it('an update that breaks validation closes with 4422 PROFILE_INVALID and changes nothing', async () => {
    const before = a.store.versionHashes().get('bot');
    const { doc, synced, closed } = provider('bot', 'editor-token');
    await synced;
    doc.getMap('profile').set('name', 42);
    expect(await closed).toEqual({ code: 4422, reason: 'PROFILE_INVALID' });
    expect(a.store.versionHashes().get('bot')).toBe(before);
    expect((await a.store.audit({ action: 'sync.rejected' }))[0]).toMatchObject({ origin: 'yjs:tok-ed', profile: 'bot' });
  });

  it('an editor socket may not set labels, schema, id or deleted, nor write another root: 4422 PROFILE_READONLY_FIELD (the provider stops), nothing changes', async () => {
    const before = a.store.versionHashes().get('bot');
    const writes: ((doc: Y.Doc) => void)[] = [
      (doc) => doc.getMap('profile').set('deleted', true),
      (doc) => doc.getMap('profile').set('schema', 3),
      (doc) => doc.getMap('profile').set('id', 'other'),
      (doc) => doc.getMap('versions').set('forged', { at: 1 }),
    ];
    for (const write of writes) {
      const { doc, synced, closed } = provider('bot', 'editor-token');
      await synced;
      write(doc);
      expect(await closed).toEqual({ code: 4422, reason: 'PROFILE_READONLY_FIELD' });
    }
    expect(a.store.versionHashes().get('bot')).toBe(before);
    expect((await a.store.get('bot')).deleted).toBe(false);
    const rejected = await a.store.audit({ action: 'sync.rejected', profile: 'bot' });
    expect(rejected.map((r) => r.details?.['path']).sort()).toEqual(['deleted', 'id', 'schema', 'versions']);
  });

  it('no grant, unknown and deleted profiles, bad tokens: 4403, 4404, 4410, 4401 (the provider stops reconnecting)', async () => {
    await a.store.create({ id: 'gone', ...sample() }, ctx);
    await a.store.delete('gone', ctx);
    expect(await provider('bot', 'scoped-token').closed).toEqual({ code: 4403, reason: 'AUTH_FORBIDDEN' });
    expect(await provider('nope', 'editor-token').closed).toEqual({ code: 4404, reason: 'PROFILE_NOT_FOUND' });
    expect(await provider('gone', 'editor-token').closed).toEqual({ code: 4410, reason: 'PROFILE_DELETED' });
    expect(await provider('bot', 'wrong-token').closed).toEqual({ code: 4401, reason: 'AUTH_UNAUTHORIZED' });
    const reasons = async (): Promise<unknown[]> => (await a.store.audit({ action: 'auth.denied' })).map((d) => d.details?.['reason']).sort();
    await until(async () => (await reasons()).length === 2, 5_000, 'audit');
    expect(await reasons()).toEqual(['AUTH_FORBIDDEN', 'AUTH_UNAUTHORIZED']);
  });

  it('an id no profile can have (escaped slashes, NUL, over 128 characters, a bad escape) closes 4400 PROFILE_INVALID_ID, as the HTTP API answers it', async () => {
    for (const room of ['..%2F..', '%00', 'a'.repeat(200), '%E0%A4%A', '.hidden']) {
      expect([room, await provider(room, 'editor-token').closed]).toEqual([room, { code: 4400, reason: 'PROFILE_INVALID_ID' }]);
    }
    // a valid id that names no profile is still 4404
    expect(await provider('a'.repeat(128), 'editor-token').closed).toEqual({ code: 4404, reason: 'PROFILE_NOT_FOUND' });
  });
});

describe('live access (revocation, grant changes, deletion)', () => {
  /** A principal whose access the test changes while its socket is open, with a watch registry. */
  function mutable(tokenId: string) {
    const access = { read: true, write: true };
    const handles = new Set<YjsLiveHandle>();
    const p: YjsPrincipal = {
      actor: tokenId,
      tokenId,
      role: 'editor',
      canRead: () => access.read,
      canWrite: () => access.read && access.write,
      watch: (h) => {
        handles.add(h);
        return () => handles.delete(h);
      },
    };
    return { access, handles, p };
  }

  it('every write asks canWrite again: a token that lost write access is refused even if nobody told the socket', async () => {
    const m = mutable('tok-live');
    await a.stopSync();
    a.start({ authenticate: (t) => (t === 'live' ? m.p : undefined) });
    const before = a.store.versionHashes().get('bot');
    const { doc, p, synced } = provider('bot', 'live');
    await synced;
    expect([...m.handles].map((h) => [h.kind, h.profile])).toEqual([['yjs', 'bot']]);
    const denied = new Promise<string>((resolve) =>
      p.ws!.addEventListener('message', (ev: { data: unknown }) => {
        const d = decoding.createDecoder(new Uint8Array(ev.data as ArrayBuffer));
        if (decoding.readVarUint(d) === 2 && decoding.readVarUint(d) === 0) resolve(decoding.readVarString(d));
      }),
    );
    m.access.write = false; // no refresh(): only the per-write check can catch it
    text(doc, 'systemMessage').insert(0, 'LATE ');
    expect(await denied).toContain('read-only');
    await a.store.update('bot', { name: 'after' }, ctx); // queued behind any write the socket caused
    expect((await a.store.get('bot')).systemMessage).toBe(SYSTEM);
    expect(a.store.versionHashes().get('bot')).not.toBe(before); // (the API write)
  });

  it('watch handles: close() ends the socket with the given code; refresh() closes 4403 when unreadable; both unregister', async () => {
    const m = mutable('tok-watch');
    await a.stopSync();
    a.start({ authenticate: (t) => (t === 'watch' ? m.p : undefined) });
    const one = provider('bot', 'watch');
    await one.synced;
    const [h1] = [...m.handles];
    h1!.close('AUTH_UNAUTHORIZED');
    expect(await one.closed).toEqual({ code: 4401, reason: 'AUTH_UNAUTHORIZED' });
    await until(() => m.handles.size === 0, 5_000, 'unregistered');

    const two = provider('bot', 'watch');
    await two.synced;
    const [h2] = [...m.handles];
    m.access.write = false;
    expect(h2!.refresh()).toBe('kept');
    m.access.read = false;
    expect(h2!.refresh()).toBe('closed');
    expect(await two.closed).toEqual({ code: 4403, reason: 'AUTH_FORBIDDEN' });
    await until(() => m.handles.size === 0, 5_000, 'unregistered');
  });

  it("deleting the profile (here, from the API side of the store) closes its sockets with 4410", async () => {
    const one = provider('bot', 'editor-token');
    const two = provider('bot', 'viewer-token');
    await Promise.all([one.synced, two.synced]);
    await a.store.delete('bot', ctx);
    expect(await one.closed).toEqual({ code: 4410, reason: 'PROFILE_DELETED' });
    expect(await two.closed).toEqual({ code: 4410, reason: 'PROFILE_DELETED' });
  });
});

describe('raw protocol', () => {
  function connect(path: string): { ws: WebSocket; messages: Uint8Array[]; closed: Promise<{ code: number; reason: string }>; opened: Promise<void> } {
    const ws = new WebSocket(`${a.url}${path}`);
    const messages: Uint8Array[] = [];
    ws.on('message', (d: Buffer) => messages.push(new Uint8Array(d)));
    ws.on('error', () => undefined);
    const closed = new Promise<{ code: number; reason: string }>((r) => ws.on('close', (code, reason) => r({ code, reason: reason.toString() })));
    const opened = new Promise<void>((r) => ws.once('open', () => r()));
    return { ws, messages, closed, opened };
  }
  const step1 = (sv: Uint8Array): Uint8Array => {
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, 0);
    encoding.writeVarUint(e, 0);
    encoding.writeVarUint8Array(e, sv);
    return encoding.toUint8Array(e);
  };

  it('token in a first auth message instead of ?token=; no auth at all times out (4401)', async () => {
    const c = connect('/yjs/bot');
    await c.opened;
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, 2);
    encoding.writeVarUint(e, 1);
    encoding.writeVarString(e, 'editor-token');
    c.ws.send(encoding.toUint8Array(e));
    await until(() => c.messages.length > 0, 5_000, 'server step 1');
    expect([...c.messages[0]!.slice(0, 2)]).toEqual([0, 0]);
    c.ws.close();
    const silent = connect('/yjs/bot');
    expect(await silent.closed).toEqual({ code: 4401, reason: 'YJS_AUTH_TIMEOUT' });
    const garbage = connect('/yjs/bot?token=editor-token');
    await garbage.opened;
    garbage.ws.send(new Uint8Array([0, 9, 1, 1]));
    expect(await garbage.closed).toEqual({ code: 4400, reason: 'YJS_BAD_MESSAGE' });
    // an auth message of an unknown sub-type, or a cut one, is malformed too (it was ignored)
    for (const bad of [new Uint8Array([2, 9]), new Uint8Array([2, 1, 5, 0x61])]) {
      const c2 = connect('/yjs/bot?token=editor-token');
      await c2.opened;
      c2.ws.send(bad);
      expect(await c2.closed).toEqual({ code: 4400, reason: 'YJS_BAD_MESSAGE' });
    }
  });

  it('does not answer sync before the profile is loaded from disk (y-websocket #81)', async () => {
    await a.stopSync();
    let loads = 0;
    // the real store, with its disk read held back for 300 ms
    const slow = new Proxy(a.store, {
      get(target, prop) {
        if (prop === 'encodeStateAsUpdate') {
          return async (...args: Parameters<Store['encodeStateAsUpdate']>) => {
            loads++;
            await new Promise((r) => setTimeout(r, 300));
            return target.encodeStateAsUpdate(...args);
          };
        }
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...x: unknown[]) => unknown).bind(target) : v;
      },
    });
    startSync(slow);
    const c = connect('/yjs/bot?token=editor-token');
    await c.opened;
    c.ws.send(step1(Y.encodeStateVector(new Y.Doc())));
    await until(() => c.messages.length >= 2, 5_000, 'answers');
    expect(loads).toBe(1);
    // first the server's step 1, then the answer to ours: step 2 with the whole profile
    const d = decoding.createDecoder(c.messages[1]!);
    expect([decoding.readVarUint(d), decoding.readVarUint(d)]).toEqual([0, 1]);
    const doc = new Y.Doc();
    Y.applyUpdate(doc, decoding.readVarUint8Array(d));
    expect(text(doc, 'systemMessage').toString()).toBe(SYSTEM);
    c.ws.close();
  });
});
