// Runs the real buf CLI and protoc-gen-es from node_modules: the committed generated code must
// be exactly what the committed .proto files and template produce, and the contracts must pass
// lint. Generation goes to a temporary directory so the working tree is never touched.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repoRoot = resolve(__dirname, '../../..');
const buf = join(repoRoot, 'node_modules/.bin/buf');
const committedGen = join(repoRoot, 'libs/proto/src/gen');
const templatePath = join(repoRoot, 'proto/buf.gen.yaml');

function listFiles(dir: string): string[] {
  const entries = readdirSync(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

function runBuf(args: string[]): { status: number | null; output: string } {
  const r = spawnSync(buf, args, { cwd: repoRoot, encoding: 'utf8' });
  if (r.error) throw r.error;
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe('proto generation', () => {
  let tmp: string;

  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'firn-proto-gen-'));
  });

  afterAll(() => {
    rmSync(tmp, { recursive: true, force: true });
  });

  it('passes buf lint', () => {
    const r = runBuf(['lint', 'proto']);
    expect(r.output).toBe('');
    expect(r.status).toBe(0);
  });

  it('regenerates byte-identical code from the committed template', () => {
    // Same template, only the output directory redirected.
    const template = readFileSync(templatePath, 'utf8');
    const outLine = /^(\s*out:\s*)libs\/proto\/src\/gen\s*$/m;
    expect(template).toMatch(outLine);
    const outDir = join(tmp, 'gen');
    const tmpTemplate = join(tmp, 'buf.gen.yaml');
    writeFileSync(tmpTemplate, template.replace(outLine, `$1${outDir}`));

    const r = runBuf(['generate', 'proto', '--template', tmpTemplate]);
    expect(r.output).toBe('');
    expect(r.status).toBe(0);

    const fresh = listFiles(outDir);
    expect(fresh.length).toBeGreaterThan(0);
    expect(fresh).toEqual(listFiles(committedGen));
    const stale = fresh.filter((f) => !readFileSync(join(outDir, f)).equals(readFileSync(join(committedGen, f))));
    // A non-empty list names the files to fix with scripts/proto-gen.sh.
    expect(stale).toEqual([]);
    // buf runs one plugin process per proto directory; allow for a loaded machine.
  }, 120_000);
});
