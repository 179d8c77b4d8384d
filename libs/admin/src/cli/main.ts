#!/usr/bin/env node
// Entry point of the `firn` CLI (package.json "bin"): the only place it reads the environment,
// the file system and the clock.
import { readFile, writeFile } from 'node:fs/promises';
import { runCli } from './cli';

// eslint-disable-next-line no-restricted-syntax -- an entry point passes its environment in
runCli(process.argv.slice(2), process.env, {
  out: (l) => process.stdout.write(`${l}\n`),
  err: (l) => process.stderr.write(`${l}\n`),
  fetch,
  readFile: async (path) => new Uint8Array(await readFile(path)),
  writeFile: (path, bytes) => writeFile(path, bytes),
  now: () => Date.now(),
}).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`firn: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
