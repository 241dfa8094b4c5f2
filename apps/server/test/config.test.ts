import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CONFIG_KEYS, isLoopbackHost, loadConfig } from '../src/config.js';

const dir = mkdtempSync(join(tmpdir(), 'ps-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

function codeOf(fn: () => unknown): { code?: string; details?: Record<string, unknown> } {
  try {
    fn();
  } catch (err) {
    return err as { code?: string; details?: Record<string, unknown> };
  }
  throw new Error('expected an error');
}

describe('loadConfig', () => {
  it('has the documented embedded defaults', () => {
    const c = loadConfig({ env: {}, cwd: '/srv' });
    expect(c.dataDir).toBe('/srv/data');
    expect(c.host).toBe('127.0.0.1');
    expect(c.port).toBe(7878);
    expect(c.encryption).toBe(false);
    expect(c.metrics.auth).toBe('auto');
    expect(c.cache.hotBytes).toBe(64 * 1024 * 1024);
    expect(c.peers).toEqual([]);
  });

  it('layers file < env < flags, and resolves data_dir against the file folder', () => {
    const f = file('layers.toml', 'data_dir = "d1"\nport = 9000\nhost = "0.0.0.0"\n[cache]\nmax_docs = 5\n[metrics]\nauth = "token"\n');
    const fromFile = loadConfig({ file: f, env: {} });
    expect(fromFile).toMatchObject({ dataDir: join(dir, 'd1'), port: 9000, host: '0.0.0.0', cache: { maxDocs: 5 }, metrics: { auth: 'token' }, configFile: f });
    const withEnv = loadConfig({ file: f, env: { PROFILESYNC_PORT: '9001', PROFILESYNC_CACHE_MAX_DOCS: '7' }, cwd: '/x' });
    expect(withEnv.port).toBe(9001);
    expect(withEnv.cache.maxDocs).toBe(7);
    const withFlags = loadConfig({ file: f, env: { PROFILESYNC_PORT: '9001' }, flags: { port: '9002', data_dir: 'flagdir' }, cwd: '/x' });
    expect(withFlags.port).toBe(9002);
    expect(withFlags.dataDir).toBe('/x/flagdir');
  });

  it('reads the file named by PROFILESYNC_CONFIG', () => {
    const f = file('env.toml', 'port = 1234\n');
    expect(loadConfig({ env: { PROFILESYNC_CONFIG: f } }).port).toBe(1234);
  });

  it('names the bad key and its source', () => {
    expect(codeOf(() => loadConfig({ env: { PROFILESYNC_PORT: 'eighty' } }))).toMatchObject({ code: 'CONFIG_INVALID', details: { key: 'port', source: 'PROFILESYNC_PORT' } });
    expect(codeOf(() => loadConfig({ env: {}, flags: { port: '70000' } }))).toMatchObject({ code: 'CONFIG_INVALID', details: { key: 'port', source: '--port' } });
    const f = file('bad.toml', '[metrics]\nauth = "maybe"\n');
    expect(codeOf(() => loadConfig({ file: f, env: {} }))).toMatchObject({ code: 'CONFIG_INVALID', details: { key: 'metrics.auth', source: f } });
    const unknown = file('unknown.toml', 'prot = 80\n');
    expect(codeOf(() => loadConfig({ file: unknown, env: {} }))).toMatchObject({ code: 'CONFIG_INVALID', details: { key: 'prot' } });
    const unknownNested = file('unknown2.toml', '[cache]\nhot = 1\n');
    expect(codeOf(() => loadConfig({ file: unknownNested, env: {} }))).toMatchObject({ code: 'CONFIG_INVALID', details: { key: 'cache.hot' } });
    // the key meant, when one is close: a typo, or the camelCase spelling of a snake_case key
    expect(codeOf(() => loadConfig({ file: unknown, env: {} }))).toMatchObject({ message: expect.stringContaining("unknown key; did you mean 'port'?") });
    const camel = file('camel.toml', '[versions]\nidleMs = 3000\n');
    expect(codeOf(() => loadConfig({ file: camel, env: {} }))).toMatchObject({ code: 'CONFIG_INVALID', details: { key: 'versions.idleMs' }, message: expect.stringContaining("did you mean 'versions.idle_ms'? (config keys are snake_case)") });
    const far = file('far.toml', 'completely_unrelated = 1\n');
    expect((codeOf(() => loadConfig({ file: far, env: {} })) as { message?: string }).message).toMatch(/: unknown key$/);
    const notToml = file('broken.toml', 'port = = 3\n');
    expect(codeOf(() => loadConfig({ file: notToml, env: {} }))).toMatchObject({ code: 'CONFIG_INVALID', details: { key: 'config' } });
    expect(codeOf(() => loadConfig({ file: join(dir, 'missing.toml'), env: {} }))).toMatchObject({ code: 'CONFIG_INVALID', details: { key: 'config' } });
    expect(codeOf(() => loadConfig({ env: { PROFILESYNC_ENCRYPTION: 'perhaps' } }))).toMatchObject({ code: 'CONFIG_INVALID', details: { key: 'encryption' } });
    expect(codeOf(() => loadConfig({ env: { PROFILESYNC_BODY_LIMIT: '10' } }))).toMatchObject({ code: 'CONFIG_INVALID', details: { key: 'body_limit' } });
  });

  it('validates [[peers]] entries by index', () => {
    const key = Buffer.alloc(32, 7).toString('base64url');
    const good = file('peers.toml', `[[peers]]\nurl = "ws://10.0.0.2:7878/sync"\nkey = "${key}"\nname = "b"\n`);
    expect(loadConfig({ file: good, env: {} }).peers).toEqual([{ url: 'ws://10.0.0.2:7878/sync', key, name: 'b' }]);
    const badUrl = file('peers2.toml', `[[peers]]\nurl = "ws://a/sync"\nkey = "${key}"\n[[peers]]\nurl = "http://x"\nkey = "${key}"\n`);
    expect(codeOf(() => loadConfig({ file: badUrl, env: {} }))).toMatchObject({ code: 'CONFIG_INVALID', details: { key: 'peers[1].url' } });
    const badKey = file('peers3.toml', '[[peers]]\nurl = "ws://a/sync"\nkey = "short"\n');
    expect(codeOf(() => loadConfig({ file: badKey, env: {} }))).toMatchObject({ code: 'CONFIG_INVALID', details: { key: 'peers[0].key', source: badKey } });
    // the message names the file like every other config key (it said "(file)")
    expect((codeOf(() => loadConfig({ file: badKey, env: {} })) as Error).message).toBe(`config peers[0].key (${badKey}): must be a base64url Ed25519 public key (43 characters, from \`profilesync keys show\`)`);
  });

  it('documents every key with an env var', () => {
    // DESIGN §6 names the fleet key's variable PROFILESYNC_FLEET_KEY (the one exception to the pattern)
    const named: Record<string, string> = { 'bus.key': 'PROFILESYNC_FLEET_KEY' };
    for (const k of CONFIG_KEYS) {
      expect(k.env).toBe(named[k.key] ?? `PROFILESYNC_${k.key.replaceAll('.', '_').toUpperCase()}`);
      expect(k.doc.length).toBeGreaterThan(5);
    }
  });

  it('docs/configuration.md has a row for every key, with its environment variable', () => {
    const doc = readFileSync(join(__dirname, '../../../docs/configuration.md'), 'utf8');
    const rows = new Set(doc.split('\n').filter((l) => l.startsWith('| `')).map((l) => l.split(' | ').slice(0, 2).join(' | ')));
    const missing = CONFIG_KEYS.filter((k) => !rows.has(`| \`${k.key}\` | \`${k.env}\``)).map((k) => k.key);
    expect(missing).toEqual([]);
  });

  it('classifies loopback binds', () => {
    expect(isLoopbackHost('127.0.0.1')).toBe(true);
    expect(isLoopbackHost('::1')).toBe(true);
    expect(isLoopbackHost('localhost')).toBe(true);
    expect(isLoopbackHost('0.0.0.0')).toBe(false);
    expect(isLoopbackHost('10.1.2.3')).toBe(false);
  });
});
