/**
 * A sync peer in its own process, driven by sync.bench.ts over IPC (two nodes are two
 * processes in every real deployment; in one process their CPU work adds up).
 *   -> { type: 'ready', url, publicKey }                      store, http server and identity are up
 *   <- { type: 'start', peer: { url, publicKey } }            start the sync service (it dials the peer)
 *   <- { type: 'hashes' }  -> { type: 'hashes', entries }     the store's version hashes
 *   <- { type: 'close' }   -> exits after closing everything
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '@profilesync/core';
import { NodeIdentity } from '@profilesync/crypto';
import { createSyncService, type SyncService } from '@profilesync/sync';

type In = { type: 'start'; peer: { url: string; publicKey: string } } | { type: 'hashes' } | { type: 'close' };

const send = (m: unknown): void => {
  process.send?.(m);
};

const dir = await mkdtemp(join(tmpdir(), 'bench-sync-child-'));
const store = await openStore({ dir });
const { identity } = NodeIdentity.generate();
let sync: SyncService | undefined;
const server = createServer((_q, r) => r.writeHead(404).end());
server.on('upgrade', (req, socket, head) => {
  if (!sync?.handleUpgrade(req, socket, head)) socket.destroy();
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));

process.on('message', (m: In) => {
  void (async () => {
    if (m.type === 'start') {
      sync = createSyncService({ store, identity, peers: [m.peer] });
    } else if (m.type === 'hashes') {
      send({ type: 'hashes', entries: [...store.versionHashes()] });
    } else if (m.type === 'close') {
      await sync?.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await store.close();
      await rm(dir, { recursive: true, force: true });
      process.disconnect?.();
      process.exit(0);
    }
  })().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
});

send({ type: 'ready', url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`, publicKey: identity.publicKeyText });
