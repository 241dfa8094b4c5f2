/** Test support: real servers on 127.0.0.1 in temp data dirs, and a tiny fetch wrapper. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import { join } from 'node:path';
import { defaultConfig, startServer, type RunningServer, type ServerConfig, type StartServerOptions } from '../src/index.js';

export const ADMIN = 'test-admin-token-0123456789abcdef';

export interface TestServer {
  server: RunningServer;
  url: string;
  dir: string;
  stop(): Promise<void>;
}

export function tempDir(prefix = 'ps-server-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function startTestServer(overrides: Partial<ServerConfig> = {}, opts: StartServerOptions = {}, dir = tempDir()): Promise<TestServer> {
  const config = defaultConfig({ dataDir: join(dir, 'data'), port: 0, logLevel: 'silent', ...overrides });
  const server = await startServer(config, { adminToken: ADMIN, env: {}, ...opts });
  return {
    server,
    url: server.url,
    dir,
    async stop() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Res<T = any> {
  status: number;
  body: T;
  headers: Headers;
  text: string;
}

export async function http<T = any>(
  base: string,
  method: string,
  path: string,
  opts: { token?: string | null; body?: unknown; raw?: string | Buffer; type?: string; headers?: Record<string, string> } = {},
): Promise<Res<T>> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  const token = opts.token === undefined ? ADMIN : opts.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  let body: string | Buffer | undefined;
  if (opts.raw !== undefined) {
    body = opts.raw;
    if (opts.type) headers['content-type'] = opts.type;
  } else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] = opts.type ?? 'application/json';
  }
  const res = await fetch(base + path, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  if ((res.headers.get('content-type') ?? '').includes('json') && text.length > 0) parsed = JSON.parse(text);
  return { status: res.status, body: parsed as T, headers: res.headers, text };
}

/**
 * The secret part of a `ps_<id>_<secret>` token (43 base64url characters, which may contain
 * '_' themselves, so `split('_')` would cut it, sometimes to an empty string).
 */
export function tokenSecret(token: string): string {
  const m = /^ps_[0-9a-f]{16}_([A-Za-z0-9_-]{43})$/.exec(token);
  if (!m) throw new Error(`not a ps_ token: ${token.slice(0, 24)}...`);
  return m[1] as string;
}

export const profileInput = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  modelId: 'gpt-4o',
  name: `Profile ${id}`,
  description: 'A test profile',
  systemMessage: 'You are a helpful assistant.',
  templates: { greet: 'Hello {{name}}' },
  parameters: { temperature: 0.7, max_tokens: 512 },
  meta: { tags: ['test'] },
  ...extra,
});

/** The WebSocket URL of `path` on a running node. */
export const wsUrl = (s: { url: string }, path: string): string => `${s.url.replace(/^http/, 'ws')}${path}`;

/** A request as the admin that must succeed (status < 300); its JSON body. */
export async function ok<T = any>(s: { url: string }, method: string, path: string, body?: unknown): Promise<T> {
  const r = await http<T>(s.url, method, path, body === undefined ? {} : { body });
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
  return r.body;
}

/**
 * Writes raw bytes to the node (what fetch cannot send: oversized headers, not-HTTP) and reads
 * until the node closes the connection (never resolves while it stays open): the status, headers
 * and JSON body of its answer.
 */
export async function rawHttp(base: string, bytes: string | Buffer): Promise<{ status: number; headers: Map<string, string>; body: any }> {
  const { hostname, port } = new URL(base);
  const raw = await new Promise<Buffer>((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    // the node may close while this side is still writing (EPIPE/ECONNRESET): what arrived counts
    socket.on('error', (err: NodeJS.ErrnoException) => (chunks.length > 0 ? resolve(Buffer.concat(chunks)) : reject(err)));
    socket.on('close', () => resolve(Buffer.concat(chunks)));
    socket.write(bytes);
  });
  const text = raw.toString('utf8');
  const split = text.indexOf('\r\n\r\n');
  const [statusLine = '', ...lines] = text.slice(0, split).split('\r\n');
  const headers = new Map(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  const bodyText = text.slice(split + 4);
  return { status: Number(statusLine.split(' ')[1]), headers, body: bodyText.length > 0 ? JSON.parse(bodyText) : undefined };
}
