/**
 * Vite config for the dashboard. JSX is compiled by Vite's built-in esbuild for Preact
 * (no framework plugin). `pnpm dev` proxies the node's HTTP and WebSocket paths to
 * PROFILESYNC_URL (default http://127.0.0.1:7878) so the page talks to a real node.
 */
import { defineConfig } from 'vite';

const target = process.env.PROFILESYNC_URL ?? 'http://127.0.0.1:7878';

export default defineConfig({
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  // workspace packages (@profilesync/model: the node's own validation and render) from their
  // TypeScript sources, as everywhere else in the repo: no build of them needed first
  resolve: { dedupe: ['yjs', 'lib0', 'y-protocols', '@codemirror/state', '@codemirror/view'], conditions: ['@profilesync/source', 'module', 'browser', 'development|production'] },
  server: {
    host: '127.0.0.1',
    proxy: {
      '/api': { target, changeOrigin: true },
      '/healthz': { target, changeOrigin: true },
      '/metrics': { target, changeOrigin: true },
      '/openapi.json': { target, changeOrigin: true },
      '/yjs': { target, ws: true, changeOrigin: true },
    },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    chunkSizeWarningLimit: 1024,
  },
});
