/**
 * One token holds at most `tokens.max_connections` live connections (/yjs sockets and change
 * feed streams together). The attack: a scoped viewer token opens sockets until the node runs
 * out of file descriptors, after which it accepts nothing, not even the admin's revocation. Here
 * on a real node (limit 3) with real sockets on 127.0.0.1: the 4th connection of the token is
 * refused with a stable code, other tokens are unaffected, and a closed connection frees its slot.
 */
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig, startServer, type RunningServer } from '../src/index.js';
import { ADMIN, http, profileInput, tempDir } from './helpers.js';
import { RawYjsClient, until } from './live-client.js';

const dir = tempDir('ps-limit-');
let node: RunningServer;
const clients: RawYjsClient[] = [];
const streams: AbortController[] = [];
/** the node's log lines (warn and above) */
const lines: { msg: string; [k: string]: unknown }[] = [];

beforeAll(async () => {
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(JSON.parse(l));
      cb();
    },
  });
  const logger = pino({ level: 'warn' }, sink);
  node = await startServer(defaultConfig({ dataDir: join(dir, 'a'), port: 0, logLevel: 'warn', tokens: { maxConnections: 3 } }), { env: {}, adminToken: ADMIN, logger });
  expect((await http(node.url, 'POST', '/api/profiles', { body: profileInput('lim-1') })).status).toBe(201);
});
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
  for (const s of streams.splice(0)) s.abort();
});
afterAll(async () => {
  await node.close();
  rmSync(dir, { recursive: true, force: true });
});

async function viewer(name: string): Promise<{ id: string; token: string }> {
  const res = await http(node.url, 'POST', '/api/tokens', { body: { role: 'viewer', name, profiles: ['lim-*'] } });
  expect(res.status).toBe(201);
  return res.body;
}

async function connect(tok: string): Promise<RawYjsClient> {
  const c = await RawYjsClient.connect(node.url, 'lim-1', tok);
  clients.push(c);
  return c;
}

/** GET /api/changes; resolves with the status (a 200 stream stays open until the test aborts it). */
async function stream(tok: string): Promise<{ status: number; body: unknown }> {
  const ctl = new AbortController();
  streams.push(ctl);
  const res = await fetch(`${node.url}/api/changes`, { headers: { authorization: `Bearer ${tok}` }, signal: ctl.signal });
  if (res.status === 200) return { status: 200, body: undefined };
  return { status: res.status, body: await res.json() };
}

describe('live connections per token (tokens.max_connections)', () => {
  it('the 4th /yjs socket of a token is closed 4429 TOKEN_TOO_MANY_CONNECTIONS; another token still connects; a closed socket frees its slot', async () => {
    const v = await viewer('lim-yjs');
    const open = [await connect(v.token), await connect(v.token), await connect(v.token)];
    const extra = new RawYjsClient(`${node.url.replace(/^http/, 'ws')}/yjs/lim-1?token=${encodeURIComponent(v.token)}`);
    clients.push(extra);
    const closed = await extra.closed;
    expect(closed.code).toBe(4429);
    expect(closed.reason).toBe('TOKEN_TOO_MANY_CONNECTIONS');
    expect(await (await fetch(`${node.url}/metrics`)).text()).toMatch(/^profilesync_live_connections_refused_total\{kind="yjs"\} 1$/m);
    expect(extra.updates).toHaveLength(0);
    // the limit is per token
    const other = await viewer('lim-other');
    await connect(other.token);
    // a slot frees when a socket closes
    open[0]!.close();
    await open[0]!.closed;
    await until(async () => {
      const c = new RawYjsClient(`${node.url.replace(/^http/, 'ws')}/yjs/lim-1?token=${encodeURIComponent(v.token)}`);
      clients.push(c);
      const r = await Promise.race([c.synced.then(() => 'synced' as const), c.closed.then(() => 'closed' as const)]);
      return r === 'synced';
    }, 'a 4th socket after one of the 3 closed');
  });

  it('change feed streams count too: the token\'s next stream is 429 TOKEN_TOO_MANY_CONNECTIONS with the limit, the admin\'s is served', async () => {
    const v = await viewer('lim-sse');
    await connect(v.token);
    expect((await stream(v.token)).status).toBe(200);
    expect((await stream(v.token)).status).toBe(200);
    const refused = await stream(v.token);
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ error: { code: 'TOKEN_TOO_MANY_CONNECTIONS', details: { limit: 3 } } });
    // the operator sees it: a counter by kind, and one log line per token and minute (not per attempt)
    expect((await stream(v.token)).status).toBe(429);
    const metrics = await (await fetch(`${node.url}/metrics`)).text();
    expect(metrics).toMatch(/^profilesync_live_connections_refused_total\{kind="sse"\} 2$/m);
    const logged = lines.filter((l) => l.msg.startsWith('token connection limit reached') && l['tokenId'] === v.id);
    expect(logged).toEqual([expect.objectContaining({ kind: 'sse', limit: 3 })]);
    // the admin (another token) is not locked out: it gets its stream and can revoke the flooding token
    expect((await stream(ADMIN)).status).toBe(200);
    expect((await http(node.url, 'DELETE', `/api/tokens/${v.id}`)).status).toBe(204);
  });
});
