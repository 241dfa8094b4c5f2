/**
 * Tokens and run-time peers each live in one aux record of the real log (AuxTable): an
 * unreadable record is a coded error, concurrent writes all land and survive a reopen, and a
 * write that fails changes nothing in memory.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openNode, PeerStore, TokenStore, type NodeHandle } from '../src/index.js';
import { TOKENS_AUX } from '../src/auth/tokens.js';
import { PEERS_AUX } from '../src/peers.js';
import { tempDir } from './helpers.js';

const dirs: string[] = [];
const nodes: NodeHandle[] = [];

afterEach(async () => {
  for (const n of nodes.splice(0)) await n.close().catch(() => undefined);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function open(dataDir?: string): Promise<{ node: NodeHandle; dataDir: string }> {
  const dir = dataDir ?? join(tempDir('ps-aux-'), 'data');
  if (!dataDir) dirs.push(join(dir, '..'));
  const node = await openNode({ dataDir: dir, create: true });
  nodes.push(node);
  return { node, dataDir: dir };
}

const peerKey = () => randomBytes(32).toString('base64url');
const codeOf = (p: Promise<unknown>) => p.then(() => 'resolved', (err: { code?: string }) => err.code);

describe('aux tables (tokens, peers)', () => {
  it('an unreadable record is TOKEN_STORE_CORRUPT / PEER_STORE_CORRUPT', async () => {
    const { node } = await open();
    for (const bytes of ['{not json', '{"an":"object"}']) {
      await node.log.putAux(TOKENS_AUX, Buffer.from(bytes));
      await node.log.putAux(PEERS_AUX, Buffer.from(bytes));
      expect(await codeOf(TokenStore.open(node.log))).toBe('TOKEN_STORE_CORRUPT');
      expect(await codeOf(PeerStore.open(node.log, []))).toBe('PEER_STORE_CORRUPT');
    }
  });

  it('concurrent writes are serialized: every one lands and survives a reopen', async () => {
    const { node, dataDir } = await open();
    const tokens = await TokenStore.open(node.log);
    const peers = await PeerStore.open(node.log, []);
    const names = ['a', 'b', 'c', 'd', 'e'];
    const keys = names.map(peerKey);
    await Promise.all([
      ...names.map((name) => tokens.create({ name, role: 'viewer' }, 'test')),
      ...keys.map((key, i) => peers.add({ url: `ws://127.0.0.1:${7000 + i}/sync`, key })),
    ]);
    expect(tokens.list().map((t) => t.name).sort()).toEqual(names);
    expect(peers.list()).toHaveLength(names.length);
    await node.close();

    const again = await open(dataDir);
    expect((await TokenStore.open(again.node.log)).list().map((t) => t.name).sort()).toEqual(names);
    expect((await PeerStore.open(again.node.log, [])).list().map((p) => p.key).sort()).toEqual([...keys].sort());
  });

  it('a write the log refuses changes nothing in memory', async () => {
    const { node } = await open();
    const tokens = await TokenStore.open(node.log);
    const peers = await PeerStore.open(node.log, []);
    const { info } = await tokens.create({ name: 'kept', role: 'admin' }, 'test');
    const peer = await peers.add({ url: 'ws://127.0.0.1:7001/sync', key: peerKey() });
    await node.close();

    expect(await codeOf(tokens.create({ name: 'lost', role: 'viewer' }, 'test'))).toBe('LOG_CLOSED');
    expect(await codeOf(peers.add({ url: 'ws://127.0.0.1:7002/sync', key: peerKey() }))).toBe('LOG_CLOSED');
    expect(await codeOf(peers.remove(peer.id))).toBe('LOG_CLOSED');
    expect(tokens.list().map((t) => t.id)).toEqual([info.id]);
    expect(peers.list().map((p) => p.id)).toEqual([peer.id]);
  });
});
