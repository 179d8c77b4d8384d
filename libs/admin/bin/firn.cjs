#!/usr/bin/env node
// The `firn` admin CLI (package.json "bin"): runs the TypeScript entry through SWC, like every
// other entry point (scripts/run-ts.cjs).
const path = require('node:path');
process.argv.splice(2, 0, path.join(__dirname, '..', 'src', 'cli', 'main.ts'));
require(path.join(__dirname, '..', '..', '..', 'scripts', 'run-ts.cjs'));
