#!/usr/bin/env node
// Builds the web UI (apps/web → dist/web) when it is missing or older than its sources:
// `npm start`, `npm test` and the browser e2e call this; `npm run build:web` always builds.
//   node scripts/build-web.cjs [--force] [--quiet]
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync, readdirSync, statSync } = require('node:fs');
const { join, resolve } = require('node:path');

const ROOT = resolve(__dirname, '..');
const OUT = join(ROOT, 'dist/web/index.html');
const INPUTS = ['apps/web', 'libs/proto/src', 'package-lock.json'];
const args = process.argv.slice(2);
const quiet = args.includes('--quiet');

function newest(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return /\.spec\.ts$|README\.md$/.test(path) ? 0 : st.mtimeMs;
  let m = 0;
  for (const e of readdirSync(path)) if (e !== 'node_modules') m = Math.max(m, newest(join(path, e)));
  return m;
}

/** Why a build is needed, or undefined when dist/web is current. */
function staleReason() {
  if (args.includes('--force')) return 'asked to';
  if (!existsSync(OUT)) return 'dist/web is missing';
  const built = statSync(OUT).mtimeMs;
  for (const p of INPUTS) if (newest(join(ROOT, p)) > built) return `${p} changed`;
  return undefined;
}

const why = staleReason();
if (!why) {
  if (!quiet) console.log('firn setup: web UI up to date (dist/web)');
  process.exit(0);
}
console.log(`firn setup: building the web UI (${why})`);
const r = spawnSync(
  process.execPath,
  [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--config', join(ROOT, 'apps/web/vite.config.mts'), '--logLevel', 'warn'],
  { cwd: ROOT, stdio: 'inherit' },
);
if (r.status !== 0) {
  console.error('firn setup: the web UI build failed (see above); the APIs still work without it');
  process.exit(r.status ?? 1);
}
