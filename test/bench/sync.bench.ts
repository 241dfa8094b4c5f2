/**
 * @profilesync/sync benchmarks: real stores in temp dirs, real http + ws servers on 127.0.0.1,
 * encrypted sessions (handshake + secretbox frames).
 *   sync-initial:        A holds 1000 profiles x 100 updates, B is empty: B dials, time until the
 *                        first converged digest round (B has applied everything durably). Goal < 500 ms (17.5).
 *                        B in A's process; the same copy with B in its own, freshly started process
 *                        (sync-peer-child.ts, as two nodes run) is reported beside it
 *                        (sync-initial-two-processes: no shared CPU, but B's code is not yet compiled).
 *                        Anchor: the same encode + apply through the stores without network, crypto
 *                        or protocol, in one process.
 *   sync-live-latency:   store.update on A until B's durable change event for it (two fsyncs on
 *                        the path: A's append, then B's). p50/p99 over 300 edits. Goal p99 <= 2x the
 *                        floor below (17.3).
 *                        Anchor in the same run: two raw LevelDB batches one after the other
 *                        (entry + head + view sized like an edit's, sync: true), no other JS,
 *                        in a process of its own (raw-sync-child.ts), one pair after each sample:
 *                        the disk as the samples found it. The same floor measured after the
 *                        samples in this process (the anchor before 17.3) is in extra (rawAfterP99,
 *                        ratioToRawAfter); `met` needs the goal against both.
 *                        sync-live-latency-two-processes: the same with B in its own process
 *                        (sync-peer-child.ts; B's change event is timed on B's clock, mapped onto
 *                        A's by the fastest of 50 IPC round trips), as two nodes run.
 *   sync-reconnect-noop: 10,000 profiles on both, nothing changed: the session drops, then
 *                        connect() -> converged round (TCP + ws upgrade + handshake + ROOT/MATCH).
 *                        Goal < 50 ms and a constant message count (the same run at 1,000 is in extra).
 * Sizes: SYNC_BENCH_PROFILES, SYNC_BENCH_UPDATES, SYNC_BENCH_NOOP_PROFILES.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { openStore } from '@profilesync/core';
import { NodeIdentity, parsePublicKey } from '@profilesync/crypto';
import { createSyncService, peerIdFor, type SyncService, type SyncServiceOptions } from '@profilesync/sync';
import { nowMs, result, summarize, type BenchCase } from './harness.js';
import { rawSyncPair } from './raw-sync-pair.js';

type Store = Awaited<ReturnType<typeof openStore>>;
const ctx = { actor: 'bench', origin: 'local' };
const envInt = (name: string, dflt: number): number => {
  const v = Number(process.env[name]);
  return Number.isInteger(v) && v > 0 ? v : dflt;
};

interface Node {
  dir: string;
  store: Store;
  identity: NodeIdentity;
  server: Server;
  url: string;
  sync?: SyncService;
  start(opts: Partial<SyncServiceOptions>): SyncService;
  /** closes and reopens the store (cold caches); only while no sync service runs */
  reopen(): Promise<void>;
  close(): Promise<void>;
}

export async function benchNode(name: string): Promise<Node> {
  const dir = await mkdtemp(join(tmpdir(), `bench-sync-${name}-`));
  const store = await openStore({ dir });
  const { identity } = NodeIdentity.generate();
  const server = createServer((_q, r) => r.writeHead(404).end());
  const n: Node = {
    dir,
    store,
    identity,
    server,
    url: '',
    start(opts) {
      n.sync = createSyncService({ store: n.store, identity, ...opts });
      return n.sync;
    },
    async reopen() {
      await n.store.close();
      n.store = await openStore({ dir });
    },
    async close() {
      await n.sync?.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await n.store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  server.on('upgrade', (req, socket, head) => {
    if (!n.sync?.handleUpgrade(req, socket, head)) socket.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  n.url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return n;
}

/** CPU (user + system) of a process.cpuUsage() difference, in ms */
const cpuMs = (u: NodeJS.CpuUsage): number => Math.round((u.user + u.system) / 1000);

const peer = (n: Node, withUrl: boolean) => ({ ...(withUrl ? { url: n.url } : {}), publicKey: n.identity.publicKeyText });

function firstRound(svc: SyncService, peerId: string): Promise<boolean> {
  return new Promise((resolve) => {
    const off = svc.on('sync-round', (r) => {
      if (r.peerId !== peerId) return;
      if (r.converged) {
        off();
        resolve(true);
      }
    });
  });
}

async function populate(store: Store, profiles: number, updates: number, prefix = 'p'): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= profiles) return;
      const id = `${prefix}${i}`;
      await store.create({ id, modelId: 'gpt-4o', name: `Profile ${i}`, systemMessage: 'You are a helpful assistant.', parameters: { temperature: 0.5 } }, ctx);
      let desc = '';
      for (let u = 1; u < updates; u++) {
        desc += u % 10 === 0 ? '\n' : ` w${u}`;
        await store.update(id, u % 7 === 0 ? { parameters: { temperature: (u % 20) / 10 } } : { description: desc }, ctx);
      }
    }
  };
  await Promise.all(Array.from({ length: 64 }, worker));
}

