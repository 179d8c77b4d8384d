import { join, resolve } from 'node:path';
import { build } from 'vite';

const HARNESS = join(__dirname, 'harness');
const NODE_MODULES = resolve(__dirname, '..', '..', '..', '..', 'node_modules');

/**
 * Bundles the test page (React, @grafana/ui, @grafana/flamegraph and the harness) with Vite into
 * `outDir`, served under /harness/. The plugin itself is not part of it: the page loads the
 * built dist/module.js at run time, as Grafana does.
 */
export async function buildHarness(outDir: string): Promise<void> {
  await build({
    configFile: false,
    root: HARNESS,
    base: '/harness/',
    // Third-party bundles warn about 'use client' directives; only errors matter here.
    logLevel: 'error',
    mode: 'production',
    define: { 'process.env.NODE_ENV': JSON.stringify('production') },
    resolve: {
      dedupe: ['react', 'react-dom'],
      alias: [
        // @grafana/runtime 10.4 imports these without the extension systemjs' exports map requires.
        { find: /^systemjs\/dist\/(system|extras\/amd)$/, replacement: join(NODE_MODULES, 'systemjs', 'dist', '$1.js') },
      ],
    },
    build: { outDir, emptyOutDir: true, sourcemap: false, reportCompressedSize: false, chunkSizeWarningLimit: 100_000 },
  });
}
