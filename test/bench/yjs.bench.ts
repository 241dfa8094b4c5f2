/**
 * yjs-hot-doc-10 / yjs-hot-doc-50: one hot document. N stock y-websocket clients
 * (WebsocketProvider, `ws` as the polyfill) type into the systemMessage of ONE profile through
 * /yjs of a real node running in a child process, in a closed loop: each writer inserts one
 * character at a random place, then waits until its own change comes back from the server
 * (the node echoes an update once it is durable), then types the next. One more client only
 * reads and measures fan-out: the time from a writer's keystroke until the reader has it.
 *
 * Anchor, same run, same clients, same measurement: a bare in-memory y-websocket relay in a
 * child process (this file with BENCH_YJS_CHILD=relay): one Y.Doc per room, y-protocols sync and
 * awareness, every update broadcast to every connection including its sender (as y-websocket's
 * reference server does), no persistence, no auth, no validation.
 *
 * value = node updates/s (round trips completed by all writers per second), baseline = the
 * relay's, ratio; fan-out p50/p99 of both in extra. Goals (issue 17.1): throughput >= 0.8x the
 * relay, fan-out p99 <= 2x the relay's. `nodeCpuMsPerUpdate` / `relayCpuMsPerUpdate` (from /proc)
 * are each server process's CPU per update over the measured window (less load-sensitive than
 * wall-clock rates on a shared machine). The run fails if the reader, the writers and the node's
 * stored profile do not converge to the same text.
 *
 * Knobs: BENCH_YJS_SECONDS (measured seconds per round, default 5), BENCH_YJS_ROUNDS (default 2).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import WebSocket, { WebSocketServer } from 'ws';
import * as Y from 'yjs';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as syncProtocol from 'y-protocols/sync';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { WebsocketProvider } from 'y-websocket';
import { nowMs, result, summarize, type BenchCase, type BenchResult } from './harness.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SELF = fileURLToPath(import.meta.url);
const TOKEN = 'bench-admin-token-0123456789abcdef';
const PROFILE_ID = 'hot-doc';
const SYSTEM = 'You are a helpful assistant. ';

// ---------------------------------------------------------------- child processes
async function runChild(kind: string): Promise<void> {
  let close: () => Promise<void>;
  if (kind === 'node') {
    const { defaultConfig, startServer } = await import('@profilesync/server');
    const dir = mkdtempSync(join(tmpdir(), 'ps-bench-yjs-'));
    const server = await startServer(defaultConfig({ dataDir: join(dir, 'data'), port: 0, logLevel: 'warn' }), { env: {}, adminToken: TOKEN, onAdminToken: () => undefined });
    const res = await fetch(`${server.url}/api/profiles`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: PROFILE_ID, modelId: 'gpt-4o', name: 'Hot document', systemMessage: SYSTEM }),
    });
    if (res.status !== 201) throw new Error(`create failed: ${res.status} ${await res.text()}`);
    process.stdout.write(`${JSON.stringify({ ws: `${server.url.replace(/^http/, 'ws')}/yjs`, http: server.url })}\n`);
    close = () => server.close().finally(() => rmSync(dir, { recursive: true, force: true }));
  } else {
    // the bare relay, seeded with the node's state of the profile (so clients edit the same doc)
    const docs = new Map<string, { doc: Y.Doc; awareness: awarenessProtocol.Awareness; conns: Map<WebSocket, Set<number>> }>();
    const seed = Buffer.from(process.env.BENCH_YJS_SEED ?? '', 'base64');
    const send = (ws: WebSocket, m: Uint8Array): void => {
      if (ws.readyState === WebSocket.OPEN) ws.send(m);
    };
    const room = (name: string) => {
      let r = docs.get(name);
      if (r === undefined) {
        const doc = new Y.Doc({ gc: false });
        if (seed.length > 0) Y.applyUpdate(doc, seed);
        const awareness = new awarenessProtocol.Awareness(doc);
        awareness.setLocalState(null);
        const conns = new Map<WebSocket, Set<number>>();
        doc.on('update', (update: Uint8Array) => {
          const e = encoding.createEncoder();
          encoding.writeVarUint(e, 0);
          syncProtocol.writeUpdate(e, update);
          const m = encoding.toUint8Array(e);
          for (const c of conns.keys()) send(c, m);
        });
        awareness.on('update', ({ added, updated, removed }: { added: number[]; updated: number[]; removed: number[] }, origin: unknown) => {
          const ids = conns.get(origin as WebSocket);
          if (ids) {
            for (const id of added) ids.add(id);
            for (const id of removed) ids.delete(id);
          }
          const e = encoding.createEncoder();
          encoding.writeVarUint(e, 1);
          encoding.writeVarUint8Array(e, awarenessProtocol.encodeAwarenessUpdate(awareness, [...added, ...updated, ...removed]));
          const m = encoding.toUint8Array(e);
          for (const c of conns.keys()) send(c, m);
        });
        r = { doc, awareness, conns };
        docs.set(name, r);
      }
      return r;
    };
    const http = createServer((_q, s) => s.writeHead(404).end());
    const wss = new WebSocketServer({ server: http, perMessageDeflate: false });
    wss.on('connection', (ws, req) => {
      const r = room((req.url ?? '/').slice(1).split('?')[0]!);
      r.conns.set(ws, new Set());
      ws.on('message', (data: Buffer) => {
        const d = decoding.createDecoder(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
        const type = decoding.readVarUint(d);
        if (type === 0) {
          const e = encoding.createEncoder();
          encoding.writeVarUint(e, 0);
          syncProtocol.readSyncMessage(d, e, r.doc, ws);
          if (encoding.length(e) > 1) send(ws, encoding.toUint8Array(e));
        } else if (type === 1) {
          awarenessProtocol.applyAwarenessUpdate(r.awareness, decoding.readVarUint8Array(d), ws);
        }
      });
      ws.on('close', () => {
        const ids = r.conns.get(ws);
        r.conns.delete(ws);
        if (ids && ids.size > 0) awarenessProtocol.removeAwarenessStates(r.awareness, [...ids], null);
      });
      const e = encoding.createEncoder();
      encoding.writeVarUint(e, 0);
      syncProtocol.writeSyncStep1(e, r.doc);
      send(ws, encoding.toUint8Array(e));
    });
    await new Promise<void>((res) => http.listen(0, '127.0.0.1', () => res()));
    process.stdout.write(`${JSON.stringify({ ws: `ws://127.0.0.1:${(http.address() as AddressInfo).port}` })}\n`);
    close = async () => {
      for (const c of wss.clients) c.terminate();
      wss.close();
      await new Promise<void>((res) => http.close(() => res()));
    };
  }
  const stop = () => void close().finally(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.stdin.on('end', stop);
  process.stdin.resume();
}

if (process.env.BENCH_YJS_CHILD) await runChild(process.env.BENCH_YJS_CHILD);

// ---------------------------------------------------------------- parent (the bench)
function spawnChild(kind: 'node' | 'relay', extraEnv: Record<string, string> = {}): Promise<{ child: ChildProcess; info: { ws: string; http?: string } }> {
  const child = spawn(process.execPath, ['--conditions=@profilesync/source', '--import', 'tsx', SELF], {
    cwd: ROOT,
    env: { ...process.env, BENCH_YJS_CHILD: kind, ...extraEnv },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (line) => resolve({ child, info: JSON.parse(line) }));
    child.once('exit', (code) => reject(new Error(`${kind} child exited with ${code}`)));
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.stdin!.end();
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  });
}

interface Client {
  doc: Y.Doc;
  provider: WebsocketProvider;
  synced: Promise<void>;
}

function connect(url: string, token: string | undefined): Client {
  const doc = new Y.Doc();
  const provider = new WebsocketProvider(url, PROFILE_ID, doc, {
    WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
    disableBc: true,
    ...(token ? { params: { token } } : {}),
  });
  const synced = new Promise<void>((r) => provider.on('sync', (s: boolean) => s && r()));
  return { doc, provider, synced };
}

/** For every sync update (or step 2) message: the clock each client's changes reach. */
function updateReach(data: ArrayBuffer): Map<number, number> | undefined {
  const d = decoding.createDecoder(new Uint8Array(data));
  if (decoding.readVarUint(d) !== 0) return undefined;
  const sub = decoding.readVarUint(d);
  if (sub !== 1 && sub !== 2) return undefined;
  return Y.parseUpdateMeta(decoding.readVarUint8Array(d)).to;
}

