/**
 * /readyz (DESIGN §6) and the readiness registry behind it; JSON 404s for unknown API paths and
 * for requests that are not HTML navigations (the SPA fallback answers page navigations only).
 */
import { maxHeaderSize } from 'node:http';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig, Readiness, readServerFile, readyzAnswer, startServer } from '../src/index.js';
import { isHtmlNavigation } from '../src/web-ui.js';
import { ADMIN, http, rawHttp, startTestServer, tempDir, type TestServer } from './helpers.js';

describe('Readiness registry', () => {
  it('is ready with no checks; lists each failing check with its code; removal stops counting', () => {
    const r = new Readiness();
    expect(r.status()).toEqual({ ready: true, degraded: false, reasons: [] });
    let behind = true;
    const off = r.register('bus', () => (behind ? { code: 'BUS_CATCHING_UP', message: 'behind by 1200 ms' } : undefined));
    r.register('plain', () => 'a plain reason');
    r.register('fine', () => null);
    expect(r.status()).toEqual({
      ready: false,
      degraded: false,
      reasons: [
        { check: 'bus', code: 'BUS_CATCHING_UP', message: 'behind by 1200 ms' },
        { check: 'plain', code: 'NOT_READY', message: 'a plain reason' },
      ],
    });
    behind = false;
    expect(r.status().reasons.map((x) => x.check)).toEqual(['plain']);
    behind = true;
    off();
    off(); // idempotent
    expect(r.names()).toEqual(['plain', 'fine']);
    expect(r.status().reasons.map((x) => x.check)).toEqual(['plain']);
  });

  it('a degraded reason keeps the node ready and is listed; a blocking one beside it makes it unready', () => {
    const r = new Readiness();
    let damaged = true;
    let opening = false;
    r.register('storage', () => (damaged ? { code: 'STORAGE_DAMAGED', message: '1 damaged profile(s): p1', degraded: true } : undefined));
    r.register('store', () => (opening ? { code: 'STORE_OPENING', message: 'opening' } : undefined));
    const degradedReason = { check: 'storage', code: 'STORAGE_DAMAGED', message: '1 damaged profile(s): p1', degraded: true };
    expect(r.status()).toEqual({ ready: true, degraded: true, reasons: [degradedReason] });
    expect(readyzAnswer(r.status())).toEqual({ code: 200, body: { ready: true, degraded: true, reasons: [degradedReason] } });
    opening = true;
    expect(r.status()).toEqual({ ready: false, degraded: false, reasons: [degradedReason, { check: 'store', code: 'STORE_OPENING', message: 'opening' }] });
    expect(readyzAnswer(r.status()).code).toBe(503);
    opening = false;
    damaged = false;
    expect(readyzAnswer(r.status())).toEqual({ code: 200, body: { ready: true } });
  });

  it('a throwing check is a reason, not an exception; names are unique and well-formed', () => {
    const r = new Readiness();
    r.register('boom', () => {
      throw new Error('kaput');
    });
    expect(r.status()).toEqual({ ready: false, degraded: false, reasons: [{ check: 'boom', code: 'READINESS_CHECK_FAILED', message: 'the boom check failed: kaput' }] });
    expect(() => r.register('boom', () => undefined)).toThrow(/already registered/);
    expect(() => r.register('Bad Name', () => undefined)).toThrow(/must match/);
    expect(() => r.register('', () => undefined)).toThrow(/must match/);
  });
});

describe('/readyz on a running node', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({}, { sync: false });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('is 200 { ready: true } without a token, JSON even for a browser', async () => {
    const r = await http(t.url, 'GET', '/readyz', { token: null });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ ready: true });
    expect(r.headers.get('cache-control')).toBe('no-store');
    const html = await http(t.url, 'GET', '/readyz', { token: null, headers: { accept: 'text/html,application/xhtml+xml', 'sec-fetch-mode': 'navigate' } });
    expect(html.status).toBe(200);
    expect(html.headers.get('content-type')).toContain('application/json');
    expect(html.body).toEqual({ ready: true });
  });

  it('is 503 with the reasons while a registered check fails, 200 again once it passes', async () => {
    let lag = 5000;
    const off = t.server.readiness.register('bus', () => (lag > 0 ? { code: 'BUS_CATCHING_UP', message: `behind the fleet by ${lag} ms` } : undefined));
    try {
      const r = await http(t.url, 'GET', '/readyz', { token: null });
      expect(r.status).toBe(503);
      expect(r.body).toEqual({ ready: false, reasons: [{ check: 'bus', code: 'BUS_CATCHING_UP', message: 'behind the fleet by 5000 ms' }] });
      lag = 0;
      expect((await http(t.url, 'GET', '/readyz', { token: null })).status).toBe(200);
    } finally {
      off();
    }
    expect(t.server.readiness.names()).toEqual(['shutdown', 'store', 'storage']);
  });

  it('stays 200 while a check reports a degradation (listed with degraded: true); 503 once a blocking reason joins it', async () => {
    let lag = 0;
    const offDegraded = t.server.readiness.register('test-degraded', () => ({ code: 'STORAGE_DAMAGED', message: '1 damaged profile(s): p1', degraded: true }));
    const offBus = t.server.readiness.register('bus', () => (lag > 0 ? { code: 'BUS_CATCHING_UP', message: `behind the fleet by ${lag} ms` } : undefined));
    try {
      const degraded = { check: 'test-degraded', code: 'STORAGE_DAMAGED', message: '1 damaged profile(s): p1', degraded: true };
      const r = await http(t.url, 'GET', '/readyz', { token: null });
      expect(r.status).toBe(200);
      expect(r.body).toEqual({ ready: true, degraded: true, reasons: [degraded] });
      lag = 100;
      const blocked = await http(t.url, 'GET', '/readyz', { token: null });
      expect(blocked.status).toBe(503);
      expect(blocked.body).toEqual({ ready: false, reasons: [degraded, { check: 'bus', code: 'BUS_CATCHING_UP', message: 'behind the fleet by 100 ms' }] });
    } finally {
      offDegraded();
      offBus();
    }
    expect((await http(t.url, 'GET', '/readyz', { token: null })).body).toEqual({ ready: true });
  });

  it('refuses query parameters like the other system routes', async () => {
    const r = await http(t.url, 'GET', '/readyz?verbose=1', { token: null });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('REQUEST_INVALID');
  });
});

