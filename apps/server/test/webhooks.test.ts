/**
 * Webhooks on real nodes, delivered to a real HTTP receiver on 127.0.0.1 that checks every
 * signature with the SDK's verifyWebhook: kinds and filters, retries with backoff and the
 * delivery log, giving up, at-least-once delivery across a node restart (changes made while the
 * receiver was down, and while the node was down), config-file hooks (secret from the
 * environment), the admin routes' bad input and access rules.
 */
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyWebhook, type WebhookDelivery } from '@profilesync/client';
import { loadConfig, openNode, startServer } from '../src/index.js';
import { retryDelay } from '../src/webhooks/config.js';
import { ADMIN, http, profileInput, startTestServer, tempDir, type TestServer } from './helpers.js';

interface Received {
  delivery: WebhookDelivery;
  headers: IncomingMessage['headers'];
}

class Receiver {
  readonly got: Received[] = [];
  readonly rejected: string[] = [];
  /** answers these statuses first (one per request), then 204 */
  script: number[] = [];
  secret = '';
  #server: Server | undefined;
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  async start(): Promise<void> {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', async () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const status = this.script.shift();
        if (status !== undefined) {
          res.writeHead(status).end();
          return;
        }
        try {
          const delivery = await verifyWebhook(raw, req.headers['x-profilesync-signature'] as string, this.secret);
          this.got.push({ delivery, headers: req.headers });
          res.writeHead(204).end();
        } catch (err) {
          this.rejected.push((err as { code?: string }).code ?? String(err));
          res.writeHead(401).end();
        }
      });
    });
    await new Promise<void>((r) => this.#server!.listen(this.port, '127.0.0.1', r));
    this.port = (this.#server!.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise((r) => this.#server?.close(r));
    this.#server = undefined;
  }
}

const servers: TestServer[] = [];
const receivers: Receiver[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop();
  for (const r of receivers.splice(0)) await r.stop();
});

async function receiver(): Promise<Receiver> {
  const r = new Receiver();
  await r.start();
  receivers.push(r);
  return r;
}

const fast = { timeoutMs: 2000, maxAttempts: 5, retryBaseMs: 20, retryMaxMs: 200 };

async function node(overrides: Parameters<typeof startTestServer>[0] = {}, dir?: string): Promise<TestServer> {
  const t = await startTestServer({ webhook: fast, ...overrides }, { sync: false }, dir);
  servers.push(t);
  return t;
}