const text = (doc: Y.Doc): Y.Text => doc.getMap('profile').get('systemMessage') as Y.Text;

/** CPU ms (user + system) a process has used so far, from /proc (undefined where there is none). */
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;
function cpuMsOf(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
  } catch {
    return undefined;
  }
}

interface RoundResult {
  updatesPerSec: number;
  /** the server process's CPU per completed update during the measured window (ms) */
  serverCpuMsPerUpdate: number | undefined;
  fanout: { p50: number; p99: number; samples: number };
  roundTrip: { p50: number; p99: number };
  finalText: string;
}

/** One measured round: `writers` closed-loop writers + one reader against `url`. */
async function round(url: string, token: string | undefined, writers: number, seconds: number, serverPid: number | undefined): Promise<RoundResult> {
  // each WebsocketProvider adds a process 'exit' listener
  process.setMaxListeners(writers + 20);
  const reader = connect(url, token);
  const ws = Array.from({ length: writers }, () => connect(url, token));
  await Promise.all([reader.synced, ...ws.map((w) => w.synced)]);
  // keystroke times per writer client id, oldest first: { clock the keystroke reaches, t }
  const sent = new Map<number, { reach: number; t: number }[]>();
  const fanout: number[] = [];
  const rtts: number[] = [];
  let measuring = false;
  let done = 0;
  (reader.provider.ws as unknown as WebSocket).addEventListener('message', (ev) => {
    const reach = updateReach(ev.data as ArrayBuffer);
    if (!reach) return;
    const now = nowMs();
    for (const [client, clock] of reach) {
      const q = sent.get(client);
      while (q && q.length > 0 && q[0]!.reach <= clock) {
        const s = q.shift()!;
        if (measuring) fanout.push(now - s.t);
      }
    }
  });
  let stop = false;
  const loops = ws.map(async (w, i) => {
    const me = w.doc.clientID;
    const queue: { reach: number; t: number }[] = [];
    sent.set(me, queue);
    let waiting: { reach: number; resolve: () => void } | undefined;
    (w.provider.ws as unknown as WebSocket).addEventListener('message', (ev) => {
      if (!waiting) return;
      const reach = updateReach(ev.data as ArrayBuffer)?.get(me);
      if (reach !== undefined && reach >= waiting.reach) {
        const r = waiting.resolve;
        waiting = undefined;
        r();
      }
    });
    let seed = 0x9e3779b9 ^ (i + 1);
    const random = (): number => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) / 0x1_0000_0000;
    };
    while (!stop) {
      const t = text(w.doc);
      const t0 = nowMs();
      t.insert(Math.floor(random() * (t.length + 1)), String.fromCharCode(97 + (i % 26)));
      const reach = Y.getState(w.doc.store, me);
      queue.push({ reach, t: t0 });
      await new Promise<void>((resolve) => (waiting = { reach, resolve }));
      if (measuring) {
        rtts.push(nowMs() - t0);
        done++;
      }
    }
  });
  await new Promise((r) => setTimeout(r, 1000)); // warm-up
  measuring = true;
  const cpu0 = cpuMsOf(serverPid);
  const t0 = nowMs();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  measuring = false;
  const elapsed = nowMs() - t0;
  const completed = done;
  const cpu1 = cpuMsOf(serverPid);
  const serverCpuMsPerUpdate = cpu0 !== undefined && cpu1 !== undefined && completed > 0 ? (cpu1 - cpu0) / completed : undefined;
  stop = true;
  await Promise.all(loops);
  // converged: every client holds the same text (each keystroke reached the others through the server)
  const deadline = nowMs() + 60_000;
  let want = text(ws[0]!.doc).toString();
  while ([reader, ...ws].some((c) => text(c.doc).toString() !== want)) {
    if (nowMs() > deadline) throw new Error('clients did not converge');
    await new Promise((r) => setTimeout(r, 20));
    want = text(ws[0]!.doc).toString();
  }
  for (const c of [reader, ...ws]) c.provider.destroy();
  const f = summarize(fanout);
  const r = summarize(rtts);
  return { updatesPerSec: (completed / elapsed) * 1000, serverCpuMsPerUpdate, fanout: { p50: f.p50, p99: f.p99, samples: fanout.length }, roundTrip: { p50: r.p50, p99: r.p99 }, finalText: want };
}