describe('before the store is open', () => {
  it('the bound port answers /readyz 503 STORE_OPENING, /healthz starting, the rest 503 SERVER_STARTING', async () => {
    const dir = tempDir();
    const dataDir = join(dir, 'data');
    try {
      // an encrypted dir waits for its passphrase: the node is bound but its store is not open
      let release!: (p: string) => void;
      const passphrase = new Promise<string>((resolve) => (release = resolve));
      let bound!: (url: string) => void;
      const boundUrl = new Promise<string>((resolve) => (bound = resolve));
      let asked!: () => void;
      const askedForPassphrase = new Promise<void>((resolve) => (asked = resolve));
      const starting = startServer(defaultConfig({ dataDir, port: 0, logLevel: 'silent', encryption: true }), {
        adminToken: ADMIN,
        env: {},
        sync: false,
        scrypt: { N: 1024, r: 8, p: 1 },
        onListening: ({ url }) => bound(url),
        passphrase: () => {
          asked();
          return passphrase;
        },
      });
      const url = await boundUrl;
      await askedForPassphrase;

      const ready = await http(url, 'GET', '/readyz', { token: null });
      expect(ready.status).toBe(503);
      expect(ready.body).toEqual({ ready: false, reasons: [{ check: 'store', code: 'STORE_OPENING', message: 'the node is opening its data dir' }] });
      const health = await http(url, 'GET', '/healthz', { token: null });
      expect(health.status).toBe(200);
      expect(health.body).toEqual({ status: 'starting' });
      const api = await http(url, 'GET', '/api/profiles');
      expect(api.status).toBe(503);
      expect(api.body.error.code).toBe('SERVER_STARTING');
      expect(api.headers.get('retry-after')).toBe('1');
      const page = await http(url, 'GET', '/', { token: null, headers: { accept: 'text/html' } });
      expect(page.status).toBe(503);
      // what the HTTP parser refuses gets the coded answer while starting too
      const huge = await rawHttp(url, `GET /api/profiles HTTP/1.1\r\nhost: 127.0.0.1\r\nx-request-id: ${'a'.repeat(20_000)}\r\n\r\n`);
      expect([huge.status, huge.body.error.code, huge.body.error.details]).toEqual([431, 'REQUEST_HEADERS_TOO_LARGE', { limitBytes: maxHeaderSize }]);

      // not ready: no server.json yet (the CLI must not send work to a node that cannot take it)
      expect(readServerFile(dataDir)).toBeUndefined();
      release('correct horse battery staple 1');
      const server = await starting;
      try {
        expect(server.url).toBe(url);
        expect(readServerFile(dataDir)).toMatchObject({ url, port: server.port, pid: process.pid });
        expect((await http(url, 'GET', '/readyz', { token: null })).body).toEqual({ ready: true });
        expect((await http(url, 'GET', '/healthz', { token: null })).body).toEqual({ status: 'ok' });
        expect((await http(url, 'GET', '/api/profiles')).status).toBe(200);
      } finally {
        await server.close();
      }
      // closed: the port is released, server.json removed, the checks are gone
      await expect(fetch(`${url}/readyz`)).rejects.toThrow();
      expect(readServerFile(dataDir)).toBeUndefined();
      expect(server.readiness.names()).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('store open but the API not serving yet (sync still starting): /readyz names SERVER_STARTING, never an empty 503', async () => {
    const dir = tempDir();
    const dataDir = join(dir, 'data');
    try {
      let url = '';
      let entered!: () => void;
      const inSync = new Promise<void>((resolve) => (entered = resolve));
      let fail!: (e: Error) => void;
      const gate = new Promise<never>((_resolve, reject) => (fail = reject));
      const starting = startServer(defaultConfig({ dataDir, port: 0, logLevel: 'silent' }), {
        adminToken: ADMIN,
        env: {},
        onListening: (i) => (url = i.url),
        sync: () => {
          entered();
          return gate;
        },
      });
      await inSync;
      const r = await http(url, 'GET', '/readyz', { token: null });
      expect(r.status).toBe(503);
      expect(r.body).toEqual({ ready: false, reasons: [{ check: 'store', code: 'SERVER_STARTING', message: 'the node is starting: its data dir is open, the API is not serving yet' }] });
      fail(new Error('sync failed to start'));
      await expect(starting).rejects.toThrow('sync failed to start');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a failed open (wrong passphrase) releases the port and throws the open error', async () => {
    const dir = tempDir();
    const dataDir = join(dir, 'data');
    try {
      const first = await startServer(defaultConfig({ dataDir, port: 0, logLevel: 'silent', encryption: true }), { adminToken: ADMIN, env: {}, sync: false, scrypt: { N: 1024, r: 8, p: 1 }, passphrase: async () => 'the right passphrase 123' });
      await first.close();
      let url = '';
      const readiness = new Readiness();
      await expect(
        startServer(defaultConfig({ dataDir, port: 0, logLevel: 'silent' }), { adminToken: ADMIN, env: {}, sync: false, readiness, onListening: (i) => (url = i.url), passphrase: async () => 'the wrong passphrase 456' }),
      ).rejects.toMatchObject({ code: 'CRYPTO_BAD_PASSPHRASE' });
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      await expect(fetch(`${url}/readyz`)).rejects.toThrow();
      expect(readiness.names()).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a taken port is SERVER_ADDRESS_IN_USE before anything is opened', async () => {
    const t = await startTestServer({}, { sync: false });
    const dir = tempDir();
    try {
      await expect(startServer(defaultConfig({ dataDir: join(dir, 'data'), port: t.server.port, logLevel: 'silent' }), { adminToken: ADMIN, env: {}, sync: false })).rejects.toMatchObject({ code: 'SERVER_ADDRESS_IN_USE' });
      // nothing was created in the second data dir
      const { existsSync } = await import('node:fs');
      expect(existsSync(join(dir, 'data'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await t.stop();
    }
  });
});

describe('not found', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({}, { sync: false });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('unknown /api paths are JSON 404 ROUTE_NOT_FOUND, even for a browser navigation', async () => {
    for (const headers of [{}, { accept: 'text/html', 'sec-fetch-mode': 'navigate' }] as Record<string, string>[]) {
      const r = await http(t.url, 'GET', '/api/nope/deeper?x=1', { headers });
      expect(r.status).toBe(404);
      expect(r.headers.get('content-type')).toContain('application/json');
      expect(r.body).toEqual({ error: { code: 'ROUTE_NOT_FOUND', message: 'no route GET /api/nope/deeper' } });
    }
  });

  it('a page path is the dashboard for an HTML navigation and a JSON 404 for anything else', async () => {
    const nav = await http(t.url, 'GET', '/profiles/abc', { token: null, headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    expect(nav.status).toBe(200);
    expect(nav.headers.get('content-type')).toContain('text/html');
    expect(nav.text).toContain('<title>profilesync</title>');
    // (fetch sets its own Sec-Fetch-Mode, so that header is pinned on the predicate)
    expect(isHtmlNavigation({ accept: '*/*', 'sec-fetch-mode': 'navigate' })).toBe(true);
    expect(isHtmlNavigation({ accept: '*/*', 'sec-fetch-mode': 'cors' })).toBe(false);
    expect(isHtmlNavigation({ accept: 'text/html;q=0.9' })).toBe(true);
    expect(isHtmlNavigation({ accept: 'application/json, text/htmlx' })).toBe(false);
    expect(isHtmlNavigation({})).toBe(false);
    for (const accept of [undefined, '*/*', 'application/json']) {
      const r = await http(t.url, 'GET', '/ready', { token: null, headers: accept ? { accept } : {} });
      expect(r.status).toBe(404);
      expect(r.headers.get('content-type')).toContain('application/json');
      expect(r.body.error.code).toBe('ROUTE_NOT_FOUND');
    }
    // the dashboard's own page and its files are served to anyone
    const root = await http(t.url, 'GET', '/', { token: null });
    expect(root.status).toBe(200);
    expect(root.headers.get('content-type')).toContain('text/html');
    const missingAsset = await http(t.url, 'GET', '/assets/nope.js', { token: null, headers: { accept: 'text/html' } });
    expect(missingAsset.status).toBe(404);
    expect(missingAsset.body.error.code).toBe('ROUTE_NOT_FOUND');
  });

  it('non-GET requests to unknown paths are JSON 404 too', async () => {
    const r = await http(t.url, 'POST', '/whatever', { body: {} });
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('ROUTE_NOT_FOUND');
  });
});
