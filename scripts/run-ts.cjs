#!/usr/bin/env node
// Runs a TypeScript entry point with SWC (decorator metadata + tsconfig path aliases).
// Usage: node scripts/run-ts.cjs <file.ts> [args...]
const path = require('node:path');
process.env.SWC_NODE_PROJECT ??= path.join(__dirname, '..', 'tsconfig.json');
require('@swc-node/register');
const [, , entry, ...rest] = process.argv;
if (!entry) {
  console.error('usage: run-ts.cjs <entry.ts> [args...]');
  process.exit(2);
}
process.argv = [process.argv[0], path.resolve(entry), ...rest];
require(path.resolve(entry));
