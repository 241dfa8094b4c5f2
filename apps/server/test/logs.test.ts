/**
 * Structured log lines an operator relies on (issue 16.3), captured from a real node's pino
 * logger: peer connect / disconnect / backoff / refusal, /yjs joins and leaves, auth denials,
 * backups, a fleet's joins (real redis-server).
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { defaultConfig, startServer, type RunningServer, type ServerConfig } from '../src/index.js';
import { ADMIN, http, profileInput, tempDir, wsUrl } from './helpers.js';
import { startRedisServer, type RedisServer } from '../../../packages/cache/test/redis-server.js';
import { mountSmallDisk } from './small-disk.js';

const dir = tempDir('ps-logs-');
const servers: RunningServer[] = [];
let redis: RedisServer | undefined;
afterAll(async () => {
  for (const s of servers) await s.close().catch(() => undefined);
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface Line {
  level: number;
  msg: string;
  [k: string]: unknown;
}

/** A node whose log lines are collected (JSON, level info and above unless told). */
async function node(name: string, overrides: Partial<ServerConfig> = {}, level = 'info'): Promise<{ s: RunningServer; lines: Line[] }> {
  const lines: Line[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Line);
      cb();
    },
  });
  const logger = pino({ level }, sink);
  const s = await startServer(defaultConfig({ dataDir: join(dir, name), port: 0, logLevel: 'info', ...overrides }), { env: {}, adminToken: ADMIN, logger });
  servers.push(s);
  return { s, lines };
}