async function until(pred: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function addHook(t: TestServer, r: Receiver, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await http(t.url, 'POST', '/api/webhooks', { body: { url: r.url, ...extra } });
  expect(res.status).toBe(201);
  r.secret = res.body.secret;
  return res.body.id;
}

describe('webhooks', () => {
  it('deliver creations, edits, label moves and deletions, signed, with kinds; filters by event and profile', async () => {
    const t = await node();
    const all = await receiver();
    const labels = await receiver();
    const team = await receiver();
    await addHook(t, all);
    await addHook(t, labels, { events: ['label.moved'], name: 'labels only' });
    await addHook(t, team, { profiles: ['team-*'] });
    const created = await http(t.url, 'POST', '/api/profiles', { body: profileInput('hook-a') });
    await http(t.url, 'PATCH', '/api/profiles/hook-a', { body: { name: 'renamed' } });
    await http(t.url, 'PUT', '/api/profiles/hook-a/labels/production', { body: { version: created.body.version } });
    await http(t.url, 'DELETE', '/api/profiles/hook-a');
    await http(t.url, 'POST', '/api/profiles', { body: profileInput('team-1') });
    await until(() => all.got.length >= 5 && labels.got.length >= 1 && team.got.length >= 1, 'deliveries');

    const byProfile = (r: Receiver, id: string) => r.got.filter((g) => g.delivery.data.id === id).map((g) => g.delivery.events);
    // deliveries of one profile never overlap, so each change arrives on its own here
    expect(byProfile(all, 'hook-a')).toEqual([['profile.created'], ['profile.updated'], ['label.moved'], ['profile.deleted']]);
    expect(labels.got.map((g) => [g.delivery.data.id, g.delivery.event])).toEqual([['hook-a', 'label.moved']]);
    expect(team.got.map((g) => g.delivery.data.id)).toEqual(['team-1']);
    const first = all.got[0]!;
    expect(first.headers['x-profilesync-event']).toBe('profile.created');
    expect(first.headers['x-profilesync-delivery']).toBe(first.delivery.id);
    expect(first.delivery).toMatchObject({ attempt: 1, catchUp: false, data: { id: 'hook-a', version: created.body.version, labels: {}, deleted: false } });
    expect(all.rejected).toEqual([]);
  });

  it('retry failed deliveries with backoff, keep a delivery log with the errors, give up after max_attempts', async () => {
    const t = await node({ webhook: { ...fast, maxAttempts: 3 } });
    const r = await receiver();
    const id = await addHook(t, r);
    r.script = [500, 503];
    await http(t.url, 'POST', '/api/profiles', { body: profileInput('retry-a') });
    await until(() => r.got.length === 1, 'delivery after two failures');
    expect(r.got[0]!.delivery.attempt).toBe(3);
    const log = (await http(t.url, 'GET', `/api/webhooks/${id}/deliveries`)).body.deliveries;
    expect(log.map((d: any) => [d.attempt, d.outcome, d.status, d.error])).toEqual([
      [3, 'delivered', 204, null],
      [2, 'retrying', 503, 'HTTP 503'],
      [1, 'retrying', 500, 'HTTP 500'],
    ]);
    expect(new Set(log.map((d: any) => d.id)).size).toBe(1);
    expect(Date.parse(log[1].nextAttemptAt)).toBeGreaterThan(Date.parse(log[1].at));

    r.script = [500, 500, 500];
    await http(t.url, 'PATCH', '/api/profiles/retry-a', { body: { name: 'never delivered' } });
    await until(async () => (await http(t.url, 'GET', `/api/webhooks/${id}`)).body.status.failed === 1, 'given up');
    const hook = (await http(t.url, 'GET', `/api/webhooks/${id}`)).body;
    expect(hook.status).toMatchObject({ pending: 0, delivered: 1, failed: 1, attempts: 6, lastError: { error: 'HTTP 500' } });
    expect((await http(t.url, 'GET', `/api/webhooks/${id}/deliveries?limit=1`)).body.deliveries).toMatchObject([{ attempt: 3, outcome: 'failed', status: 500 }]);
    // the receiver is healthy again: later changes flow
    await http(t.url, 'PATCH', '/api/profiles/retry-a', { body: { name: 'delivered' } });
    await until(() => r.got.length === 2, 'next change');
    const metrics = await http(t.url, 'GET', '/metrics', { token: null });
    expect(metrics.text).toMatch(new RegExp(`profilesync_webhook_attempts_total\\{hook="${id}",outcome="failed"\\} 1`));
    expect(metrics.text).toContain(`profilesync_webhook_pending{hook="${id}"} 0`);
  });

  it('at-least-once across a node restart: pending deliveries and changes made while the node was down arrive', async () => {
    const dir = tempDir();
    let t = await startTestServer({ webhook: { ...fast, retryBaseMs: 60_000, retryMaxMs: 60_000 } }, { sync: false }, dir);
    const r = await receiver();
    const id = await addHook(t, r);
    await http(t.url, 'POST', '/api/profiles', { body: profileInput('restart-a') });
    await until(() => r.got.length === 1, 'first delivery');
    await r.stop(); // the receiver goes away: deliveries fail and wait (a minute) for their retry
    await http(t.url, 'PATCH', '/api/profiles/restart-a', { body: { name: 'while the receiver is down' } });
    await http(t.url, 'POST', '/api/profiles', { body: profileInput('restart-b') });
    await until(async () => (await http(t.url, 'GET', `/api/webhooks/${id}`)).body.status.lastError !== null, 'failed attempts');
    await t.server.close();
    const node = await openNode({ dataDir: join(dir, 'data') });
    await node.store.update('restart-b', { name: 'while the node is down' }, { actor: 'ops', origin: 'cli' });
    await node.close();

    await r.start(); // same port
    t = await startTestServer({ webhook: fast }, { sync: false }, dir);
    servers.push(t);
    await until(() => r.got.length >= 3, 'catch-up deliveries');
    const after = r.got.slice(1).map((g) => g.delivery);
    expect(after.map((d) => d.data.id).sort()).toEqual(['restart-a', 'restart-b']);
    expect(after.every((d) => d.catchUp)).toBe(true);
    const versions = Object.fromEntries(await Promise.all(['restart-a', 'restart-b'].map(async (p) => [p, (await http(t.url, 'GET', `/api/profiles/${p}`)).body.version])));
    for (const d of after) expect(d.data.version).toBe(versions[d.data.id]);
    // nothing more: the first delivery is not repeated, and the hook is caught up
    await until(async () => (await http(t.url, 'GET', `/api/webhooks/${id}`)).body.status.pending === 0, 'caught up');
    expect(r.got.filter((g) => g.delivery.data.id === 'restart-a' && !g.delivery.catchUp)).toHaveLength(1);
  });

  it('config-file hooks take their secret from the environment and are removed only in the file', async () => {
    const r = await receiver();
    r.secret = 'file-hook-secret-0123456789';
    const dir = tempDir();
    const file = join(dir, 'profilesync.toml');
    writeFileSync(file, `data_dir = "data"\nport = 0\nlog_level = "silent"\n\n[webhook]\nretry_base_ms = 20\n\n[[webhooks]]\nurl = "${r.url}"\nsecret_env = "HOOK_SECRET"\nevents = ["profile.created"]\nname = "from the file"\n`);
    const env = { HOOK_SECRET: r.secret };
    const config = loadConfig({ file, env });
    expect(config.webhooks).toEqual([{ url: r.url, secretEnv: 'HOOK_SECRET', events: ['profile.created'], profiles: null, name: 'from the file' }]);
    const server = await startServer(config, { adminToken: ADMIN, env, sync: false });
    try {
      const list = (await http(server.url, 'GET', '/api/webhooks')).body.webhooks;
      expect(list).toMatchObject([{ source: 'config', name: 'from the file', url: r.url, events: ['profile.created'] }]);
      expect(JSON.stringify(list)).not.toContain(r.secret);
      await http(server.url, 'POST', '/api/profiles', { body: profileInput('from-file') });
      await until(() => r.got.length === 1, 'delivery');
      expect(r.rejected).toEqual([]);
      const del = await http(server.url, 'DELETE', `/api/webhooks/${list[0].id}`);
      expect(del.status).toBe(409);
      expect(del.body.error.code).toBe('WEBHOOK_READONLY');
    } finally {
      await server.close();
    }
    const bad = (toml: string, e: Record<string, string> = env) => {
      writeFileSync(file, toml);
      try {
        loadConfig({ file, env: e });
      } catch (err) {
        return (err as { code: string; details: { key: string }; message: string });
      }
      throw new Error('expected CONFIG_INVALID');
    };
    expect(bad(`[[webhooks]]\nurl = "${r.url}"\nsecret = "inline-secret-0123456789"\n`)).toMatchObject({ code: 'CONFIG_INVALID', details: { key: 'webhooks[0].secret' } });
    expect(bad(`[[webhooks]]\nurl = "${r.url}"\nsecret_env = "MISSING"\n`)).toMatchObject({ code: 'CONFIG_INVALID', details: { key: 'webhooks[0].secret_env' } });
    expect(bad(`[[webhooks]]\nurl = "ftp://x"\nsecret_env = "HOOK_SECRET"\n`)).toMatchObject({ details: { key: 'webhooks[0].url' } });
    expect(bad(`[[webhooks]]\nurl = "${r.url}"\nsecret_env = "HOOK_SECRET"\nevents = ["profile.exploded"]\n`)).toMatchObject({ details: { key: 'webhooks[0].events' } });
    expect(bad(`[[webhooks]]\nurl = "${r.url}"\nsecret_env = "SHORT"\n`, { SHORT: 'x' })).toMatchObject({ details: { key: 'webhooks[0].secret_env' } });
  });

  it('admin routes: bad input is 400 WEBHOOK_INVALID naming the field (nothing added); only unscoped admins', async () => {
    const t = await node();
    const cases: [Record<string, unknown>, string, string][] = [
      [{ url: 'ftp://example.com' }, 'WEBHOOK_INVALID', 'url'],
      [{ url: 'http://user:pw@example.com/' }, 'WEBHOOK_INVALID', 'url'],
      [{ url: 'http://example.com/', events: ['profile.exploded'] }, 'WEBHOOK_INVALID', 'events'],
      [{ url: 'http://example.com/', profiles: ['bad glob!'] }, 'WEBHOOK_INVALID', 'profiles'],
      [{ url: 'http://example.com/', secret: 'short' }, 'WEBHOOK_INVALID', 'secret'],
      [{ url: 'http://example.com/', extra: 1 }, 'REQUEST_INVALID', 'extra'],
    ];
    for (const [body, code, field] of cases) {
      const res = await http(t.url, 'POST', '/api/webhooks', { body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error).toMatchObject({ code, details: { field } });
    }
    expect((await http(t.url, 'GET', '/api/webhooks')).body.webhooks).toEqual([]);
    expect((await http(t.url, 'GET', '/api/webhooks/w0123456789abcde')).body.error.code).toBe('WEBHOOK_NOT_FOUND');
    expect((await http(t.url, 'GET', '/api/webhooks/nope')).body.error).toMatchObject({ code: 'REQUEST_INVALID', details: { field: 'id' } });
    const added = await http(t.url, 'POST', '/api/webhooks', { body: { url: 'http://127.0.0.1:9/x', secret: 'a-good-secret-0123456789' } });
    expect(added.body.secret).toBe('a-good-secret-0123456789');
    expect((await http(t.url, 'POST', '/api/webhooks', { body: { url: 'http://127.0.0.1:9/x' } })).body.error.code).toBe('WEBHOOK_EXISTS');
    const viewer = await http(t.url, 'POST', '/api/tokens', { body: { name: 'v', role: 'viewer' } });
    expect((await http(t.url, 'GET', '/api/webhooks', { token: viewer.body.token })).status).toBe(403);
    const scoped = await http(t.url, 'POST', '/api/tokens', { body: { name: 'scoped', role: 'admin', profiles: ['team-*'] } });
    expect((await http(t.url, 'POST', '/api/webhooks', { token: scoped.body.token, body: { url: 'http://example.com/' } })).status).toBe(403);
    expect((await http(t.url, 'DELETE', `/api/webhooks/${added.body.id}`)).status).toBe(204);
    expect((await http(t.url, 'GET', '/api/webhooks')).body.webhooks).toEqual([]);
    const audit = (await http(t.url, 'GET', '/api/audit?action=webhook.add')).body.records;
    expect(audit).toHaveLength(1);
  });

  it('retryDelay: exponential from the base, capped, with jitter in [50%, 100%]', () => {
    const t = { retryBaseMs: 1000, retryMaxMs: 60_000 };
    expect([1, 2, 3, 4, 7, 20].map((a) => retryDelay(a, t, () => 1))).toEqual([1000, 2000, 4000, 8000, 60_000, 60_000]);
    expect([1, 2, 3].map((a) => retryDelay(a, t, () => 0))).toEqual([500, 1000, 2000]);
  });
});
