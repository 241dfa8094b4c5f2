/**
 * Real end to end on 127.0.0.1: stores in temp dirs, real http + ws servers, encrypted sessions.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { peerIdFor, type SyncService } from '../src/index.js';
import { codeOf, ctx, node, peerOf, portable, sample, until, type TestNode } from './helpers.js';

let nodes: TestNode[] = [];
afterEach(async () => {
  await Promise.all(nodes.map((n) => n.close()));
  nodes = [];
});

const idOf = (n: TestNode): string => peerIdFor(n.identity.publicKey);
const fastRedial = { baseMs: 20, capMs: 200, stormCapMs: 400, shortLivedMs: 50 };

async function converged(svc: SyncService, timeoutMs = 10_000): Promise<void> {
  const r = await svc.syncNow({ timeoutMs });
  expect(r.peers.filter((p) => !p.ok)).toEqual([]);
  expect(r.converged).toBe(true);
}

describe('two nodes, then a third', () => {
  it('create, offline edits on both sides, reconnect merge, late joiner, deletes', async () => {
    const a = await node('a');
    const b = await node('b');
    const c = await node('c');
    nodes = [a, b, c];
    a.start({ peers: [peerOf(b, false)] });
    b.start({ peers: [peerOf(a)], backoff: fastRedial });

    // create on A appears on B
    await a.store.create({ id: 'bot', ...sample() }, ctx);
    await until(() => b.store.versionHashes().get('bot') === a.store.versionHashes().get('bot'), 10_000, 'bot on B');
    expect((await b.store.entries('bot'))[0]).toMatchObject({ origin: `peer:${idOf(a)}` });

    // link down: B's sync stops; both edit the same text
    await b.stopSync();
    await until(() => a.sync!.status()[0]!.connected === false, 5_000, 'A sees B gone');
    expect(a.sync!.status()[0]!.lagMillis).toBe(0); // gone, but it has everything A has
    const firstOfflineEdit = Date.now();
    await a.store.update('bot', { systemMessage: 'A: You are a helpful support agent. Answer briefly.' }, ctx);
    await b.store.update('bot', { systemMessage: 'You are a helpful support agent. Answer briefly. B', parameters: { top_p: 0.5 } }, ctx);
    await a.store.create({ id: 'only-a', ...sample({ name: 'Only on A' }) }, ctx);
    expect(a.sync!.status()[0]).toMatchObject({ connected: false, pending: 2 });
    await new Promise((r) => setTimeout(r, 30));
    // lag: the age of A's oldest change B has not confirmed
    const lag = a.sync!.status()[0]!.lagMillis;
    expect(lag).toBeGreaterThanOrEqual(30);
    expect(lag).toBeLessThanOrEqual(Date.now() - firstOfflineEdit);

    // reconnect: both edits merge on both nodes without user action
    b.start({ peers: [peerOf(a)], backoff: fastRedial });
    await until(async () => (await b.store.get('bot')).systemMessage.startsWith('A: ') && b.store.versionHashes().has('only-a'), 10_000, 'merge on B');
    await until(async () => (await a.store.get('bot')).systemMessage.endsWith(' B'), 10_000, 'merge on A');
    await converged(b.sync!);
    const va = await a.store.get('bot');
    expect(va.systemMessage).toBe('A: You are a helpful support agent. Answer briefly. B');
    expect(va.parameters.top_p).toBe(0.5);
    // both edited the system message apart: the merge is reported (issue 13) on both nodes; each
    // node writes the record it detected as an entry of its own, which then syncs like any change
    await converged(a.sync!);
    await until(async () => (await a.store.get('bot')).conflicts === 1 && (await b.store.get('bot')).conflicts === 1, 10_000, 'the conflict on both');
    await converged(b.sync!);
    expect(portable(await b.store.get('bot'))).toBe(portable(await a.store.get('bot')));
    await until(() => a.sync!.status()[0]!.pending === 0, 10_000, 'A has nothing pending');
    expect(a.sync!.status()[0]).toMatchObject({ connected: true, pending: 0, lagMillis: 0 });

    // a third node joins later and catches up with everything
    a.sync!.addPeer(peerOf(c, false));
    c.start({ peers: [peerOf(a)] });
    await converged(c.sync!);
    for (const id of ['bot', 'only-a']) expect(portable(await c.store.get(id))).toBe(portable(await a.store.get(id)));

    // deletes (tombstones) propagate to every node, through A to C as well as from B
    await b.store.delete('only-a', ctx);
    for (const n of [a, c]) await until(async () => (await codeOf(n.store.get('only-a'))) === 'PROFILE_DELETED', 10_000, `delete on ${n.name}`);
    const summaries = await c.store.list({ includeDeleted: true });
    expect(summaries.find((s) => s.id === 'only-a')?.deleted).toBe(true);
    await converged(a.sync!);
  });
});

describe('fast reconnect', () => {
  async function noopReconnectMessages(profiles: number): Promise<number> {
    const a = await node('a');
    const b = await node('b');
    nodes.push(a, b);
    await Promise.all(Array.from({ length: profiles }, (_, i) => a.store.create({ id: `p${i}`, ...sample() }, ctx)));
    a.start({ peers: [peerOf(b, false)] });
    b.start({ peers: [peerOf(a)], backoff: fastRedial });
    await until(() => b.store.versionHashes().size === profiles, 20_000, 'initial sync');
    await converged(b.sync!);
    await b.stopSync();
    const rounds: boolean[] = [];
    a.sync!.on('sync-round', (r) => rounds.push(r.converged));
    b.start({ peers: [peerOf(a)] });
    await until(() => rounds.length > 0, 10_000, 'first round after reconnect');
    expect(rounds).toEqual([true]);
    const stats = a.sync!.connectionOf(idOf(b))!.stats;
    return stats.wsSent + stats.wsReceived;
  }

  it('a reconnect with nothing changed costs the same number of messages at 10 and 300 profiles', async () => {
    const small = await noopReconnectMessages(10);
    const large = await noopReconnectMessages(300);
    // hello, reply, finish (handshake) + ROOT, MATCH
    expect(small).toBe(5);
    expect(large).toBe(small);
  });

  it('after changes, only the changed profiles are exchanged', async () => {
    const a = await node('a');
    const b = await node('b');
    nodes.push(a, b);
    await Promise.all(Array.from({ length: 200 }, (_, i) => a.store.create({ id: `p${i}`, ...sample() }, ctx)));
    a.start({ peers: [peerOf(b, false)] });
    b.start({ peers: [peerOf(a)] });
    await until(() => b.store.versionHashes().size === 200, 20_000, 'initial sync');
    await converged(b.sync!);
    await b.stopSync();
    for (const i of [3, 50, 120]) await a.store.update(`p${i}`, { description: `changed ${i}` }, ctx);
    await b.store.update('p7', { description: 'changed on b' }, ctx);
    const received: string[] = [];
    b.start({ peers: [peerOf(a)] });
    b.sync!.on('update-received', (u) => u.applied && received.push(u.id));
    await until(() => received.length >= 3, 10_000, 'changes pulled');
    await converged(b.sync!);
    expect([...new Set(received)].sort()).toEqual(['p120', 'p3', 'p50']);
    const stats = a.sync!.connectionOf(idOf(b))!.stats;
    expect(stats.wsSent + stats.wsReceived).toBeLessThan(40);
    expect((await a.store.get('p7')).description).toBe('changed on b');
  });
});

describe('connections', () => {
  it('both nodes dial each other: one session survives, the same on both ends', async () => {
    const a = await node('a');
    const b = await node('b');
    nodes = [a, b];
    const closes: number[] = [];
    a.start({ peers: [peerOf(b)], backoff: fastRedial });
    b.start({ peers: [peerOf(a)], backoff: fastRedial });
    for (const s of [a.sync!, b.sync!]) s.on('peer-disconnected', (e) => closes.push(e.code));
    await until(() => a.sync!.status()[0]!.connected && b.sync!.status()[0]!.connected, 10_000, 'connected');
    await a.store.create({ id: 'x', ...sample() }, ctx);
    await converged(a.sync!);
    const sa = a.sync!.status()[0]!;
    const sb = b.sync!.status()[0]!;
    expect(sa.session).toBe(sb.session);
    expect(sa.direction).not.toBe(sb.direction);
    expect(closes.every((c) => c === 4409)).toBe(true);
    expect(b.store.versionHashes().get('x')).toBe(a.store.versionHashes().get('x'));
  });

  it('close() ends sessions with a goodbye and 1001; the peer redials when the node comes back', async () => {
    const a = await node('a');
    const b = await node('b');
    nodes = [a, b];
    a.start({ peers: [peerOf(b, false)] });
    b.start({ peers: [peerOf(a)], backoff: fastRedial });
    await until(() => a.sync!.status()[0]!.connected, 10_000, 'connected');
    const seen: { code: number; clean: boolean }[] = [];
    b.sync!.on('peer-disconnected', (e) => seen.push({ code: e.code, clean: e.clean }));
    await a.stopSync();
    await until(() => seen.length === 1, 5_000, 'B sees the close');
    expect(seen[0]).toEqual({ code: 1001, clean: true });
    await until(() => b.sync!.status()[0]!.state === 'backoff' || b.sync!.status()[0]!.lastError !== null, 5_000, 'B retries');
    a.start({ peers: [peerOf(b, false)] });
    await a.store.create({ id: 'after', ...sample() }, ctx);
    await until(() => b.store.versionHashes().has('after'), 10_000, 'B redialed and synced');
  });

  it('removePeer closes the session (4410) and stops dialing; addPeer dials', async () => {
    const a = await node('a');
    const b = await node('b');
    nodes = [a, b];
    a.start({ peers: [peerOf(b, false)] });
    b.start({ dial: true, backoff: fastRedial });
    const closes: string[] = [];
    b.sync!.on('peer-disconnected', (e) => closes.push(`${e.code} ${e.reason}`));
    b.sync!.addPeer(peerOf(a));
    await until(() => a.sync!.status()[0]!.connected && b.sync!.status()[0]!.connected, 10_000, 'connected');
    b.sync!.removePeer(idOf(a));
    await until(() => !a.sync!.status()[0]!.connected, 5_000, 'A sees the end');
    expect(closes).toEqual(['4410 SYNC_PEER_REMOVED']);
    expect(b.sync!.status()).toEqual([]);
    expect(await codeOf(() => b.sync!.removePeer(idOf(a)))).toBe('SYNC_PEER_NOT_FOUND');
    expect(await codeOf(() => b.sync!.addPeer({ publicKey: 'not-a-key' }))).toBe('SYNC_INVALID_ARGUMENT');
    expect(await codeOf(() => b.sync!.addPeer({ publicKey: b.identity.publicKeyText }))).toBe('SYNC_INVALID_ARGUMENT');
    b.sync!.addPeer(peerOf(a));
    expect(await codeOf(() => b.sync!.addPeer(peerOf(a)))).toBe('SYNC_PEER_EXISTS');
    await until(() => a.sync!.status()[0]!.connected, 10_000, 'reconnected');
  });

  it('syncNow reports unreachable peers and bad timeouts with codes', async () => {
    const a = await node('a');
    const b = await node('b');
    nodes = [a, b];
    const dead = b.url;
    await b.close();
    nodes = [a];
    a.start({ peers: [{ url: dead, publicKey: b.identity.publicKeyText }], backoff: fastRedial });
    const r = await a.sync!.syncNow({ timeoutMs: 3_000 });
    expect(r.converged).toBe(false);
    expect(r.peers[0]).toMatchObject({ id: idOf(b), ok: false, code: 'SYNC_NOT_CONNECTED' });
    expect(await codeOf(a.sync!.syncNow({ timeoutMs: 0 }))).toBe('SYNC_INVALID_ARGUMENT');
    await a.stopSync();
    a.start({});
    expect(await a.sync!.syncNow({ timeoutMs: 100 })).toMatchObject({ converged: true, peers: [] });
  });
});

describe('backpressure', () => {
  it('a peer that stops reading does not stall the others; it catches up through a digest round', async () => {
    const a = await node('a');
    const slow = await node('slow');
    const fast = await node('fast');
    nodes = [a, slow, fast];
    await a.store.create({ id: 'big', ...sample() }, ctx);
    // A dials both; "slow" is the accepting side, so the test holds its server socket
    a.start({ peers: [peerOf(slow), peerOf(fast)], limits: { queueBytes: 256 * 1024 } });
    slow.start({ peers: [peerOf(a, false)] });
    fast.start({ peers: [peerOf(a, false)] });
    await converged(a.sync!);
    const overflows: string[] = [];
    a.sync!.on('queue-overflow', (e) => overflows.push(e.peerId));
    const held = slow.sync!.connectionOf(idOf(a))!;
    held.pauseReading();
    let text = '';
    for (let i = 0; i < 200 && overflows.length === 0; i++) {
      // clear, then insert 200 K characters: ~200 KB updates with trivial text diffs
      text = i % 2 === 0 ? '' : String.fromCharCode(97 + (i % 26)).repeat(200_000);
      await a.store.update('big', { systemMessage: text }, ctx);
    }
    expect(overflows).toEqual([idOf(slow)]);
    // the fast peer got every update while the slow one was stuck
    await until(async () => (await fast.store.get('big')).systemMessage === text, 10_000, 'fast peer current');
    expect(a.sync!.status().find((s) => s.id === idOf(slow))!.pending).toBeGreaterThan(0);
    held.resumeReading();
    await until(async () => (await slow.store.get('big')).systemMessage === text, 20_000, 'slow peer caught up');
    await converged(a.sync!);
    expect(a.sync!.status().find((s) => s.id === idOf(slow))!.pending).toBe(0);
  });
});
