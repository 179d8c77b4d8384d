import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { APP_CONFIGS, ROOT, renderReadme } from './config-docs';

describe('app READMEs', () => {
  it.each(Object.keys(APP_CONFIGS))('apps/%s/README.md documents exactly its config schema', (app) => {
    const text = readFileSync(resolve(ROOT, 'apps', app, 'README.md'), 'utf8');
    expect(renderReadme(text, APP_CONFIGS[app]), 'run: node scripts/run-ts.cjs tools/docs/config-docs.ts --write').toBe(text);
  });
});
