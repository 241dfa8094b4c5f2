/**
 * Serves the built dashboard (apps/web/dist) at `/`. No routes are added (the route list
 * stays the API's, as the OpenAPI document describes it): the not-found handler asks
 * `serveWebUi` first. GET/HEAD paths outside the API prefixes get the file when it exists,
 * `index.html` for page paths (SPA fallback), a JSON 404 for missing assets, and 503
 * WEB_UI_NOT_BUILT with a clear message when the UI was never built.
 */
import { existsSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fastifyStatic from '@fastify/static';
import { ProfileSyncError } from '@profilesync/errors';

/** apps/web/dist, from both apps/server/src and apps/server/dist. */
export const DEFAULT_WEB_DIR = fileURLToPath(new URL('../../web/dist/', import.meta.url));

/** Paths the UI never shadows. */
const RESERVED = /^\/(api|healthz|metrics|openapi\.json|yjs|sync)(\/|$)/;

const UI_HEADERS: Record<string, string> = {
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self' ws: wss:; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

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

/** true when the request was answered as a UI request. */
export function serveWebUi(req: FastifyRequest, reply: FastifyReply, dir: string = DEFAULT_WEB_DIR): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const path = req.url.split('?')[0]!;
  if (RESERVED.test(path)) return false;
  if (!existsSync(join(dir, 'index.html'))) {
    throw new ProfileSyncError('WEB_UI_NOT_BUILT', `the web UI is not built (${dir} has no index.html): run \`pnpm build\` or \`pnpm --filter @profilesync/web build\`, then reload`);
  }
  const file = webUiTarget(dir, req.url);
  if (file === undefined) return false;
  void reply.code(200).headers(UI_HEADERS);
  if (file === 'index.html') void reply.header('cache-control', 'no-cache').sendFile(file, { cacheControl: false });
  else if (file.startsWith('assets/')) void reply.sendFile(file, { maxAge: '365d', immutable: true });
  else void reply.sendFile(file, { maxAge: '1h' });
  return true;
}
