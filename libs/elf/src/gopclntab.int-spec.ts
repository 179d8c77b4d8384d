// Builds real Go programs (Debian's golang-go, plus every /usr/lib/go-1.* toolchain installed,
// e.g. golang-1.23-go from bookworm-backports) stripped in the ways production binaries are, and
// checks the .gopclntab reader against Go's own tools: `go tool addr2line` on the unstripped
// build for every address, and the Go runtime's CPU profile (its own inline expansion) for the
// sampled ones.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Profile } from 'pprof-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileSource } from './byte-source';
import { openGoSymbols, type GoFrame, type GoSymbolTable } from './gopclntab';
import { readElfFile } from './read';

const PROGRAM = join(__dirname, 'testing', 'go', 'prog.go');

function sh(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): string {
  return execFileSync(cmd, args, { ...opts, encoding: 'utf8', maxBuffer: 512 << 20, stdio: ['pipe', 'pipe', 'pipe'] });
}

function goVersion(go: string): string | undefined {
  try {
    return /go(1\.\d+)/.exec(sh(go, ['version']))?.[1];
  } catch {
    return undefined;
  }
}

/** `go` on PATH (Debian's golang-go) and any other Debian golang-1.N toolchain. */
function toolchains(): Array<{ go: string; version: string }> {
  const found = new Map<string, string>();
  const onPath = goVersion('go');
  if (onPath) found.set(onPath, 'go');
  const lib = '/usr/lib';
  for (const d of existsSync(lib) ? readdirSync(lib) : []) {
    const go = join(lib, d, 'bin', 'go');
    const v = /^go-(1\.\d+)$/.exec(d) && existsSync(go) ? goVersion(go) : undefined;
    if (v && !found.has(v)) found.set(v, go);
  }
  return [...found].map(([version, go]) => ({ go, version }));
}

const TOOLCHAINS = toolchains();
/**
 * The reference tool: the newest toolchain's `go tool addr2line` reads older binaries too, and
 * Go 1.19's answers `?` for every address of a PIE (it assumes text starts at `.text`).
 */
const REFERENCE_GO = [...TOOLCHAINS].sort((a, b) => Number(b.version.split('.')[1]) - Number(a.version.split('.')[1]))[0]?.go ?? 'go';
if (TOOLCHAINS.length === 0) console.warn('gopclntab.int-spec: no Go toolchain installed (scripts/install-system-deps.sh installs golang-go); skipped');
if (!TOOLCHAINS.some((t) => Number(t.version.split('.')[1]) >= 20)) {
  console.warn(
    'gopclntab.int-spec: no Go ≥ 1.20 toolchain (golang-1.23-go from bookworm-backports); the go1.20 layout is then tested on synthetic tables only',
  );
}

interface Variant {
  name: string;
  flags: string[];
  cgo?: boolean;
  /** Remove the section headers after building (the table must then be found by scanning). */
  noSections?: boolean;
}

const VARIANTS: Variant[] = [
  { name: '-ldflags=-s -w', flags: ['-ldflags=-s -w'] },
  { name: '-buildmode=pie -ldflags=-s -w', flags: ['-buildmode=pie', '-ldflags=-s -w'] },
  { name: 'external linker (as Debian builds cgo programs), -s -w', flags: ['-ldflags=-s -w -linkmode=external'], cgo: true },
  { name: '-s -w, section headers removed', flags: ['-ldflags=-s -w'], noSections: true },
];

/** The unstripped build with the same code layout. */
function referenceFlags(v: Variant): string[] {
  return v.flags.map((f) => f.replace('-s -w', '').replace('-ldflags= ', '-ldflags=')).filter((f) => f !== '-ldflags=');
}

function removeSectionHeaders(path: string): void {
  const b = readFileSync(path);
  b.writeBigUInt64LE(0n, 0x28); // e_shoff
  b.writeUInt16LE(0, 0x3c); // e_shnum
  b.writeUInt16LE(0, 0x3e); // e_shstrndx
  writeFileSync(path, b);
}

interface Ref {
  functionName: string;
  fileName: string;
  line: number;
}

/** `go tool addr2line` (function, file:line per address; the function is the physical one). */
function goAddr2line(go: string, bin: string, vaddrs: bigint[]): Ref[] {
  const out = sh(go, ['tool', 'addr2line', bin], { input: vaddrs.map((v) => '0x' + v.toString(16)).join('\n') + '\n' }).split('\n');
  return vaddrs.map((_, i) => {
    const fn = out[2 * i] ?? '?';
    const m = /^(.*):(\d+)$/.exec(out[2 * i + 1] ?? '');
    return { functionName: fn === '?' ? '' : fn, fileName: m && m[1] !== '?' ? m[1] : '', line: m ? Number(m[2]) : 0 };
  });
}

function goTextSymbols(bin: string): Array<{ name: string; address: bigint; size: bigint }> {
  return sh('nm', ['-S', '--defined-only', bin])
    .split('\n')
    .map((l) => /^([0-9a-f]+) ([0-9a-f]+) [tT] (.+)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ name: m[3], address: BigInt('0x' + m[1]), size: BigInt('0x' + m[2]) }));
}

async function open(path: string): Promise<{ table: GoSymbolTable; src: FileSource }> {
  const elf = await readElfFile(path);
  const src = FileSource.open(path);
  const r = openGoSymbols(elf, src);
  if (r.kind !== 'table') throw new Error(`${path}: ${JSON.stringify(r)}`);
  return { table: r.table, src };
}

const leafAndPhysical = (frames: GoFrame[]): Ref => ({
  functionName: frames[frames.length - 1]?.functionName ?? '',
  fileName: frames[0]?.fileName ?? '',
  line: frames[0]?.line ?? 0,
});

