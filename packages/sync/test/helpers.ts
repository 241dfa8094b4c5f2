import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type ProfileInput, type ProfileView, type WriteContext } from '@profilesync/core';
import { NodeIdentity } from '@profilesync/crypto';
import { createSyncService, type SyncService, type SyncServiceOptions } from '../src/index.js';

export const ctx: WriteContext = { actor: 'alice', origin: 'local' };

export type Store = Awaited<ReturnType<typeof openStore>>;

export async function tempDir(prefix = 'sync-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export interface TestNode {
  name: string;
  dir: string;
  store: Store;
  identity: NodeIdentity;
  server: Server;
  url: string;
  sync: SyncService | undefined;
  /** starts (or restarts) the sync service with these options */
  start(opts?: Partial<SyncServiceOptions>): SyncService;
  stopSync(): Promise<void>;
  close(): Promise<void>;
}

/** A node: store in a temp dir, identity, an HTTP server on 127.0.0.1 routing upgrades to its sync service. */
export async function node(name: string): Promise<TestNode> {
  const dir = await tempDir(`sync-${name}-`);
  const store = await openStore({ dir });
  const { identity } = NodeIdentity.generate();
  const server = createServer((_req, res) => res.writeHead(404).end());
  const n: TestNode = {
    name,
    dir,
    store,
    identity,
    server,
    url: '',
    sync: undefined,
    start(opts = {}) {
      n.sync = createSyncService({ store, identity, ...opts });
      return n.sync;
    },
    async stopSync() {
      await n.sync?.close();
      n.sync = undefined;
    },
    async close() {
      await n.stopSync();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  server.on('upgrade', (req, socket, head) => {
    if (!n.sync || !n.sync.handleUpgrade(req, socket, head)) socket.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  n.url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return n;
}

export function peerOf(n: TestNode, withUrl = true): { url?: string; publicKey: string; name: string } {
  return { ...(withUrl ? { url: n.url } : {}), publicKey: n.identity.publicKeyText, name: n.name };
}

export const sample = (over: Partial<ProfileInput> = {}): ProfileInput => ({
  modelId: 'gpt-4o',
  name: 'Support bot',
  description: 'Answers support questions',
  systemMessage: 'You are a helpful support agent. Answer briefly.',
  templates: { greet: 'Hello {{name}}, how can I help?' },
  parameters: { temperature: 0.7, max_tokens: 512 },
  meta: { tags: ['support'] },
  ...over,
});

/** Content + version: what converged peers hold byte for byte (updatedAt/updatedBy are per node). */
export function portable(v: ProfileView): string {
  const { updatedAt: _a, updatedBy: _b, ...rest } = v;
  return JSON.stringify(sortKeys(rest));
}

function sortKeys(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(sortKeys);
  if (x && typeof x === 'object') return Object.fromEntries(Object.keys(x).sort().map((k) => [k, sortKeys((x as Record<string, unknown>)[k])]));
  return x;
}

/** Polls `fn` until it returns true (real sockets: no clock to inject); fails after `ms`. */
export async function until(fn: () => boolean | Promise<boolean>, ms = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export async function codeOf(p: unknown): Promise<string | undefined> {
  try {
    await (typeof p === 'function' ? (p as () => unknown)() : p);
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

export async function viewOrUndefined(store: Store, id: string): Promise<ProfileView | undefined> {
  try {
    return await store.get(id);
  } catch {
    return undefined;
  }
}
