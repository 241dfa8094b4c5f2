/**
 * `profilesync changes` and `profilesync webhook ...` through the real binary against a served
 * node: the catch-up and its position, --follow as JSON lines, webhooks added, listed (never
 * the secret), delivered to a receiver on 127.0.0.1, their delivery log, removal, bad input.
 */
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, BIN, cleanEnv, cli, ROOT, serve, type Served } from './helpers.js';

const TOKEN = 'cli-feed-admin-token-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'ps-cli-feed-'));
let served: Served;
let receiver: Server;
let hookUrl = '';
const bodies: { raw: string; signature: string }[] = [];

beforeAll(async () => {
  assertBuilt();
  served = await serve(['--data', join(dir, 'node')], { PROFILESYNC_ADMIN_TOKEN: TOKEN });
  receiver = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      bodies.push({ raw, signature: String(req.headers['x-profilesync-signature']) });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
});
afterAll(async () => {
  await served?.stop('SIGKILL');
  receiver?.closeAllConnections();
  await new Promise((r) => receiver?.close(r));
  rmSync(dir, { recursive: true, force: true });
});

const env = () => ({ PROFILESYNC_URL: served.info.url, PROFILESYNC_TOKEN: TOKEN });

async function until(pred: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 15_000;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('profilesync changes / webhook', () => {
  it('changes: the current state of every profile and a position; --since gives only what came after', () => {
    expect(cli(['profile', 'create', '--id', 'feed-a', '--model', 'm', '--name', 'A', '--json'], env()).code).toBe(0);
    expect(cli(['profile', 'create', '--id', 'feed-b', '--model', 'm', '--name', 'B', '--json'], env()).code).toBe(0);
    const all = cli(['changes', '--json'], env());
    expect(all.code).toBe(0);
    expect(all.json.changes.map((c: any) => c.data.id)).toEqual(['feed-a', 'feed-b']);
    expect(all.json.position).toMatch(/^[0-9a-z]+-\d+$/);
    expect(cli(['profile', 'set', 'feed-a', 'name=A2', '--json'], env()).code).toBe(0);
    const since = cli(['changes', '--since', all.json.position, '--json'], env());
    expect(since.json.changes.map((c: any) => [c.data.id, c.data.deleted])).toEqual([['feed-a', false]]);
    const human = cli(['changes', '--ids', 'feed-b'], env());
    expect(human.stdout).toMatch(/^[0-9a-z]+-\d+ {2}feed-b {2}v\d\./m);
    const bad = cli(['changes', '--since', 'nonsense', '--json'], env());
    expect(bad.code).toBe(8);
    expect(bad.error?.code).toBe('REQUEST_INVALID');
  });

  it('changes --follow prints one JSON line per change as it happens', async () => {
    const child = spawn(process.execPath, [BIN, 'changes', '--follow', '--json', '--since', '0'], { cwd: ROOT, env: cleanEnv(env()) });
    const lines: any[] = [];
    createInterface({ input: child.stdout! }).on('line', (l) => lines.push(JSON.parse(l)));
    let err = '';
    child.stderr!.on('data', (c) => (err += c));
    try {
      await until(() => err.includes('caught up') || lines.length >= 2, 'catch-up');
      const before = lines.length;
      expect(cli(['profile', 'set', 'feed-b', 'name=B2', '--json'], env()).code).toBe(0);
      await until(() => lines.length > before, 'a live line');
      expect(lines[lines.length - 1]).toMatchObject({ data: { id: 'feed-b', deleted: false } });
    } finally {
      child.kill('SIGINT');
    }
    expect(await new Promise((r) => child.once('exit', r))).toBe(0);
  });

  it('webhook add / list / deliveries / remove', async () => {
    const added = cli(['webhook', 'add', hookUrl, '--event', 'profile.updated', '--profile', 'feed-*', '--name', 'ci', '--json'], env());
    expect(added.code).toBe(0);
    expect(added.json).toMatchObject({ url: hookUrl, events: ['profile.updated'], profiles: ['feed-*'], name: 'ci', source: 'added' });
    const secret: string = added.json.secret;
    expect(secret).toMatch(/^whsec_/);
    const list = cli(['webhook', 'list', '--json'], env());
    expect(list.json.webhooks.map((h: any) => h.id)).toEqual([added.json.id]);
    expect(list.stdout).not.toContain(secret);
    expect(cli(['webhook', 'list'], env()).stdout).toContain(hookUrl);

    expect(cli(['profile', 'set', 'feed-a', 'name=A3', '--json'], env()).code).toBe(0);
    await until(() => bodies.length === 1, 'a delivery');
    const { raw, signature } = bodies[0]!;
    expect(signature).toBe(`sha256=${createHmac('sha256', secret).update(raw).digest('hex')}`);
    expect(JSON.parse(raw)).toMatchObject({ event: 'profile.updated', data: { id: 'feed-a' } });

    const log = cli(['webhook', 'deliveries', added.json.id, '--json'], env());
    expect(log.json.deliveries).toMatchObject([{ profile: 'feed-a', outcome: 'delivered', status: 204, attempt: 1 }]);
    expect(cli(['webhook', 'deliveries', added.json.id], env()).stdout).toContain('delivered');

    const bad = cli(['webhook', 'add', 'ftp://nope', '--json'], env());
    expect(bad.code).toBe(8);
    expect(bad.error?.code).toBe('WEBHOOK_INVALID');
    expect(cli(['webhook', 'remove', added.json.id, '--json'], env()).json).toEqual({ removed: added.json.id });
    const gone = cli(['webhook', 'deliveries', added.json.id, '--json'], env());
    expect(gone.code).toBe(4);
    expect(gone.error?.code).toBe('WEBHOOK_NOT_FOUND');
    for (const args of [['changes', '--help'], ['webhook', 'add', '--help'], ['webhook', 'deliveries', '--help']]) expect(cli(args).code).toBe(0);
    // --event names every kind the node delivers (the OpenAPI document's enum)
    const kinds = ((await (await fetch(`${served.info.url}/openapi.json`)).json()) as { components: { schemas: { WebhookEvent: { enum: string[] } } } }).components.schemas.WebhookEvent.enum;
    const help = cli(['webhook', 'add', '--help']).stdout.replace(/\s+/g, ' ');
    for (const k of kinds) expect(help).toContain(k);
  });
});
