// Builds the web UI into dist/web (served by the gateway at /). `npm run build:web`.
import { resolve } from 'node:path';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const root = import.meta.dirname;
const repo = resolve(root, '../..');

export default defineConfig({
  root,
  base: '/',
  plugins: [react()],
  resolve: { alias: { '@firn/proto': resolve(repo, 'libs/proto/src/index.ts') } },
  build: {
    outDir: resolve(repo, 'dist/web'),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: true,
    chunkSizeWarningLimit: 400,
  },
  server: {
    // `npx vite apps/web` during development: the APIs come from a running all-in-one.
    proxy: Object.fromEntries(
      ['/api', '/parca.query.v1alpha1.QueryService'].map((p) => [p, { target: process.env.FIRN_URL ?? 'http://127.0.0.1:7070', changeOrigin: true }]),
    ),
  },
});
