/**
 * Test support for the dashboard: a real node on 127.0.0.1 (temp data dir, known admin
 * token, the sync package's /yjs endpoint mounted), the built UI (built once when missing or
 * older than its sources), and Debian's Chromium driven by playwright-core (no downloads).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';
import { defaultConfig, startServer, type RunningServer, type StartServerOptions } from '@profilesync/server';
import { CHROMIUM, WEB_ROOT, ensureBuilt, launchBrowser } from './browser.js';

export const ADMIN = 'web-test-admin-token-0123456789abcdef';
const REPO_ROOT = join(WEB_ROOT, '..', '..');
export const SHOTS = join(REPO_ROOT, 'test-results', 'screenshots');
export { CHROMIUM, WEB_ROOT, ensureBuilt, launchBrowser };

export interface TestNode {
  server: RunningServer;
  url: string;
  /** closes the node but keeps its data dir (for restart) */
  halt(): Promise<void>;
  /** starts the node again on the same port with the same data dir */
  restart(): Promise<void>;
  /** deletes the data dir of a halted node: `restart` then starts a reset node (nothing stored, the same admin token) */
  wipe(): void;
  stop(): Promise<void>;
}

type ConfigOverrides = Partial<Parameters<typeof defaultConfig>[0]>;

async function boot(dataDir: string, port: number, opts: StartServerOptions, config: ConfigOverrides): Promise<RunningServer> {
  const c = defaultConfig({ dataDir, host: '127.0.0.1', port, logLevel: 'silent', ...config });
  return startServer(c, { adminToken: ADMIN, env: {}, ...opts });
}

/** A node in a fresh temp data dir; `opts` go to startServer (e.g. `{ sync: false }`), `config` to its config. */
export async function startNode(opts: StartServerOptions = {}, config: ConfigOverrides = {}): Promise<TestNode> {
  const dir = mkdtempSync(join(tmpdir(), 'ps-web-'));
  const dataDir = join(dir, 'data');
  const node: TestNode = {
    server: await boot(dataDir, 0, opts, config),
    url: '',
    async halt() {
      await node.server.close();
    },
    async restart() {
      node.server = await boot(dataDir, node.server.port, opts, config);
    },
    wipe() {
      rmSync(dataDir, { recursive: true, force: true });
    },
    async stop() {
      await node.server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  node.url = node.server.url;
  return node;
}

/**
 * The setup every browser test file shares: before its tests, build the UI when stale, start
 * one node and one Chromium, and hand both to `ready`; after them, close both. A file's own
 * beforeAll, registered after this call, runs once both are up.
 */
export function nodeAndBrowser(ready: (env: { node: TestNode; browser: Browser }) => void, config: ConfigOverrides = {}): void {
  let node: TestNode | undefined;
  let browser: Browser | undefined;
  beforeAll(async () => {
    ensureBuilt();
    node = await startNode({}, config);
    browser = await launchBrowser();
    ready({ node, browser });
  });
  afterAll(async () => {
    await browser?.close();
    await node?.stop();
  });
}

/** A fresh context + page with the token signed in through the sign-in screen. */
export async function signedInPage(browser: Browser, url: string, token: string, name: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.on('pageerror', (err) => console.error(`[${name}] page error:`, err.message));
  await page.goto(url);
  await page.getByLabel('API token').fill(token);
  await page.getByLabel('Your name (shown to others while editing)').fill(name);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
  return { context, page };
}

export async function shot(page: Page, name: string): Promise<string> {
  mkdirSync(SHOTS, { recursive: true });
  const file = join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: false });
  return file;
}

export interface Res<T = any> {
  status: number;
  body: T;
}

export async function api<T = any>(base: string, method: string, path: string, body?: unknown, token = ADMIN): Promise<Res<T>> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

export async function createProfile(base: string, id: string, extra: Record<string, unknown> = {}): Promise<any> {
  const r = await api(base, 'POST', '/api/profiles', {
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
  if (r.status !== 201) throw new Error(`create ${id}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

export async function createToken(base: string, role: 'admin' | 'editor' | 'viewer', name: string): Promise<string> {
  const r = await api<{ token: string }>(base, 'POST', '/api/tokens', { role, name });
  if (r.status !== 201) throw new Error(`token: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.token;
}

export { dirname };

/** The text of a live CodeMirror editor (without remote caret labels). */
export async function editorText(page: Page, testId: string): Promise<string> {
  return page.locator(`[data-testid="${testId}"] .cm-content`).evaluate((el) => {
    const c = el.cloneNode(true) as HTMLElement;
    for (const x of c.querySelectorAll('.cm-ySelectionCaret, .cm-widgetBuffer')) x.remove();
    return [...c.querySelectorAll('.cm-line')].map((l) => l.textContent ?? '').join('\n');
  });
}

/** Waits until the editor's sync badge says one of `states`. */
export async function waitForSync(page: Page, states: string[], timeout = 20_000): Promise<void> {
  await page.waitForFunction((s) => s.includes(document.querySelector('[data-testid="sync-state"]')?.getAttribute('data-state') ?? ''), states, { timeout });
}

/** Polls `fn` until it returns true (or throws after `timeout` ms with `what`). */
export async function eventually(fn: () => Promise<boolean> | boolean, what: string, timeout = 20_000): Promise<void> {
  const end = Date.now() + timeout;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Form controls on the page without an accessible name (label, aria-label or aria-labelledby). */
export async function unlabeledControls(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll('input, select, textarea, [contenteditable]')]
      .filter((el) => {
        const e = el as HTMLInputElement;
        if (e.type === 'hidden') return false;
        const labelled = (e.labels?.length ?? 0) > 0 || e.getAttribute('aria-label') || (e.getAttribute('aria-labelledby') ?? '').split(' ').some((id) => id && document.getElementById(id)?.textContent?.trim());
        return !labelled;
      })
      .map((el) => `${el.tagName.toLowerCase()}#${el.id || '?'}.${[...el.classList].join('.')}`),
  );
}

/** Waits until the dialog is open and holds the keyboard focus (so Enter / Escape go to it). */
export async function dialogReady(page: Page, testId: string): Promise<void> {
  await page.getByTestId(testId).waitFor();
  await page.waitForFunction((id) => document.activeElement?.closest(`[data-testid="${id}"]`) != null, testId);
}

/** A stock Yjs client (y-websocket in Node) of profile `id`, synced with the node, then taken offline: its doc and provider (`p.connect()` reconnects). */
export async function offlineYjsClient(url: string, id: string, token = ADMIN): Promise<{ doc: Y.Doc; p: WebsocketProvider }> {
  const doc = new Y.Doc();
  const p = new WebsocketProvider(`${url.replace(/^http/, 'ws')}/yjs`, id, doc, { WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket, params: { token }, disableBc: true });
  try {
    await eventually(() => p.synced, 'the Yjs client to sync');
  } catch (err) {
    p.destroy();
    throw err;
  }
  p.disconnect();
  return { doc, p };
}