async function waitFor(lines: Line[], pred: (l: Line) => boolean, what: string): Promise<Line> {
  for (let i = 0; i < 400; i++) {
    const hit = lines.find(pred);
    if (hit) return hit;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no log line: ${what}; saw ${lines.map((l) => l.msg).join(' | ')}`);
}

const WARN = 40;
const INFO = 30;
const DEBUG = 20;
describe('operator log lines', () => {
  it('peers: connected, disconnected, backing off while refused or unreachable; unknown peers refused', async () => {
    const a = await node('a');
    const b = await node('b');
    // a knows b, b does not know a yet: b refuses, a backs off
    expect((await http(a.s.url, 'POST', '/api/peers', { body: { url: wsUrl(b.s, '/sync'), key: b.s.publicKey, name: 'b' } })).status).toBe(201);
    const refused = await waitFor(b.lines, (l) => l.msg === 'peer handshake failed' && l.direction === 'inbound', 'b refuses the unknown peer');
    expect(refused.level).toBe(WARN);
    const backoff = await waitFor(a.lines, (l) => l.msg === 'peer unreachable or refused: backing off', 'a backs off');
    expect(backoff).toMatchObject({ level: WARN, url: wsUrl(b.s, '/sync'), nextRetryAt: expect.any(String), delayMs: expect.any(Number) });
    // b learns a's key: the next attempt connects
    expect((await http(b.s.url, 'POST', '/api/peers', { body: { url: wsUrl(a.s, '/sync'), key: a.s.publicKey, name: 'a' } })).status).toBe(201);
    expect((await http(a.s.url, 'POST', '/api/sync', { body: { timeoutMs: 20_000 } })).body.converged).toBe(true);
    const connected = await waitFor(a.lines, (l) => l.msg === 'peer connected', 'a connects');
    expect(connected).toMatchObject({ level: INFO, fingerprint: b.s.fingerprint });
    await b.s.close();
    const gone = await waitFor(a.lines, (l) => l.msg === 'peer disconnected', 'a sees b go');
    expect(gone.level).toBe(INFO);
    await waitFor(a.lines, (l) => (l.msg === 'peer session ended: redialing' || l.msg === 'peer unreachable or refused: backing off') && l.peerId === connected.peerId, 'a redials b with backoff');
  }, 60_000);

  it('a peer that is down is no handshake failure: one back-off warning with the errno, later retries at debug; /api/peers says the same', async () => {
    const a = await node('down-a', {}, 'debug');
    const b = await node('down-b');
    expect((await http(a.s.url, 'POST', '/api/peers', { body: { url: wsUrl(b.s, '/sync'), key: b.s.publicKey, name: 'b' } })).status).toBe(201);
    expect((await http(b.s.url, 'POST', '/api/peers', { body: { url: wsUrl(a.s, '/sync'), key: a.s.publicKey, name: 'a' } })).status).toBe(201);
    const connected = await waitFor(a.lines, (l) => l.msg === 'peer connected', 'a connects to b');
    await b.s.close();
    await waitFor(a.lines, (l) => l.msg === 'peer disconnected', 'a sees b go');
    const from = a.lines.length;
    const after = () => a.lines.slice(from);
    // a keeps dialing the stopped node: the second failed dial logs at debug
    const retry = await waitFor(a.lines, (l) => l.msg === 'peer unreachable or refused: backing off' && l.level === DEBUG, 'a retry at debug');
    expect(retry).toMatchObject({ peerId: connected.peerId, lastError: 'SYNC_CONNECTION_LOST', lastErrno: 'ECONNREFUSED', failedDials: expect.any(Number) });
    expect(retry.failedDials as number).toBeGreaterThanOrEqual(2);
    const backoffs = after().filter((l) => l.msg === 'peer unreachable or refused: backing off');
    expect(backoffs.filter((l) => l.level >= WARN)).toEqual([expect.objectContaining({ level: WARN, lastError: 'SYNC_CONNECTION_LOST', lastErrno: 'ECONNREFUSED', failedDials: 1, url: wsUrl(b.s, '/sync') })]);
    // nobody answered, so no handshake took place: no "handshake failed" line suggests a key problem
    expect(after().filter((l) => l.msg === 'peer handshake failed')).toEqual([]);
    const peers = (await http(a.s.url, 'GET', '/api/peers')).body.peers as { name: string; lastError: string; lastErrno: string }[];
    expect(peers.map((p) => [p.name, p.lastError, p.lastErrno])).toEqual([['b', 'SYNC_CONNECTION_LOST', 'ECONNREFUSED']]);
    const sync = await http(a.s.url, 'POST', '/api/sync', { body: { timeoutMs: 200 } });
    expect(sync.body.peers[0]).toMatchObject({ ok: false, code: 'SYNC_NOT_CONNECTED', message: 'not connected (SYNC_CONNECTION_LOST): ECONNREFUSED' });
  }, 60_000);

  it('an error with a cause is logged once: the cause its message already quotes is not appended again (a full disk, for real)', async () => {
    const disk = mountSmallDisk(16 * 1024 * 1024);
    try {
      const { s, lines } = await node('full', { dataDir: join(disk.dir, 'data') }, 'info');
      for (let i = 0; i < 3; i++) expect((await http(s.url, 'POST', '/api/profiles', { body: profileInput(`full-${i}`) })).status).toBe(201);
      disk.fill();
      const r = await http(s.url, 'PATCH', '/api/profiles/full-0', { body: { description: `no room ${'x'.repeat(4096)}` } });
      expect([r.status, r.body.error?.code]).toEqual([503, 'LOG_DISK_FULL']);
      const failed = await waitFor(lines, (l) => l.msg === 'request failed', 'the failed request');
      const err = failed.err as { message: string; stack: string; code: string };
      expect(err.code).toBe('LOG_DISK_FULL');
      // the message says why once; the cause chain stays in the stack
      expect(err.message).toBe(r.body.error.message);
      expect(err.stack).toContain('caused by:');
      for (const line of lines.filter((l) => typeof (l.err as { message?: unknown } | undefined)?.message === 'string')) {
        const message = (line.err as { message: string }).message;
        const parts = message.split(': ');
        // no message ends with a repetition of a part it already said
        for (let n = 1; n <= parts.length / 2; n++) expect([line.msg, parts.slice(-n).join(': ')]).not.toEqual([line.msg, parts.slice(-2 * n, -n).join(': ')]);
      }
      disk.drain();
      await s.close();
    } finally {
      disk.unmount();
    }
  }, 60_000);

  it('/yjs editors joining and leaving, auth denials, backups', async () => {
    const { s, lines } = await node('c');
    expect((await http(s.url, 'POST', '/api/profiles', { body: profileInput('doc') })).status).toBe(201);
    const ws = new WebSocket(wsUrl(s, `/yjs/doc?token=${ADMIN}`));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const joined = await waitFor(lines, (l) => l.msg === 'yjs editor joined', 'a /yjs join');
    expect(joined).toMatchObject({ level: INFO, profile: 'doc', actor: 'admin' });
    ws.close();
    const left = await waitFor(lines, (l) => l.msg === 'yjs editor left', 'a /yjs leave');
    expect(left).toMatchObject({ level: INFO, profile: 'doc', actor: 'admin' });

    expect((await http(s.url, 'GET', '/api/profiles', { token: 'nope-nope-nope-nope' })).status).toBe(401);
    const denied = await waitFor(lines, (l) => l.msg === 'auth denied', 'an auth denial');
    expect(denied).toMatchObject({ level: INFO, reason: 'bad-token' });

    expect((await fetch(`${s.url}/api/backup`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` } }).then((r) => r.arrayBuffer())).byteLength).toBeGreaterThan(0);
    const backup = await waitFor(lines, (l) => l.msg === 'backup written', 'a backup');
    expect(backup).toMatchObject({ level: INFO, kind: 'online', bytes: expect.any(Number), sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
  }, 60_000);
  it('fleet: members joining at once log their first refusals of each other as info (retried); an unknown key stays a warning', async () => {
    redis = await startRedisServer();
    const base = defaultConfig().bus;
    const bus = { ...base, url: redis.url, key: randomBytes(32).toString('base64'), prefix: 'logs-test', antiEntropyMs: 0 };
    // a fleet of one, then two nodes join: each finds fa's record (and repairs with it at once)
    // before fa's next heartbeat finds theirs
    const fa = await node('fa', { bus });
    const joined = await Promise.all(['fb', 'fc'].map((n) => node(n, { bus })));
    for (const m of joined) await waitFor(m.lines, (l) => l.msg === 'fleet: repair over /sync' && l.failed === 0, `${m.s.url} repairs with every member`);
    const members = [fa, ...joined];
    const all = members.flatMap((m) => m.lines);
    const refusals = all.filter((l) => /^peer handshake (failed|refused)/.test(l.msg) || l.msg === 'fleet: repair with a member failed');
    // the race is there to see (each node dials the others as soon as it finds them) ...
    expect(refusals.length).toBeGreaterThan(0);
    // ... and none of it is a warning: every refusal was between members that had not met yet
    expect(refusals.filter((l) => l.level >= WARN)).toEqual([]);
    expect(all.filter((l) => l.level >= WARN && /^(peer|fleet)/.test(String(l.msg)))).toEqual([]);
    expect(refusals.some((l) => l.msg.startsWith('peer handshake refused: a fleet member this node had not seen yet') && l.direction === 'inbound' && l.level === INFO)).toBe(true);

    // a key that is no member's knocking on a fleet node: a warning, as without a fleet
    const stranger = await node('stranger');
    expect((await http(stranger.s.url, 'POST', '/api/peers', { body: { url: wsUrl(members[0]!.s, '/sync'), key: members[0]!.s.publicKey, name: 'fa' } })).status).toBe(201);
    const refused = await waitFor(members[0]!.lines, (l) => l.msg === 'peer handshake failed' && l.direction === 'inbound' && l.peerFingerprint === stranger.s.fingerprint, 'the fleet node refuses the stranger');
    expect(refused.level).toBe(WARN);
  }, 90_000);
});