describe.skipIf(TOOLCHAINS.length === 0).each(TOOLCHAINS)('.gopclntab of Go $version', ({ go, version }) => {
  const dir = join(tmpdir(), `firn-gopclntab-${process.pid}-${version}`);
  const env = {
    ...process.env,
    GOFLAGS: '-mod=mod',
    GOCACHE: join(tmpdir(), 'firn-go-build-cache'),
    GOPATH: join(dir, 'gopath'),
    HOME: dir,
    GOTOOLCHAIN: 'local',
  };
  const built = new Map<string, string>();
  const sources: FileSource[] = [];

  function build(name: string, flags: string[], cgo = false): string {
    const key = `${name}:${flags.join(' ')}:${cgo}`;
    const have = built.get(key);
    if (have) return have;
    const out = join(dir, `prog-${built.size}`);
    sh(go, ['build', ...flags, '-o', out, '.'], { cwd: dir, env: { ...env, CGO_ENABLED: cgo ? '1' : '0' } });
    built.set(key, out);
    return out;
  }

  beforeAll(() => {
    mkdirSync(dir, { recursive: true });
    copyFileSync(PROGRAM, join(dir, 'main.go'));
    writeFileSync(join(dir, 'go.mod'), 'module firnprog\n\ngo 1.19\n');
  }, 300_000);
  afterAll(() => {
    for (const s of sources) s.close();
    execFileSync('rm', ['-rf', dir]);
  });

  it('recognises the layout of this Go version', async () => {
    const { table, src } = await open(build('stripped', ['-ldflags=-s -w']));
    sources.push(src);
    expect(table.format).toBe(Number(version.split('.')[1]) >= 20 ? 'go1.20' : 'go1.18');
    expect(table.hasInlineTrees).toBe(true);
  }, 300_000);

  const variants = VARIANTS.filter((v) => REFERENCE_GO !== go || version !== '1.19' || !v.flags.includes('-buildmode=pie'));
  it.each(variants)(
    '$name: function and file:line equal go tool addr2line on the unstripped build',
    async (v) => {
      const ref = build('ref', referenceFlags(v), v.cgo);
      let subject = build('subject', v.flags, v.cgo);
      if (v.noSections) {
        const copy = `${subject}-nosections`;
        copyFileSync(subject, copy);
        removeSectionHeaders(copy);
        subject = copy;
      }
      const { table, src } = await open(subject);
      sources.push(src);
      const syms = goTextSymbols(ref);
      const { start, end } = table.textRange;
      // Every byte of the test's own functions, and a stride through all Go code.
      const vaddrs: bigint[] = [];
      for (const s of syms.filter((x) => x.name.startsWith('main.'))) for (let a = s.address; a < s.address + s.size; a++) vaddrs.push(a);
      for (let a = start; a < end; a += 13n) vaddrs.push(a);
      const want = goAddr2line(REFERENCE_GO, ref, vaddrs);
      const mismatches: Array<{ address: string; ours: Ref; want: Ref }> = [];
      vaddrs.forEach((a, i) => {
        const ours = leafAndPhysical(table.lookup(a));
        if (JSON.stringify(ours) !== JSON.stringify(want[i])) mismatches.push({ address: '0x' + a.toString(16), ours, want: want[i] });
      });
      const share = 1 - mismatches.length / vaddrs.length;
      expect(vaddrs.length).toBeGreaterThan(10_000);
      expect(mismatches.slice(0, 5), `${mismatches.length} of ${vaddrs.length} addresses differ`).toEqual([]);
      expect(share).toBeGreaterThanOrEqual(0.99);
    },
    300_000,
  );

  it("the Go runtime's own CPU profile: same inline chains, names and lines at every sampled address", async () => {
    const bin = build('stripped', ['-ldflags=-s -w']);
    const profPath = join(dir, `cpu-${version}.pb.gz`);
    sh(bin, ['2s'], { env: { ...env, FIRN_GO_CPUPROFILE: profPath } });
    const prof = Profile.decode(gunzipSync(readFileSync(profPath)));
    const str = (i: number | bigint): string => String(prof.stringTable.strings[Number(i)] ?? '');
    const fnById = new Map(prof.function.map((f) => [Number(f.id), f]));
    const { table, src } = await open(bin);
    sources.push(src);
    let compared = 0;
    const mismatches: unknown[] = [];
    const chains = new Set<string>();
    for (const loc of prof.location) {
      const lines = loc.line.map((l) => {
        const f = fnById.get(Number(l.functionId));
        return { functionName: str(f?.name ?? 0), fileName: str(f?.filename ?? 0), line: Number(l.line) };
      });
      if (lines.length === 0 || !lines.some((l) => l.functionName.startsWith('main.'))) continue;
      compared++;
      // The profile's leaf address is the sampled pc, callers are return addresses: the runtime
      // looks those up at pc-1, so do we for them.
      const pc = BigInt(loc.address);
      const oursAt = table.lookup(pc);
      const ours = oursAt.length > 0 && oursAt[0].line === lines[0].line ? oursAt : table.lookup(pc - 1n);
      const got = ours.map(({ functionName, fileName, line }) => ({ functionName, fileName, line }));
      chains.add(got.map((f) => f.functionName).join(' ← '));
      if (JSON.stringify(got) !== JSON.stringify(lines)) mismatches.push({ address: '0x' + pc.toString(16), got, want: lines });
    }
    expect(compared).toBeGreaterThan(0);
    expect(mismatches).toEqual([]);
    // The hot loop's inlined calls are frames of their own.
    expect(
      [...chains].some((c) => c.startsWith('main.inner ← main.middle ← main.hotLoop') || c.startsWith('main.(*acc).mix ← main.middle ← main.hotLoop')),
    ).toBe(true);
  }, 300_000);
});
