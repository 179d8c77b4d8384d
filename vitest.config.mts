// One Vitest config for the monorepo. SWC compiles TypeScript so NestJS decorator metadata
// works in tests exactly as at run time (esbuild would drop emitDecoratorMetadata).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

const root = import.meta.dirname;

const base = JSON.parse(readFileSync(resolve(root, 'tsconfig.base.json'), 'utf8')) as {
  compilerOptions: { paths: Record<string, string[]> };
};
const alias = Object.fromEntries(Object.entries(base.compilerOptions.paths).map(([k, v]) => [k, resolve(root, v[0])]));

export default defineConfig({
  plugins: [swc.vite({ module: { type: 'es6' } })],
  resolve: { alias },
  test: {
    include: [
      'apps/**/*.{spec,int-spec}.ts',
      'libs/**/*.{spec,int-spec}.ts',
      'charts/**/*.spec.ts',
      'e2e/**/*.{spec,int-spec,e2e-spec}.ts',
      'tools/**/*.spec.ts',
      'bench/**/*.spec.ts',
      'plugins/**/*.{spec,int-spec}.ts',
    ],
    exclude: ['**/node_modules/**', '**/fixtures/**'],
    environment: 'node',
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
