/**
 * The built UI and Debian's Chromium, for the browser tests and the web benchmark (no vitest
 * here, so test/bench can import it): `vite build` when apps/web/dist is missing or older than
 * the UI's sources, and a headless Chromium through playwright-core (nothing downloaded).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';

export type { Browser, BrowserContext, Page } from 'playwright-core';

export const WEB_ROOT = fileURLToPath(new URL('..', import.meta.url));
export const CHROMIUM = process.env.PROFILESYNC_CHROMIUM ?? '/usr/bin/chromium';

function newestMtime(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let max = 0;
  for (const name of readdirSync(path)) max = Math.max(max, newestMtime(join(path, name)));
  return max;
}

/** Runs `vite build` when apps/web/dist is missing or older than the UI's sources. Throws on failure. */
export function ensureBuilt(): void {
  const index = join(WEB_ROOT, 'dist', 'index.html');
  // the UI's sources, and the workspace package it bundles from source (@profilesync/model)
  const sources = Math.max(newestMtime(join(WEB_ROOT, 'src')), newestMtime(join(WEB_ROOT, '..', '..', 'packages', 'model', 'src')), ...['index.html', 'vite.config.ts', 'package.json', 'public'].filter((f) => existsSync(join(WEB_ROOT, f))).map((f) => newestMtime(join(WEB_ROOT, f))));
  if (existsSync(index) && statSync(index).mtimeMs >= sources) return;
  const vite = join(WEB_ROOT, 'node_modules', 'vite', 'bin', 'vite.js');
  const r = spawnSync(process.execPath, [vite, 'build', '--logLevel', 'warn'], { cwd: WEB_ROOT, encoding: 'utf8', timeout: 240_000 });
  if (r.status !== 0 || !existsSync(index)) {
    throw new Error(`the web UI could not be built (vite build in ${WEB_ROOT} exited ${r.status}):\n${r.stdout}\n${r.stderr}`);
  }
}

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium is not installed at ${CHROMIUM}: run scripts/ensure-system-deps.sh (apt-get install chromium) or set PROFILESYNC_CHROMIUM`);
  }
  // launch() gives every browser a fresh temporary --user-data-dir of its own (mkdtemp), and
  // each newContext() is an isolated profile (own sessionStorage, cookies).
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
}

