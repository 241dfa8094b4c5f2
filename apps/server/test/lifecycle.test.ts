/**
 * Start/stop behaviour: first-start admin token (file 0600, or sealed when encrypted), tokens
 * and peers surviving restarts, wrong passphrase, metrics auth policy, denial audit bounds,
 * graceful shutdown finishing in-flight writes.
 */
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { initKeyring } from '@profilesync/crypto';
import { ADMIN_TOKEN_PURPOSE, defaultConfig, readAdminToken, startServer, writeAdminTokenFile, type RunningServer } from '../src/index.js';
import { ADMIN, http, profileInput, tempDir, tokenSecret } from './helpers.js';

const FAST_SCRYPT = { N: 1024, r: 8, p: 1 };
const dirs: string[] = [];
const servers: RunningServer[] = [];

function dir(): string {
  const d = tempDir();
  dirs.push(d);
  return d;
}

afterEach(async () => {
  for (const s of servers.splice(0)) await s.close().catch(() => undefined);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function start(dataDir: string, opts: Parameters<typeof startServer>[1] = {}, overrides: Partial<ReturnType<typeof defaultConfig>> = {}): Promise<RunningServer> {
  const s = await startServer(defaultConfig({ dataDir, port: 0, logLevel: 'silent', ...overrides }), { env: {}, onAdminToken: () => undefined, ...opts });
  servers.push(s);
  return s;
}

/** Every file under `root`, recursively. */
function files(root: string): string[] {
  return readdirSync(root, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

describe('first start', () => {
  it('generates an admin token once, writes it 0600 for the local CLI, and keeps it across restarts', async () => {
    const data = join(dir(), 'data');
    let printed: string | undefined;
    const s1 = await start(data, { onAdminToken: (r) => (printed = r.token) });
    expect(s1.adminToken.created).toBe(true);
    expect(printed).toMatch(/^ps_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    const file = join(data, 'admin.token');
    expect(readFileSync(file, 'utf8').trim()).toBe(printed);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(await readAdminToken(data)).toBe(printed);
    expect((await http(s1.url, 'GET', '/api/profiles', { token: printed! })).status).toBe(200);
    const created = await http(s1.url, 'POST', '/api/tokens', { token: printed!, body: { name: 'kept', role: 'viewer' } });
    const key = Buffer.alloc(32, 3).toString('base64url');
    await http(s1.url, 'POST', '/api/peers', { token: printed!, body: { url: 'ws://h:1/sync', key } });
    const metrics1 = await (await fetch(`${s1.url}/metrics`)).text();
    expect(metrics1).toMatch(/^profilesync_log_open_seconds\{from="scan"\} [0-9.e-]+$/m); // a new dir: nothing to take
    await s1.close();

    let printedAgain: string | undefined;
    const s2 = await start(data, { onAdminToken: (r) => (printedAgain = r.token) });
    expect(s2.adminToken.created).toBe(false);
    expect(printedAgain).toBeUndefined();
    expect((await http(s2.url, 'GET', '/api/profiles', { token: printed! })).status).toBe(200);
    expect((await http(s2.url, 'GET', '/api/profiles', { token: created.body.token })).status).toBe(200);
    expect((await http(s2.url, 'GET', '/api/peers', { token: printed! })).body.peers).toHaveLength(1);
    expect(s2.publicKey).toBe(s1.publicKey);
    // a clean stop wrote the open index: the restart took the names and heads from it
    expect(await (await fetch(`${s2.url}/metrics`)).text()).toMatch(/^profilesync_log_open_seconds\{from="open-index"\} [0-9.e-]+$/m);
  });

  it('a profile that goes quiet gets its rest state written in the background, counted in metrics', async () => {
    const data = join(dir(), 'data');
    const s1 = await start(data, { env: { PROFILESYNC_ADMIN_TOKEN: ADMIN } });
    const metric = async (url: string, kind: string): Promise<number> => {
      const text = await (await fetch(`${url}/metrics`)).text();
      const m = new RegExp(`^profilesync_log_states_written_total\\{kind="${kind}"\\} (\\d+)$`, 'm').exec(text);
      return m === null ? Number.NaN : Number(m[1]);
    };
    expect(await metric(s1.url, 'rest')).toBe(0);
    expect(await metric(s1.url, 'snapshot')).toBe(0);
    expect((await http(s1.url, 'POST', '/api/profiles', { token: ADMIN, body: { id: 'quiet', modelId: 'gpt-4o', name: 'Quiet', systemMessage: 'You are terse.' } })).status).toBe(201);
    for (let i = 0; i < 3; i++) expect((await http(s1.url, 'PATCH', '/api/profiles/quiet', { token: ADMIN, body: { description: `edit ${i}` } })).status).toBe(200);
    // quiet for 2 s (the default): the log writes its state at the head in the background
    await expect.poll(() => metric(s1.url, 'rest'), { timeout: 8000, interval: 200 }).toBeGreaterThanOrEqual(1);
    await s1.close();
  }, 15_000);

  it('PROFILESYNC_ADMIN_TOKEN presets the admin token and writes no file', async () => {
    const data = join(dir(), 'data');
    const s = await start(data, { env: { PROFILESYNC_ADMIN_TOKEN: ADMIN } });
    expect(s.adminToken).toMatchObject({ created: true });
    expect(s.adminToken.token).toBeUndefined();
    expect(readdirSync(data)).not.toContain('admin.token');
    expect((await http(s.url, 'GET', '/api/profiles')).status).toBe(200);
    const audit = await http(s.url, 'GET', '/api/audit?action=token.create');
    expect(audit.body.records[0]).toMatchObject({ actor: 'bootstrap', details: { preset: true } });
  });

  it('encrypted dir: the admin token is sealed, nothing secret is plaintext on disk, wrong passphrase refused', async () => {
    const data = join(dir(), 'data');
    const passphrase = 'correct horse battery staple';
    let token: string | undefined;
    const s = await start(data, { passphrase: async () => passphrase, scrypt: FAST_SCRYPT, onAdminToken: (r) => (token = r.token) }, { encryption: true });
    expect(s.node.encrypted).toBe(true);
    const marker = 'SECRET-MARKER-PROFILE-TEXT-42';
    expect((await http(s.url, 'POST', '/api/profiles', { token: token!, body: profileInput('enc-1', { systemMessage: marker }) })).status).toBe(201);
    const extra = await http(s.url, 'POST', '/api/tokens', { token: token!, body: { name: 'extra', role: 'viewer' } });
    await s.close();
    expect(readdirSync(data)).toContain('admin.token.sealed');
    expect(readdirSync(data)).not.toContain('admin.token');
    expect(readdirSync(data)).not.toContain('identity.json');
    const needles = [token!, tokenSecret(token!), extra.body.token, marker];
    for (const f of files(data)) {
      const bytes = readFileSync(f);
      for (const n of needles) {
        expect(bytes.includes(Buffer.from(n, 'utf8')), `${n.slice(0, 12)}... in ${f}`).toBe(false);
        expect(bytes.includes(Buffer.from(n, 'utf16le'))).toBe(false);
        expect(bytes.includes(Buffer.from(Buffer.from(n).toString('base64').slice(0, 20)))).toBe(false);
      }
    }
    expect(await readAdminToken(data, async () => passphrase)).toBe(token);
    await expect(readAdminToken(data)).rejects.toMatchObject({ code: 'CRYPTO_PASSPHRASE_REQUIRED' });
    await expect(start(data, { passphrase: async () => 'wrong passphrase' })).rejects.toMatchObject({ code: 'CRYPTO_BAD_PASSPHRASE' });
    await expect(start(data)).rejects.toMatchObject({ code: 'CRYPTO_PASSPHRASE_REQUIRED' });
    const again = await start(data, { passphrase: async () => passphrase });
    expect((await http(again.url, 'GET', '/api/profiles/enc-1', { token: token! })).body.systemMessage).toBe(marker);
    // the open index is sealed by the at-rest codec like every record, and read back through it
    expect(await (await fetch(`${again.url}/metrics`)).text()).toMatch(/^profilesync_log_open_seconds\{from="open-index"\} /m);
  });

  it('sealed admin token file: a keyring blob for the admin-token purpose only; damage -> ADMIN_TOKEN_UNAVAILABLE', async () => {
    const data = dir();
    const passphrase = 'sealed token passphrase';
    const { keyring } = await initKeyring(data, { passphrase, scrypt: FAST_SCRYPT });
    const token = 'ps_0123456789abcdef_sealed-admin-token-value-0123456789';
    const file = writeAdminTokenFile(data, keyring, token);
    expect(file).toBe(join(data, 'admin.token.sealed'));
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const json = JSON.parse(readFileSync(file, 'utf8'));
    expect(json.format).toBe('profilesync-sealed-admin-token/v2');
    const sealed = Buffer.from(json.sealed, 'base64');
    expect(readFileSync(file).includes(Buffer.from(token))).toBe(false);
    expect(Buffer.from(keyring.openBlob(ADMIN_TOKEN_PURPOSE, sealed)).toString('utf8')).toBe(token);
    expect(() => keyring.openBlob('another-purpose', sealed)).toThrow(expect.objectContaining({ code: 'CRYPTO_AUTH_FAILED' }));
    await keyring.close();
    expect(await readAdminToken(data, async () => passphrase)).toBe(token);
    // a flipped ciphertext byte, and the never-shipped v1 (codec at a reserved place) format
    const flipped = Buffer.from(sealed);
    flipped[flipped.length - 20]! ^= 1;
    writeFileSync(file, JSON.stringify({ ...json, sealed: flipped.toString('base64') }));
    await expect(readAdminToken(data, async () => passphrase)).rejects.toMatchObject({ code: 'ADMIN_TOKEN_UNAVAILABLE' });
    writeFileSync(file, JSON.stringify({ format: 'profilesync-sealed-admin-token/v1', codec: 'aes-256-gcm/v1', sealed: json.sealed }));
    await expect(readAdminToken(data, async () => passphrase)).rejects.toMatchObject({ code: 'ADMIN_TOKEN_UNAVAILABLE' });
    writeFileSync(file, JSON.stringify(json));
    await expect(readAdminToken(data, async () => 'wrong passphrase')).rejects.toMatchObject({ code: 'CRYPTO_BAD_PASSPHRASE' });
    expect(await readAdminToken(data, async () => passphrase)).toBe(token);
  });

  it('encryption on in config but a plaintext dir -> CONFIG_INVALID naming the key', async () => {
    const data = join(dir(), 'data');
    await (await start(data)).close();
    servers.pop();
    await expect(start(data, {}, { encryption: true })).rejects.toMatchObject({ code: 'CONFIG_INVALID', details: { key: 'encryption' } });
  });
});

describe('listen failures', () => {
  it('a port in use -> SERVER_ADDRESS_IN_USE, and the data dir is released', async () => {
    const first = await start(join(dir(), 'data'), { adminToken: ADMIN });
    const data2 = join(dir(), 'data');
    await expect(start(data2, { adminToken: ADMIN }, { port: first.port })).rejects.toMatchObject({ code: 'SERVER_ADDRESS_IN_USE' });
    const again = await start(data2, { adminToken: ADMIN });
    expect((await http(again.url, 'GET', '/healthz', { token: null })).status).toBe(200);
  });
});

describe('policies', () => {
  it('metrics.auth = token requires a token even on loopback', async () => {
    const s = await start(join(dir(), 'data'), { adminToken: ADMIN }, { metrics: { auth: 'token' } });
    expect((await http(s.url, 'GET', '/metrics', { token: null })).status).toBe(401);
    expect((await http(s.url, 'GET', '/metrics')).status).toBe(200);
  });

  it('denials are always answered 401 but audited at a bounded rate (injected clock)', async () => {
    let now = 1_700_000_000_000;
    const s = await start(join(dir(), 'data'), { adminToken: ADMIN, clock: () => now, denialAudit: { perSecond: 1, burst: 3 } });
    for (let i = 0; i < 10; i++) expect((await http(s.url, 'GET', '/api/profiles', { token: null })).status).toBe(401);
    const count = async () => (await http(s.url, 'GET', '/api/audit?action=auth.denied')).body.records;
    expect(await count()).toHaveLength(3);
    now += 2000;
    expect((await http(s.url, 'GET', '/api/profiles', { token: null })).status).toBe(401);
    const records = await count();
    expect(records).toHaveLength(4);
    expect(records[0].details.suppressedBefore).toBe(7);
  });
});

describe('graceful shutdown', () => {
  it('finishes in-flight writes, then refuses new ones, and closes the log', async () => {
    const s = await start(join(dir(), 'data'), { adminToken: ADMIN });
    await http(s.url, 'POST', '/api/profiles', { body: profileInput('g1') });
    const firstWrite = new Promise<void>((resolve) => {
      const off = s.node.store.on('profile-written', () => {
        off();
        resolve();
      });
    });
    const writes = Array.from({ length: 40 }, (_, i) => http(s.url, 'PATCH', '/api/profiles/g1', { body: { meta: { [`k${i}`]: i } } }));
    await firstWrite;
    const closed = s.close();
    const results = await Promise.allSettled(writes);
    await closed;
    const acked = results.filter((r) => r.status === 'fulfilled' && r.value.status === 200).length;
    const refused = results.filter((r) => r.status === 'rejected' || (r.status === 'fulfilled' && r.value.status === 503)).length;
    expect(acked + refused).toBe(40);
    expect(acked).toBeGreaterThan(0);
    servers.pop();
    const again = await start(s.node.paths.dataDir, { adminToken: ADMIN });
    const view = await http(again.url, 'GET', '/api/profiles/g1');
    expect(Object.keys(view.body.meta).filter((k) => k.startsWith('k'))).toHaveLength(acked);
  });
});
