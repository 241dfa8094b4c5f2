/**
 * Test support: real profilesync nodes (LevelDB in a temp dir, HTTP on 127.0.0.1) that can be
 * stopped and started again on the same port and data dir, plus a small admin fetch helper.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultConfig, openNode, startServer, type RunningServer } from '@profilesync/server';

export const ADMIN = 'client-test-admin-token-0123456789';

export interface TestNode {
  url: string;
  dir: string;
  server: RunningServer | undefined;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** changes made with the node stopped (an offline tool on the data dir) */
  offline(fn: (store: Awaited<ReturnType<typeof openNode>>['store']) => Promise<void>): Promise<void>;
  destroy(): Promise<void>;
}

export async function startNode(opts: { heartbeatMs?: number; redisUrl?: string } = {}): Promise<TestNode> {
  const dir = mkdtempSync(join(tmpdir(), 'ps-client-'));
  let port = 0;
  const node: TestNode = {
    url: '',
    dir,
    server: undefined,
    async start() {
      const base = defaultConfig({ dataDir: join(dir, 'data'), port, logLevel: 'silent' });
      const config = { ...base, changes: { heartbeatMs: opts.heartbeatMs ?? 15_000, maxConnections: 10_000 }, cache: { ...base.cache, redisUrl: opts.redisUrl ?? '' } };
      node.server = await startServer(config, { adminToken: ADMIN, env: {}, sync: false });
      port = node.server.port;
      node.url = node.server.url;
    },
    async stop() {
      await node.server?.close();
      node.server = undefined;
    },
    async offline(fn) {
      const h = await openNode({ dataDir: join(dir, 'data') });
      try {
        await fn(h.store);
      } finally {
        await h.close();
      }
    },
    async destroy() {
      await node.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await node.start();
  return node;
}

export async function admin<T = any>(url: string, method: string, path: string, body?: unknown, token = ADMIN): Promise<{ status: number; body: T }> {
  const res = await fetch(url + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

export const profile = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  modelId: 'gpt-4o-mini',
  name: `Profile ${id}`,
  systemMessage: 'You are a support agent for {{product}}.',
  templates: { greet: 'Hello {{name}}, how can I help?' },
  parameters: { temperature: 0.2, max_tokens: 256 },
  ...extra,
});

/** Resolves when `pred()` holds, checking on every event of `on` and on a short poll. */
export async function until(pred: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const PKG_DIR = fileURLToPath(new URL('..', import.meta.url));

function newest(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let max = st.mtimeMs;
  for (const name of readdirSync(path)) if (name !== 'node_modules' && name !== 'dist') max = Math.max(max, newest(join(path, name)));
  return max;
}

/**
 * Builds the package (`node build.mjs`) unless dist is newer than every input (its sources and
 * the workspace sources it bundles). Test files running in parallel take turns (a lock dir).
 */
export async function ensureBuilt(): Promise<void> {
  const lock = join(PKG_DIR, '.build-lock');
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    const out = join(PKG_DIR, 'dist', 'index.js');
    const inputs = ['src', 'shims', 'build.mjs', 'package.json', '../model/src', '../cache/src', '../errors/src'].map((p) => newest(join(PKG_DIR, p)));
    if (existsSync(out) && statSync(out).mtimeMs >= Math.max(...inputs)) return;
    const r = spawnSync(process.execPath, ['build.mjs'], { cwd: PKG_DIR, encoding: 'utf8', timeout: 240_000 });
    if (r.status !== 0) throw new Error(`node build.mjs failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