/** The same copy without network, crypto or protocol: 64 workers, each encodeStateAsUpdate on A then applyRemoteUpdate on C. */
async function coreOnlyCopy(from: Store, to: Store): Promise<number> {
  const ids = [...from.versionHashes().keys()];
  const peerCtx = { actor: 'peer:bench', origin: 'peer:bench' };
  let next = 0;
  const t0 = nowMs();
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      for (;;) {
        const i = next++;
        if (i >= ids.length) return;
        const id = ids[i] as string;
        await to.applyRemoteUpdate(id, await from.encodeStateAsUpdate(id), peerCtx);
      }
    }),
  );
  return nowMs() - t0;
}

interface ChildPeer {
  ready: { url: string; publicKey: string };
  send(m: unknown): void;
  /** the next message of this type (after sending `m`) */
  ask<T>(m: { type: string }, type: string): Promise<T>;
  onMessage(listener: (m: { type: string }) => void): void;
  /** the child's version hashes, and its CPU (user + system, ms) since 'start' */
  hashes(): Promise<{ entries: [string, string][]; cpuMs: number }>;
  close(): Promise<void>;
}

/** Forks a bench child (same conditions and loader as this process); `next(type)` resolves with its next message of that type. */
function forkChild(file: string, what: string): { child: ChildProcess; next<T>(type: string): Promise<T> } {
  const child = fork(new URL(file, import.meta.url), { execArgv: ['--conditions=@profilesync/source', '--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const next = <T>(type: string): Promise<T> =>
    new Promise((resolve, reject) => {
      const onMessage = (m: { type: string }): void => {
        if (m.type !== type) return;
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(m as T);
      };
      const onExit = (code: number | null): void => reject(new Error(`${what} exited with ${code}`));
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  return { child, next };
}

/** Starts test/bench/sync-peer-child.ts. */
async function startChildPeer(): Promise<ChildPeer> {
  const { child, next } = forkChild('./sync-peer-child.ts', 'sync peer child');
  const ready = await next<{ url: string; publicKey: string }>('ready');
  return {
    ready,
    send: (m) => child.send(m as never),
    ask: async <T>(m: { type: string }, type: string) => {
      const got = next<T>(type);
      child.send(m);
      return got;
    },
    onMessage: (listener) => void child.on('message', listener),
    hashes: async () => {
      const got = next<{ entries: [string, string][]; cpuMs: number }>('hashes');
      child.send({ type: 'hashes' });
      return got;
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.send({ type: 'close' });
      }),
  };
}

const syncInitial: BenchCase = {
  name: 'sync-initial',
  async run() {
    const profiles = envInt('SYNC_BENCH_PROFILES', 1000);
    const updates = envInt('SYNC_BENCH_UPDATES', 100);
    const a = await benchNode('a');
    const b = await benchNode('b');
    const c = await benchNode('c');
    try {
      const t0 = nowMs();
      await populate(a.store, profiles, updates);
      // close the runs populate left open now: otherwise every reopen of A below resumes them and
      // closes them 5 s later (the idle gap), in the middle of a timed copy, so A's state (and
      // the versions B must end with) would change while B syncs
      await a.store.flushVersions();
      const setupMs = nowMs() - t0;
      // anchor first, each run from a freshly opened (cold) store on A
      await a.reopen();
      const anchorMs = await coreOnlyCopy(a.store, c.store);
      const converges = (hashes: Iterable<[string, string]>): boolean => {
        const got = new Map(hashes);
        return got.size === profiles && [...a.store.versionHashes()].every(([id, h]) => got.get(id) === h);
      };

      // B in its own process
      await a.reopen();
      const child = await startChildPeer();
      const childId = peerIdFor(parsePublicKey(child.ready.publicKey));
      const sa = a.start({ peers: [{ publicKey: child.ready.publicKey }] });
      const done = firstRound(sa, childId);
      const cpu0 = process.cpuUsage();
      const start = nowMs();
      child.send({ type: 'start', peer: peer(a, true) });
      await done;
      const ms = nowMs() - start;
      const cpuA = process.cpuUsage(cpu0);
      const stats = sa.connectionOf(childId)!.stats;
      const messages = stats.wsSent + stats.wsReceived;
      const childState = await child.hashes();
      if (!converges(childState.entries)) throw new Error('sync-initial: B (child process) did not converge');
      await child.close();
      await a.sync?.close();
      a.sync = undefined;

      // B in A's process
      await a.reopen();
      const sa1 = a.start({ peers: [peer(b, false)] });
      const done1 = firstRound(sa1, peerIdFor(b.identity.publicKey));
      const cpu1 = process.cpuUsage();
      const start1 = nowMs();
      b.start({ peers: [peer(a, true)] });
      await done1;
      const ms1 = nowMs() - start1;
      const cpuAB = process.cpuUsage(cpu1);
      if (!converges(b.store.versionHashes())) throw new Error('sync-initial: B did not converge');
      const anchor = {
        baseline: 'core only: encodeStateAsUpdate on A + applyRemoteUpdate on C, 64 workers, no network/crypto, one process',
        baselineValue: anchorMs,
      };
      const extra = { profiles, updatesPerProfile: updates, messages, populateMs: Math.round(setupMs) };
      return [
        result({ name: 'sync-initial', unit: 'ms', value: ms1, ...anchor, goal: '< 500 ms (issue 17.5)', met: ms1 < 500, extra: { ...extra, b: "in A's process", cpuMs: cpuMs(cpuAB) } }),
        result({ name: 'sync-initial-two-processes', unit: 'ms', value: ms, ...anchor, goal: '< 500 ms (issue 17.5)', met: ms < 500, extra: { ...extra, b: 'own process, freshly started (cold JIT)', aCpuMs: cpuMs(cpuA), bCpuMs: childState.cpuMs } }),
      ];
    } finally {
      await c.close();
      await b.close();
      await a.close();
    }
  },
};

/** The disk floor of the live path, measured after the samples in this process: two sequential sync'd raw LevelDB batches per sample. */
async function rawTwoSyncWrites(samples: number): Promise<number[]> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-sync-raw-'));
  const db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  try {
    const out: number[] = [];
    for (let i = 0; i < samples + 20; i++) {
      const ms = await rawSyncPair(db, i);
      if (i >= 20) out.push(ms);
    }
    return out;
  } finally {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The same floor in its own process (raw-sync-child.ts), one pair on request: sampled between the live samples. */
async function startRawFloor(): Promise<{ pair(): Promise<number>; close(): Promise<void> }> {
  const { child, next } = forkChild('./raw-sync-child.ts', 'raw floor child');
  await next('ready');
  return {
    pair: async () => {
      const got = next<{ ms: number }>('pair');
      child.send({ type: 'pair' });
      return (await got).ms;
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.send({ type: 'close' });
      }),
  };
}

type Floor = Awaited<ReturnType<typeof startRawFloor>>;

/**
 * 320 edits on A (20 warm-up), each timed from store.update on A until `durable(version)`
 * resolves with the time (this process's nowMs) B's change event for it happened; a floor pair
 * right after each.
 */
async function liveSamples(a: Node, floor: Floor, durable: (version: string) => Promise<number>): Promise<{ samples: number[]; appendOnly: number[]; floorPairs: number[] }> {
  const samples: number[] = [];
  const floorPairs: number[] = [];
  const appendOnly: number[] = [];
  let text = (await a.store.get('live')).systemMessage;
  for (let i = 0; i < 320; i++) {
    text += ` ${i}`;
    const t0 = nowMs();
    const view = await a.store.update('live', { systemMessage: text }, ctx);
    const t1 = nowMs();
    const t2 = await durable(view.version);
    // the floor's pair right after each sample (never during one): the disk as the sample found it
    const pair = await floor.pair();
    if (i >= 20) {
      samples.push(t2 - t0);
      appendOnly.push(t1 - t0);
      floorPairs.push(pair);
    }
  }
  return { samples, appendOnly, floorPairs };
}

/**
 * B in its own process (sync-peer-child.ts): its change events come with its clock, mapped onto
 * ours by the offset seen in the fastest of 50 round trips (error at most half that round trip).
 */
async function liveSamplesTwoProcesses(a: Node, floor: Floor): Promise<Awaited<ReturnType<typeof liveSamples>> & { clockOffsetMs: number; clockRoundTripMs: number }> {
  const child = await startChildPeer();
  try {
    const childId = peerIdFor(parsePublicKey(child.ready.publicKey));
    const sa = a.start({ peers: [{ publicKey: child.ready.publicKey }] });
    const first = firstRound(sa, childId);
    child.send({ type: 'start', peer: peer(a, true) });
    await first;
    const want = a.store.versionHashes().get('live');
    while (new Map((await child.hashes()).entries).get('live') !== want) await sa.syncNow({ timeoutMs: 10_000 });
    let best = Infinity;
    let offset = 0;
    for (let i = 0; i < 50; i++) {
      const before = nowMs();
      const { at } = await child.ask<{ at: number }>({ type: 'clock' }, 'clock');
      const after = nowMs();
      if (after - before < best) {
        best = after - before;
        offset = at - (before + after) / 2;
      }
    }
    const seen = new Map<string, number>();
    let waiting: { version: string; resolve: (at: number) => void } | undefined;
    child.onMessage((m) => {
      const c = m as { type: string; id: string; version: string; at: number };
      if (c.type !== 'change' || c.id !== 'live') return;
      const at = c.at - offset;
      if (waiting?.version === c.version) waiting.resolve(at);
      else seen.set(c.version, at);
    });
    await child.ask({ type: 'watch' }, 'watching');
    const r = await liveSamples(a, floor, (version) => {
      const at = seen.get(version);
      seen.clear();
      if (at !== undefined) return Promise.resolve(at);
      return new Promise<number>((resolve) => (waiting = { version, resolve }));
    });
    return { ...r, clockOffsetMs: offset, clockRoundTripMs: best };
  } finally {
    await a.sync?.close();
    a.sync = undefined;
    await child.close();
  }
}

const syncLiveLatency: BenchCase = {
  name: 'sync-live-latency',
  async run() {
    const a = await benchNode('a');
    const b = await benchNode('b');
    const floor = await startRawFloor();
    try {
      a.start({ peers: [peer(b, false)] });
      const sb = b.start({ peers: [peer(a, true)] });
      await a.store.create({ id: 'live', modelId: 'gpt-4o', name: 'Live', systemMessage: 'Start.' }, ctx);
      for (;;) {
        const r = await sb.syncNow({ timeoutMs: 10_000 });
        if (r.converged && b.store.versionHashes().has('live')) break;
      }
      let waiting: { version: string; resolve: (at: number) => void } | undefined;
      b.store.subscribe((e) => {
        if (waiting && e.view.version === waiting.version) waiting.resolve(nowMs());
      });
      const remoteApply: number[] = [];
      b.store.on('remote-applied', (e) => e.applied && remoteApply.push(e.durationMillis));
      const one = await liveSamples(a, floor, (version) => {
        if (b.store.versionHashes().get('live') === version) return Promise.resolve(nowMs());
        return new Promise<number>((resolve) => (waiting = { version, resolve }));
      });
      waiting = undefined;
      await a.sync?.close();
      a.sync = undefined;
      const two = await liveSamplesTwoProcesses(a, floor);
      const after = summarize(await rawTwoSyncWrites(one.samples.length));
      const remote = summarize(remoteApply.slice(-one.samples.length));
      const report = (name: string, r: Awaited<ReturnType<typeof liveSamples>>, extra: Record<string, number | string>) => {
        const s = summarize(r.samples);
        const raw = summarize(r.floorPairs);
        const local = summarize(r.appendOnly);
        return result({
          name,
          unit: 'ms',
          value: s.p99,
          p50: s.p50,
          p99: s.p99,
          // met only against both floors: the pair after each sample also meets whatever disk work
          // the nodes left behind (snapshots, compactions), which makes it the kinder anchor
          goal: 'p99 <= 2x the same-run floor (issue 17.3), both the pairs between the samples and the pairs after them',
          met: s.p99 <= 2 * raw.p99 && s.p99 <= 2 * after.p99,
          baseline: 'two sequential raw LevelDB sync batches (entry + head + view), p99, one pair after each sample in a process of its own',
          baselineValue: raw.p99,
          extra: {
            samples: r.samples.length,
            rawTwoSyncWritesP50: Number(raw.p50.toFixed(3)),
            rawAfterP50: Number(after.p50.toFixed(3)),
            rawAfterP99: Number(after.p99.toFixed(3)),
            ratioToRawAfter: Number((s.p99 / after.p99).toFixed(3)),
            localAppendP50: Number(local.p50.toFixed(3)),
            localAppendP99: Number(local.p99.toFixed(3)),
            mean: Number(s.mean.toFixed(3)),
            ...extra,
            note: 'two fsyncs on the path: A append + B append',
          },
        });
      };
      return [
        report('sync-live-latency', one, {
          remoteApplyP50: Number(remote.p50.toFixed(3)),
          remoteApplyP99: Number(remote.p99.toFixed(3)),
          b: "in A's process",
        }),
        report('sync-live-latency-two-processes', two, {
          b: "own process (its change event timed on its clock, mapped onto A's)",
          clockOffsetMs: Number(two.clockOffsetMs.toFixed(3)),
          clockRoundTripMs: Number(two.clockRoundTripMs.toFixed(3)),
        }),
      ];
    } finally {
      await floor.close();
      await b.close();
      await a.close();
    }
  },
};

async function reconnectNoop(profiles: number): Promise<{ ms: number[]; messages: number[]; handshakeMs: number[]; digestBuildMs: number }> {
  const a = await benchNode('a');
  const b = await benchNode('b');
  try {
    await populate(a.store, profiles, 1, 'n');
    const t0 = nowMs();
    const sa = a.start({ peers: [peer(b, false)] }); // builds A's digest over every profile
    const digestBuildMs = nowMs() - t0;
    const sb = b.start({ peers: [peer(a, true)] });
    const bid = peerIdFor(b.identity.publicKey);
    const aid = peerIdFor(a.identity.publicKey);
    for (;;) {
      const r = await sb.syncNow({ timeoutMs: 120_000 });
      if (r.converged && b.store.versionHashes().size === profiles) break;
    }
    const ms: number[] = [];
    const messages: number[] = [];
    const handshakeMs: number[] = [];
    sb.on('peer-connected', (e) => handshakeMs.push(e.durationMillis));
    for (let i = 0; i < 7; i++) {
      const gone = new Promise<void>((r) => {
        const off = sb.on('peer-disconnected', () => {
          off();
          r();
        });
      });
      sb.connectionOf(aid)!.close(1001, 'BENCH');
      await gone;
      const converged = firstRound(sa, bid);
      const start = nowMs();
      sb.connect(aid);
      await converged;
      ms.push(nowMs() - start);
      const st = sa.connectionOf(bid)!.stats;
      messages.push(st.wsSent + st.wsReceived);
    }
    return { ms, messages, handshakeMs: handshakeMs.slice(-ms.length), digestBuildMs };
  } finally {
    await b.close();
    await a.close();
  }
}

const syncReconnectNoop: BenchCase = {
  name: 'sync-reconnect-noop',
  async run() {
    const big = envInt('SYNC_BENCH_NOOP_PROFILES', 10_000);
    const small = Math.max(1, Math.round(big / 10));
    const rs = await reconnectNoop(small);
    const rb = await reconnectNoop(big);
    const sb = summarize(rb.ms.slice(1));
    const ss = summarize(rs.ms.slice(1));
    const constant = new Set([...rb.messages, ...rs.messages]).size === 1;
    return result({
      name: 'sync-reconnect-noop',
      unit: 'ms',
      value: sb.p50,
      p50: sb.p50,
      p99: sb.p99,
      goal: '< 50 ms and a constant message count',
      met: sb.p50 < 50 && constant,
      extra: {
        profiles: big,
        messages: rb.messages[0] ?? -1,
        [`messagesAt${small}`]: rs.messages[0] ?? -1,
        [`p50At${small}`]: Number(ss.p50.toFixed(3)),
        handshakeP50: Number(summarize(rb.handshakeMs.slice(1)).p50.toFixed(3)),
        coldStartDigestBuildMs: Number(rb.digestBuildMs.toFixed(1)),
        runs: rb.ms.length - 1,
      },
    });
  },
};

export default [syncInitial, syncLiveLatency, syncReconnectNoop];
