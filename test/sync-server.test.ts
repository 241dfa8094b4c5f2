/**
 * Cross-package: the stock y-websocket provider against a real node (apps/server + the sync
 * mount), with tokens issued by the server: an editor edits live through /yjs, a viewer token
 * gets a read-only connection, a token scoped to other profiles is refused with 4403.
 */
import { rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';
import { createSyncMount } from '@profilesync/sync';
import { defaultConfig, startServer, type RunningServer } from '@profilesync/server';

const ADMIN = 'sync-server-admin-token-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'sync-server-'));
let node: RunningServer;
const providers: WebsocketProvider[] = [];

async function api<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(node.url + path, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

async function until(fn: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function provider(token: string): { doc: Y.Doc; p: WebsocketProvider; synced: Promise<void>; closed: Promise<{ code: number; reason: string }> } {
  const doc = new Y.Doc();
  const p = new WebsocketProvider(`${node.url.replace(/^http/, 'ws')}/yjs`, 'bot', doc, { WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket, params: { token }, disableBc: true });
  providers.push(p);
  return {
    doc,
    p,
    synced: new Promise((r) => p.on('sync', (s: boolean) => s && r())),
    closed: new Promise((r) => p.on('closed', (e: { code: number; reason: string }) => r(e))),
  };
}

beforeAll(async () => {
  node = await startServer(defaultConfig({ dataDir: join(dir, 'data'), port: 0, logLevel: 'silent' }), { env: {}, adminToken: ADMIN, sync: (ctx) => createSyncMount(ctx) });
  await api('POST', '/api/profiles', { id: 'bot', modelId: 'gpt-4o', name: 'Bot', systemMessage: 'Be brief.' });
});

afterAll(async () => {
  for (const p of providers) p.destroy();
  await node.close();
  rmSync(dir, { recursive: true, force: true });
});

it('editor edits live, viewer is read-only, a token without a grant is refused', async () => {
  const editor = await api<{ id: string; token: string }>('POST', '/api/tokens', { role: 'editor', name: 'ed' });
  const viewer = await api<{ id: string; token: string }>('POST', '/api/tokens', { role: 'viewer', name: 'vi' });
  const scoped = await api<{ id: string; token: string }>('POST', '/api/tokens', { role: 'editor', name: 'sc', profiles: ['other-*'] });

  const ed = provider(editor.token);
  await ed.synced;
  (ed.doc.getMap('profile').get('systemMessage') as Y.Text).insert(0, 'Please ');
  await until(async () => (await api('GET', '/api/profiles/bot')).systemMessage === 'Please Be brief.', 'editor write in the API view');
  const history = await api<{ entries: { origin: string }[] }>('GET', '/api/profiles/bot/history?entries=raw');
  expect(history.entries[0]!.origin).toBe(`yjs:${editor.id}`);

  const vi = provider(viewer.token);
  await vi.synced;
  expect((vi.doc.getMap('profile').get('systemMessage') as Y.Text).toString()).toBe('Please Be brief.');
  // the server answers the first dropped update with a permission-denied auth message (type 2, sub-type 0)
  const denied = new Promise<void>((resolve) =>
    vi.p.ws!.addEventListener('message', (ev: { data: unknown }) => {
      const b = new Uint8Array(ev.data as ArrayBuffer);
      if (b[0] === 2 && b[1] === 0) resolve();
    }),
  );
  (vi.doc.getMap('profile').get('systemMessage') as Y.Text).insert(0, 'HACKED ');
  await denied;
  expect((await api('GET', '/api/profiles/bot')).systemMessage).toBe('Please Be brief.');
  await api('PATCH', '/api/profiles/bot', { name: 'Bot 2' });
  await until(() => vi.doc.getMap('profile').get('name') === 'Bot 2', 'API write reaches the viewer');

  expect(await provider(scoped.token).closed).toEqual({ code: 4403, reason: 'AUTH_FORBIDDEN' });
});