async function storedText(http: string): Promise<string> {
  const res = await fetch(`${http}/api/profiles/${PROFILE_ID}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  return ((await res.json()) as { systemMessage: string }).systemMessage;
}

function hotDocCase(writers: number): BenchCase {
  const name = `yjs-hot-doc-${writers}`;
  return {
    name,
    async run(): Promise<BenchResult> {
      const seconds = Number(process.env.BENCH_YJS_SECONDS ?? 5);
      const rounds = Number(process.env.BENCH_YJS_ROUNDS ?? 2);
      const node = await spawnChild('node');
      let relay: Awaited<ReturnType<typeof spawnChild>> | undefined;
      try {
        // the relay starts from the node's state of the profile, so both runs edit the same doc
        const probe = connect(node.info.ws, TOKEN);
        await probe.synced;
        const seed = Buffer.from(Y.encodeStateAsUpdate(probe.doc)).toString('base64');
        probe.provider.destroy();
        relay = await spawnChild('relay', { BENCH_YJS_SEED: seed });
        const ours: RoundResult[] = [];
        const theirs: RoundResult[] = [];
        // interleaved rounds; best of each (the machine is shared)
        for (let i = 0; i < rounds; i++) {
          const o = await round(node.info.ws, TOKEN, writers, seconds, node.child.pid);
          const stored = await storedText(node.info.http!);
          if (stored !== o.finalText) throw new Error(`the node's stored text differs from the clients' (${stored.length} vs ${o.finalText.length} chars)`);
          ours.push(o);
          theirs.push(await round(relay.info.ws, undefined, writers, seconds, relay.child.pid));
        }
        const best = ours.reduce((a, b) => (b.updatesPerSec > a.updatesPerSec ? b : a));
        const bestRelay = theirs.reduce((a, b) => (b.updatesPerSec > a.updatesPerSec ? b : a));
        const fanP99 = Math.min(...ours.map((o) => o.fanout.p99));
        const relayFanP99 = Math.min(...theirs.map((o) => o.fanout.p99));
        const ratio = best.updatesPerSec / bestRelay.updatesPerSec;
        return result({
          name,
          unit: 'ops/s',
          value: best.updatesPerSec,
          baseline: `bare in-memory y-websocket relay (child process), same ${writers} writers + 1 reader`,
          baselineValue: bestRelay.updatesPerSec,
          goal: 'throughput >= 0.8x the relay and fan-out p99 <= 2x the relay\'s',
          met: ratio >= 0.8 && fanP99 <= 2 * relayFanP99,
          extra: {
            writers,
            secondsPerRound: seconds,
            rounds: ours.map((o) => Math.round(o.updatesPerSec)).join(' / '),
            relayRounds: theirs.map((o) => Math.round(o.updatesPerSec)).join(' / '),
            fanoutP50Ms: Number(best.fanout.p50.toFixed(2)),
            fanoutP99Ms: Number(fanP99.toFixed(2)),
            relayFanoutP50Ms: Number(bestRelay.fanout.p50.toFixed(2)),
            relayFanoutP99Ms: Number(relayFanP99.toFixed(2)),
            fanoutP99Ratio: Number((fanP99 / relayFanP99).toFixed(3)),
            roundTripP50Ms: Number(best.roundTrip.p50.toFixed(2)),
            roundTripP99Ms: Number(best.roundTrip.p99.toFixed(2)),
            relayRoundTripP50Ms: Number(bestRelay.roundTrip.p50.toFixed(2)),
            relayRoundTripP99Ms: Number(bestRelay.roundTrip.p99.toFixed(2)),
            fanoutSamples: best.fanout.samples,
            ...(best.serverCpuMsPerUpdate !== undefined ? { nodeCpuMsPerUpdate: Number(best.serverCpuMsPerUpdate.toFixed(3)) } : {}),
            ...(bestRelay.serverCpuMsPerUpdate !== undefined ? { relayCpuMsPerUpdate: Number(bestRelay.serverCpuMsPerUpdate.toFixed(3)) } : {}),
          },
        });
      } finally {
        await stopChild(node.child);
        if (relay) await stopChild(relay.child);
      }
    },
  };
}

const cases: BenchCase[] = [hotDocCase(10), hotDocCase(50)];

export default cases;
