import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('.', import.meta.url));
// Workspace packages resolve to their TypeScript sources, so tests never need a build.
// Exact-match aliases, so subpath exports (e.g. @profilesync/server/local) resolve too.
const alias: { find: RegExp; replacement: string }[] = [
  ...['errors', 'model', 'log', 'crypto', 'core', 'sync', 'cache', 'bus'].map((p) => ({
    find: new RegExp(`^@profilesync/${p}$`),
    replacement: `${root}packages/${p}/src/index.ts`,
  })),
  { find: /^@profilesync\/client$/, replacement: `${root}packages/client/src/index.ts` },
  { find: /^@profilesync\/client\/(redis|file)$/, replacement: `${root}packages/client/src/$1.ts` },
  { find: /^@profilesync\/server$/, replacement: `${root}apps/server/src/index.ts` },
  { find: /^@profilesync\/server\/local$/, replacement: `${root}apps/server/src/local.ts` },
];

const project = (name: string, dir: string, extra: Record<string, unknown> = {}) => ({
  resolve: { alias },
  test: {
    name,
    root: `${root}${dir}`,
    include: ['**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    ...extra,
  },
});

export default defineConfig({
  test: {
    projects: [
      ...['errors', 'model', 'log', 'crypto', 'core', 'sync', 'cache', 'bus'].map((p) => project(p, `packages/${p}`)),
      // the app SDK against real nodes; its pack test builds and installs the package outside the workspace
      project('client', 'packages/client', { testTimeout: 120_000 }),
      project('server', 'apps/server'),
      project('cli', 'apps/cli'),
      // real Chromium (Debian's package) driven by playwright-core against a real node
      project('web', 'apps/web', { include: ['test/**/*.test.ts'], testTimeout: 120_000, fileParallelism: false }),
      project('e2e', 'test', { exclude: ['**/node_modules/**', 'bench/**'] }),
    ],
  },
});
