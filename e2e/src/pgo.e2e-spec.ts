import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bpfUnavailable, pgoRoundTrip, textOf, type PgoRoundTrip } from '@firn/testing';

const unavailable = bpfUnavailable();

/**
 * A Go toolchain with `go build -pgo` (Go ≥ 1.21): Debian bookworm's `go` is 1.19, so look for
 * the backports' golang-1.2x-go (scripts/install-system-deps.sh) under /usr/lib/go-1.N too.
 */
function goWithPgo(): string | undefined {
  const candidates = [
    'go',
    ...(existsSync('/usr/lib')
      ? readdirSync('/usr/lib')
          .filter((d) => /^go-1\.\d+$/.test(d))
          .map((d) => join('/usr/lib', d, 'bin', 'go'))
      : []),
  ];
  for (const go of candidates) {
    const v = /go1\.(\d+)/.exec(spawnSync(go, ['version'], { encoding: 'utf8' }).stdout ?? '')?.[1];
    if (v && Number(v) >= 21) return go;
  }
  return undefined;
}
const GO_PGO = goWithPgo();
if (unavailable) console.warn(`PGO e2e skipped: BPF unavailable here: ${unavailable}`);

/**
 * Profile-guided optimization from the fleet, end to end: a branch-heavy C program (and a Go
 * program) profiled by the real eBPF agent at 199 Hz, address-only frames plus the binaries'
 * debug info uploaded through the gateway, the server's LLVM sample profile fed back to
 * `clang -O2 -fprofile-sample-use` (Debian clang 14) and its Go profile checked with
 * `go tool pprof -raw` and, where a Go ≥ 1.21 is installed, fed to `go build -pgo`. The speedup of the rebuilt binary is measured by bench/pgo/pgo.bench.ts,
 * never asserted here.
 */
