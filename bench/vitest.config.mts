// The root config only collects apps/libs/e2e tests; this one runs bench/**/*.spec.ts with the
// same aliases and compiler: npx vitest run --config bench/vitest.config.mts
import { resolve } from 'node:path';
import { defineConfig } from 'vitest/config';
import root from '../vitest.config.mts';

export default defineConfig({
  ...root,
  root: resolve(import.meta.dirname, '..'),
  test: { ...root.test, include: ['bench/**/*.spec.ts'] },
});
