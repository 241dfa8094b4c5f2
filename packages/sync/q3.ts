import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cp, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os'; import { join } from 'node:path';
import { openStore } from '@profilesync/core';
import { NodeIdentity } from '@profilesync/crypto';
import { createSyncService, peerIdFor } from './src/index.js';
const ctx = { actor: 'bench', origin: 'local' };
const SRC = '/tmp/sbench/a';
async function populate(store: any, profiles: number, updates: number) {
  let next = 0;
  const worker = async () => { for (;;) { const i = next++; if (i >= profiles) return; const id = `p${i}`;
    await store.create({ id, modelId: 'gpt-4o', name: `Profile ${i}`, systemMessage: 'You are a helpful assistant.', parameters: { temperature: 0.5 } }, ctx);
    let desc = ''; for (let u = 1; u < updates; u++) { desc += u % 10 === 0 ? '\n' : ` w${u}`; await store.update(id, u % 7 === 0 ? { parameters: { temperature: (u % 20) / 10 } } : { description: desc }, ctx); } } };
  await Promise.all(Array.from({ length: 64 }, worker));
}
try { await stat(SRC); } catch { const s = await openStore({ dir: SRC }); await populate(s, 1000, 100); await s.close(); console.log('populated'); }
async function mk(dir: string) {
  const store = await openStore({ dir }); const { identity } = NodeIdentity.generate();
  const server = createServer(); let sync: any;
  server.on('upgrade', (req, socket, head) => { if (!sync?.handleUpgrade(req, socket, head)) socket.destroy(); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { store, identity, server, url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`, set sync(s: any) { sync = s; }, get sync() { return sync; } };
}
const da = await mkdtemp(join(tmpdir(), 'q3a-')); await cp(SRC, da, { recursive: true });
const db = await mkdtemp(join(tmpdir(), 'q3b-'));
const a = await mk(da), b = await mk(db);
let t = performance.now();
a.sync = createSyncService({ store: a.store, identity: a.identity, peers: [{ publicKey: b.identity.publicKeyText }] });
console.log('A service', (performance.now() - t).toFixed(1));
const bid = peerIdFor(b.identity.publicKey);
const marks: Record<string, number> = {};
a.sync.on('peer-connected', () => (marks.connected = performance.now()));
b.sync = createSyncService({ store: b.store, identity: b.identity, peers: [{ url: a.url, publicKey: a.identity.publicKeyText }] });
let applied = 0;
b.sync.on('update-received', () => { applied++; if (applied === 1) marks.firstApplied = performance.now(); if (applied === 1000) marks.lastApplied = performance.now(); });
const start = performance.now();
await new Promise<void>((r) => a.sync.on('sync-round', (e: any) => { marks['round' + e.round] = performance.now(); if (e.converged) r(); }));
const end = performance.now();
for (const [k, v] of Object.entries(marks)) console.log(k, (v - start).toFixed(1));
console.log('total', (end - start).toFixed(1));
await a.sync.close(); await b.sync.close(); a.server.close(); b.server.close(); await a.store.close(); await b.store.close();
await rm(da, { recursive: true }); await rm(db, { recursive: true });