describe.skipIf(unavailable !== undefined)('PGO export round trip (eBPF agent → server → compiler)', () => {
  let dir: string;
  let rt: PgoRoundTrip;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'firn-e2e-pgo-'));
    // 400 samples: at 199 Hz a few seconds of one busy core, minutes on a loaded shared machine.
    rt = await pgoRoundTrip({ dir, minSamples: 400, timeoutMs: 600_000, frequencyHz: 199, withGo: true, log: (l) => console.log(l) });
  }, 900_000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('exports an LLVM sample profile that llvm-profdata reads and clang -fprofile-sample-use accepts and applies', () => {
    const r = rt.llvm;
    expect(r.buildId).toBe(rt.tokenizerBuildId);
    expect(r.debuginfoSource).toBe('upload');
    expect(r.fileName).toBe('pgotok.prof');
    expect(r.exportedSamples).toBeGreaterThanOrEqual(400n);
    const text = textOf(rt.llvmFile);
    expect(text, text.slice(0, 2000)).toMatch(/^tokenize:\d+:\d+$/m);
    // The tokenizer's handlers run inlined or called from tokenize; either way on_text is there.
    expect(text).toMatch(/on_text/);
    const show = execFileSync('llvm-profdata', ['show', '--sample', '--all-functions', rt.llvmFile], { encoding: 'utf8' });
    expect(show).toMatch(/Function: tokenize: [1-9]\d*, \d+, [1-9]\d* sampled lines/);
    // The profile is applied: the indirect call in tokenize is promoted to on_text.
    const cc = spawnSync(
      'clang',
      [
        '-O2',
        '-gline-tables-only',
        '-fdebug-info-for-profiling',
        '-fno-omit-frame-pointer',
        `-fprofile-sample-use=${rt.llvmFile}`,
        '-Rpass=pgo-icall-prom',
        '-o',
        join(dir, 'pgotok.pgo'),
        rt.tokenizerSource,
      ],
      { encoding: 'utf8' },
    );
    expect(cc.status, cc.stderr).toBe(0);
    expect(cc.stderr).not.toMatch(/malformed|could not|error:/i);
    expect(cc.stderr, `${cc.stderr}\n${text.slice(0, 3000)}`).toMatch(/Promote indirect call to on_text/);
  });

  it.skipIf(spawnSync('go', ['version']).status !== 0)(
    'exports a Go default.pgo that go tool pprof -raw reads with sample types, function names and lines',
    () => {
      const go = rt.go;
      expect(go).toBeDefined();
      if (!go) return;
      expect(go.response.fileName).toBe('default.pgo');
      const raw = execFileSync('go', ['tool', 'pprof', '-raw', go.file], {
        encoding: 'utf8',
        env: { ...process.env, HOME: dir, GOCACHE: join(dir, 'gocache') },
      });
      expect(raw).toMatch(/^PeriodType: cpu nanoseconds$/m);
      expect(raw).toMatch(/^Samples:\nsamples\/count cpu\/nanoseconds$/m);
      const period = BigInt(/^Period: (\d+)$/m.exec(raw)?.[1] ?? '0');
      expect(period).toBeGreaterThan(0n);
      // Every sample: count and CPU time = count × sampling period, at least one frame.
      const samples = [...raw.slice(raw.indexOf('samples/count cpu/nanoseconds'), raw.indexOf('Locations')).matchAll(/^\s*(\d+)\s+(\d+): ([\d ]+)$/gm)];
      expect(samples.length).toBeGreaterThan(0);
      for (const m of samples) expect(BigInt(m[2])).toBe(BigInt(m[1]) * period);
      // Every location (and every inlined frame of it) names a function with file:line and start line.
      const locations = raw.slice(raw.indexOf('Locations'), raw.indexOf('Mappings'));
      const frames = [...locations.matchAll(/^\s+(?:\d+: 0x[0-9a-f]+ M=1 )?(\S+) (\S+):(\d+) s=(\d+)$/gm)];
      expect(frames.length).toBe(locations.split('\n').filter((l) => /^\s+\S/.test(l)).length);
      // main.hot at lines inside it (6-15), with its start line: `func hot` is line 6 of the program.
      const hot = frames.filter((m) => m[1] === 'main.hot');
      expect(hot.length).toBeGreaterThan(0);
      for (const m of hot) {
        expect(m[2]).toMatch(/main\.go$/);
        expect(Number(m[3])).toBeGreaterThanOrEqual(6);
        expect(Number(m[3])).toBeLessThanOrEqual(15);
        expect(m[4]).toBe('6');
      }
      // No assertion on main.hot's caller: Go sets up no frame pointer in a leaf without a stack
      // frame (main.hot pushes no BP), so the agent's frame-pointer walk goes from it straight to
      // runtime.main and main.main is not on those stacks (libs/insights/README.md, PGO export).
      expect(raw.slice(raw.indexOf('Mappings'))).toMatch(/pgogo/);
    },
  );

  it.skipIf(GO_PGO === undefined)(
    'builds the Go program with go build -pgo=<exported default.pgo> (Go ≥ 1.21), the compiler reading the profile',
    () => {
      const go = rt.go;
      expect(go).toBeDefined();
      if (!go || !GO_PGO) return;
      const src = join(dir, 'go');
      // -d=pgodebug=1: the inliner prints its hot call-site threshold for every package it compiles
      // with a profile; a profile Go cannot use fails the build (`preprofile: error parsing profile`).
      const r = spawnSync(GO_PGO, ['build', `-pgo=${go.file}`, '-gcflags=-d=pgodebug=1', '-o', join(dir, 'pgogo.pgo'), '.'], {
        cwd: src,
        encoding: 'utf8',
        env: {
          PATH: process.env.PATH,
          HOME: dir,
          GOCACHE: join(dir, 'gocache-pgo'),
          GOPATH: join(dir, 'gopath'),
          GOFLAGS: '-mod=mod',
          GOPROXY: 'off',
          GOTOOLCHAIN: 'local',
          CGO_ENABLED: '0',
        },
      });
      expect(r.status, `${GO_PGO}: ${r.stderr}`).toBe(0);
      expect(`${r.stdout}${r.stderr}`).toMatch(/hot-callsite-thres-from-CDF=/);
      expect(r.stderr).not.toMatch(/error|malformed/i);
    },
    900_000,
  ); // a build with a profile compiles the standard library again, from an empty cache
});
