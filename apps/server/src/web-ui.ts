/**
 * Serves the built dashboard (apps/web/dist) at `/`. No routes are added (the route list
 * stays the API's, as the OpenAPI document describes it): the not-found handler asks
 * `serveWebUi` first. GET/HEAD paths outside the API prefixes get the file when it exists,
 * `index.html` for page paths (SPA fallback) — only for HTML navigations (`Accept: text/html`
 * or `Sec-Fetch-Mode: navigate`), so a script, probe or API client asking for a path that does
 * not exist gets a JSON 404, never the dashboard's HTML with 200 — a JSON 404 for missing
 * assets, and 503 WEB_UI_NOT_BUILT with a clear message when the UI was never built.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fastifyStatic from '@fastify/static';
import { ProfileSyncError } from '@profilesync/errors';

/**
 * Set only by the single-file CLI package build (scripts/pack-cli.mjs, esbuild `define`): where
 * the dashboard's files are, relative to the bundle's own files.
 */
declare const PROFILESYNC_BUNDLED_WEB_DIR: string | undefined;

/** apps/web/dist, from both apps/server/src and apps/server/dist (or the CLI package's copy). */
export const DEFAULT_WEB_DIR = fileURLToPath(new URL(typeof PROFILESYNC_BUNDLED_WEB_DIR === 'string' ? PROFILESYNC_BUNDLED_WEB_DIR : '../../web/dist/', import.meta.url));

/** Paths the UI never shadows. */
const RESERVED = /^\/(api|healthz|readyz|metrics|openapi\.json|yjs|sync)(\/|$)/;

const csp = (scripts: string) =>
  `default-src 'self'; script-src ${scripts}; style-src 'self' 'unsafe-inline'; connect-src 'self' ws: wss:; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'`;

const UI_HEADERS: Record<string, string> = {
  'content-security-policy': csp("'self'"),
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

let pageCsp: { key: string; value: string } | undefined;

/**
 * The page's Content-Security-Policy: scripts from this origin, plus the exact inline scripts
 * of the built index.html by their SHA-256 (the dashboard's tiny first-request script runs
 * before its bundle loads); any other inline script is refused. Recomputed when the file changes.
 */
export function pageContentSecurityPolicy(dir: string): string {
  const file = join(dir, 'index.html');
  let key: string;
  let html: string;
  try {
    key = `${file}:${statSync(file).mtimeMs}`;
    if (pageCsp?.key === key) return pageCsp.value;
    html = readFileSync(file, 'utf8');
  } catch {
    return UI_HEADERS['content-security-policy']!;
  }
  const hashes = [...html.matchAll(/<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/g)].map((m) => `'sha256-${createHash('sha256').update(m[1]!, 'utf8').digest('base64')}'`);
  pageCsp = { key, value: csp(["'self'", ...hashes].join(' ')) };
  return pageCsp.value;
}

export function registerWebUi(app: FastifyInstance, dir: string = DEFAULT_WEB_DIR): void {
  void app.register(fastifyStatic, { root: dir, serve: false });
}

/** Decides what a UI path is: a file under `dir`, the SPA page, or a missing asset (undefined). */
export function webUiTarget(dir: string, url: string): string | undefined {
  let path: string;
  try {
    path = decodeURIComponent(url.split('?')[0]!);
  } catch {
    return undefined;
  }
  if (path.includes('\0') || path.includes('\\')) return undefined;
  const rel = posix.normalize(path).replace(/^\/+/, '');
  if (rel.startsWith('..')) return undefined;
  if (rel !== '' && !rel.endsWith('/')) {
    try {
      if (statSync(join(dir, rel)).isFile()) return rel;
    } catch {
      /* not a file */
    }
    if (/\.[A-Za-z0-9]{1,8}$/.test(rel)) return undefined; // a missing asset, not a page
  }
  return 'index.html';
}

/** Whether a request is a browser page navigation (it may get the SPA's index.html for any page path). */
export function isHtmlNavigation(headers: Record<string, string | string[] | undefined>): boolean {
  if (headers['sec-fetch-mode'] === 'navigate') return true;
  const accept = headers.accept;
  return typeof accept === 'string' && /(^|,)\s*text\/html\s*(;|,|$)/i.test(accept);
}

/** true when the request was answered as a UI request. */
export function serveWebUi(req: FastifyRequest, reply: FastifyReply, dir: string = DEFAULT_WEB_DIR): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const path = req.url.split('?')[0]!;
  if (RESERVED.test(path)) return false;
  const built = existsSync(join(dir, 'index.html'));
  const file = webUiTarget(dir, req.url);
  if (file === undefined) return false;
  // the SPA fallback (a page path that is no file) is for page navigations only; `/` is the UI's own page
  const isRoot = path === '/' || path === '/index.html';
  if (file === 'index.html' && !isRoot && !isHtmlNavigation(req.headers)) return false;
  if (!built) {
    throw new ProfileSyncError('WEB_UI_NOT_BUILT', `the web UI is not built (${dir} has no index.html): run \`pnpm build\` or \`pnpm --filter @profilesync/web build\`, then reload`);
  }
  void reply.code(200).headers(UI_HEADERS);
  if (file === 'index.html') void reply.header('cache-control', 'no-cache').header('content-security-policy', pageContentSecurityPolicy(dir)).sendFile(file, { cacheControl: false });
  else if (file.startsWith('assets/')) void reply.sendFile(file, { maxAge: '365d', immutable: true });
  // other files (prime.js, favicon) keep their name across builds: revalidate them every time
  else void reply.header('cache-control', 'no-cache').sendFile(file, { cacheControl: false });
  return true;
}
