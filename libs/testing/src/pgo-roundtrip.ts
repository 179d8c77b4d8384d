import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { ConnectError, createClient, type Interceptor } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { firnInsightsV1 } from '@firn/proto';
import { Scope, issueToken, writeTokenFile } from '@firn/tenancy';
import { spawnServer, type ServerProcess } from './child-process';
import { freePort } from './free-port';
import { findBinary, requireBinary } from './require-binary';

// Test/bench support for the PGO round trip: a branch-heavy C workload profiled by the real
// eBPF agent, exported from the server as LLVM and Go PGO profiles, and the same program rebuilt
// with clang -fprofile-sample-use. Shared by e2e/src/pgo.e2e-spec.ts and bench/pgo/pgo.bench.ts.

const ROOT = resolve(__dirname, '..', '..', '..');
const CPU = 'parca_agent:samples:count:cpu:nanoseconds:delta';

/**
 * A byte-stream tokenizer: each byte goes through a handler picked from a table by the current
 * mode (an indirect call), and the handlers branch on character classes. 97 % of the bytes are
 * plain text handled by on_text, so a profile lets the compiler promote the indirect call to a
 * direct, inlined one and lay the hot branches out first. `pgotok 0` runs forever.
 */
export const TOKENIZER_C = `#include <stdio.h>
#include <stdlib.h>

typedef unsigned (*handler)(unsigned state, unsigned char c);

static unsigned counts[8];

static unsigned on_text(unsigned s, unsigned char c) {
  if (c >= 'a' && c <= 'z') { counts[0]++; return s * 31 + c; }
  if (c == ' ') { counts[1]++; return s ^ (s >> 3); }
  if (c >= 'A' && c <= 'Z') { counts[2]++; return s * 17 + (c | 32); }
  if (c >= '0' && c <= '9') { counts[3]++; return s * 10 + (c - '0'); }
  if (c == '\\n') { counts[4]++; return 0; }
  counts[5]++;
  return s + 1;
}

static unsigned on_escape(unsigned s, unsigned char c) {
  for (int i = 0; i < 4; i++) s = (s << 5) ^ (s >> 2) ^ (c + i);
  counts[6]++;
  return s;
}

static unsigned on_binary(unsigned s, unsigned char c) {
  unsigned x = s;
  for (int i = 0; i < 8; i++) if ((c >> i) & 1) x = x * 3 + i; else x ^= i << 4;
  counts[7]++;
  return x;
}

static unsigned on_quote(unsigned s, unsigned char c) {
  return c == '"' ? s ^ 0x5555 : s + c * 7;
}

handler table[4] = {on_text, on_escape, on_binary, on_quote};

__attribute__((noinline)) unsigned tokenize(const unsigned char *buf, long n, const unsigned char *modes) {
  unsigned s = 0;
  for (long i = 0; i < n; i++) s = table[modes[i]](s, buf[i]);
  return s;
}

int main(int argc, char **argv) {
  long n = 1 << 22;
  unsigned char *buf = malloc(n), *modes = malloc(n);
  unsigned r = 7;
  const char *alpha = "abcdefghijklmnopqrstuvwxyz abcdefghijklmnopqrstuvwxyz ABCDEFGHIJ 0123456789\\n,.;";
  for (long i = 0; i < n; i++) {
    r = r * 1103515245u + 12345u;
    buf[i] = alpha[(r >> 8) % 81];
    unsigned m = (r >> 20) % 100;
    modes[i] = m < 97 ? 0 : m < 98 ? 1 : m < 99 ? 2 : 3;
  }
  long rounds = argc > 1 ? atol(argv[1]) : 10;
  unsigned out = 0;
  for (long k = 0; rounds == 0 || k < rounds; k++) out += tokenize(buf, n, modes);
  printf("%u %u\\n", out, counts[0]);
  return 0;
}
`;

/** A Go program with one hot function, for the Go PGO export. `pgogo` runs forever. */
export const HOT_GO = `package main

import "os"

//go:noinline
func hot(n int) int {
	s := 0
	for i := 0; i < n; i++ {
		if i%3 == 0 {
			s = s*31 + i
		} else {
			s ^= i
		}
	}
	return s
}

func main() {
	s := 0
	for {
		s += hot(1000000)
		if s == 42 {
			os.Exit(1)
		}
	}
}
`;

/** Flags of the binary the fleet runs: optimized, debug info fit for profiling, frame pointers. */
export const PROFILED_CFLAGS = ['-O2', '-g', '-fdebug-info-for-profiling', '-fno-omit-frame-pointer'];

export function compileC(src: string, out: string, flags: string[]): void {
  requireBinary('clang');
  execFileSync('clang', [...flags, '-Wl,--build-id', '-o', out, src], { stdio: ['ignore', 'ignore', 'pipe'] });
}

export function buildGo(dir: string, name: string): string {
  requireBinary('go');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'main.go'), HOT_GO);
  writeFileSync(join(dir, 'go.mod'), 'module example.com/firnpgo\n\ngo 1.19\n');
  const bin = join(dir, name);
  // A GNU build id (Go links none by default): the agent uploads debug info only for those.
  const buildId = createHash('sha1').update(HOT_GO).digest('hex');
  execFileSync('go', ['build', `-ldflags=-B 0x${buildId}`, '-o', bin, '.'], {
    cwd: dir,
    env: {
      PATH: process.env.PATH,
      HOME: dir,
      GOCACHE: join(dir, 'gocache'),
      GOPATH: join(dir, 'gopath'),
      GOFLAGS: '-mod=mod',
      GOPROXY: 'off',
      GOTOOLCHAIN: 'local',
      CGO_ENABLED: '0',
    },
  });
  return bin;
}

export function buildIdOf(bin: string): string {
  return /Build ID: ([0-9a-f]+)/.exec(execFileSync('readelf', ['-n', bin], { encoding: 'utf8' }))?.[1] ?? '';
}

/** Why the eBPF agent cannot run here (not root, no BTF, load refused), or undefined. */
export function bpfUnavailable(): string | undefined {
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts/run-ts.cjs'), join(ROOT, 'libs/agent/bpf/check.ts')], { encoding: 'utf8', timeout: 120_000 });
  return r.status === 0 ? undefined : r.stdout.trim() || r.stderr.trim() || `check exited ${r.status}`;
}

/** User + system CPU seconds of one run of `bin args` (bash's `time`; robust to other load). */
export function cpuSecondsOfRun(bin: string, args: string[]): number {
  const r = spawnSync('bash', ['-c', 'TIMEFORMAT="%3U %3S"; time "$@" >/dev/null', 'bash', bin, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${bin} failed: ${r.stderr}`);
  const m = /(\d+\.\d+) (\d+\.\d+)\s*$/.exec(r.stderr);
  if (!m) throw new Error(`no timing from bash for ${bin}: ${r.stderr}`);
  return Number(m[1]) + Number(m[2]);
}

export interface SpeedComparison {
  baseSeconds: number[];
  pgoSeconds: number[];
  baseMedian: number;
  pgoMedian: number;
  /** baseMedian / pgoMedian: > 1 means the PGO build is faster. */
  speedup: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Alternates runs of the two builds (same run, same load) and compares median CPU time. */
export function compareSpeed(base: string, pgo: string, args: string[], runs: number): SpeedComparison {
  const baseSeconds: number[] = [];
  const pgoSeconds: number[] = [];
  for (let i = 0; i < runs; i++) {
    baseSeconds.push(cpuSecondsOfRun(base, args));
    pgoSeconds.push(cpuSecondsOfRun(pgo, args));
  }
  const baseMedian = median(baseSeconds);
  const pgoMedian = median(pgoSeconds);
  return { baseSeconds, pgoSeconds, baseMedian, pgoMedian, speedup: baseMedian / pgoMedian };
}

function bearer(token: string): Interceptor {
  return (next) => (req) => {
    req.header.set('authorization', `Bearer ${token}`);
    return next(req);
  };
}

export interface PgoRoundTripOptions {
  dir: string;
  /** Exported samples of the tokenizer to wait for. */
  minSamples: number;
  timeoutMs: number;
  /** Agent sampling rate. */
  frequencyHz: number;
  /** Also run and export the Go program (needs `go`). */
  withGo: boolean;
  log?: (line: string) => void;
}

export interface PgoRoundTrip {
  tokenizerSource: string;
  tokenizerBinary: string;
  tokenizerBuildId: string;
  llvm: firnInsightsV1.ExportPgoProfileResponse;
  llvmFile: string;
  go?: { binary: string; response: firnInsightsV1.ExportPgoProfileResponse; file: string };
  /** Logs of the all-in-one and the agent, for failure messages. */
  logs(): string;
}

/**
 * Runs the fleet side of PGO on this machine: the all-in-one server, the workloads, and the eBPF
 * agent (sending address-only frames and uploading the workloads' debug info), until the server
 * exports an LLVM profile of the tokenizer with at least `minSamples` samples (and a Go profile
 * of the Go program); then stops everything. Needs root and BPF (see bpfUnavailable).
 */
export async function pgoRoundTrip(o: PgoRoundTripOptions): Promise<PgoRoundTrip> {
  const log = o.log ?? (() => undefined);
  mkdirSync(o.dir, { recursive: true });
  const src = join(o.dir, 'pgotok.c');
  writeFileSync(src, TOKENIZER_C);
  const tok = join(o.dir, 'pgotok');
  compileC(src, tok, PROFILED_CFLAGS);
  const goBin = o.withGo && findBinary('go') ? buildGo(join(o.dir, 'go'), 'pgogo') : undefined;

  const issued = issueToken('acme', [Scope.WriteProfiles, Scope.ReadProfiles, Scope.WriteDebuginfo]);
  await writeTokenFile(join(o.dir, 'tokens.json'), [issued.record]);
  const relabel = join(o.dir, 'relabel.yaml');
  writeFileSync(relabel, "relabel_configs:\n  - {action: keep, source_labels: [comm], regex: 'pgotok|pgogo'}\n");

  const children: ChildProcess[] = [];
  const servers: ServerProcess[] = [];
  // Spinning workloads must not outlive a test runner that gives up on us (spawnServer already
  // takes care of the servers).
  const killWorkloads = () => children.forEach((c) => c.kill('SIGKILL'));
  process.once('exit', killWorkloads);
  try {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    servers.push(
      await spawnServer({
        name: 'pgo-all-in-one',
        command: process.execPath,
        args: [
          join(ROOT, 'scripts/run-ts.cjs'),
          join(ROOT, 'apps/all-in-one/src/main.ts'),
          '--data-dir',
          join(o.dir, 'data'),
          '--tokens-file',
          join(o.dir, 'tokens.json'),
          '--ingester-flush-max-age-ms',
          '300',
        ],
        env: { FIRN_HOST: '127.0.0.1', FIRN_PORT: String(port), FIRN_LOG_LEVEL: 'info' },
        ready: async () => (await fetch(`${base}/readyz`)).status === 200,
        readyTimeoutMs: 180_000,
        stopTimeoutMs: 20_000,
      }),
    );
    children.push(spawn(tok, ['0'], { stdio: 'ignore' }));
    if (goBin) children.push(spawn(goBin, [], { stdio: 'ignore' }));
    const metricsPort = await freePort();
    servers.push(
      await spawnServer({
        name: 'pgo-agent',
        command: process.execPath,
        args: [join(ROOT, 'scripts/run-ts.cjs'), join(ROOT, 'apps/agent/src/main.ts')],
        env: {
          FIRN_AGENT_GATEWAY_URL: base,
          FIRN_AGENT_TOKEN: issued.token,
          FIRN_AGENT_INTERVAL_MS: '2000',
          FIRN_AGENT_FREQUENCY_HZ: String(o.frequencyHz),
          FIRN_AGENT_NODE_NAME: 'pgo-node',
          FIRN_AGENT_LOCAL_SYMBOLS: 'false',
          FIRN_AGENT_DEBUGINFO_UPLOAD: 'true',
          FIRN_AGENT_RELABEL_CONFIG_FILE: relabel,
          FIRN_AGENT_METRICS_PORT: String(metricsPort),
          FIRN_LOG_LEVEL: 'info',
        },
        ready: async () => (await fetch(`http://127.0.0.1:${metricsPort}/healthz`)).status === 200,
        readyTimeoutMs: 120_000,
        stopTimeoutMs: 15_000,
      }),
    );
    const logs = () => servers.map((s) => `--- ${s.name}\n${s.logTail(6000)}`).join('\n');
    const client = createClient(firnInsightsV1.InsightsService, createGrpcTransport({ baseUrl: base, interceptors: [bearer(issued.token)] }));
    const startedMs = Date.now() - 60_000;
    const exportOf = async (executable: string, format: firnInsightsV1.PgoFormat, min: number): Promise<firnInsightsV1.ExportPgoProfileResponse> => {
      const deadline = Date.now() + o.timeoutMs;
      let last = '';
      for (;;) {
        try {
          const r = await client.exportPgoProfile({
            selection: { query: `${CPU}{comm="${executable}"}`, start: timestampFromMs(startedMs), end: timestampFromMs(Date.now() + 60_000) },
            executable,
            format,
          });
          last = `${r.exportedSamples} samples exported`;
          if (r.exportedSamples >= BigInt(min)) return r;
        } catch (err) {
          // Until the agent's first flush and debug info upload: NOT_FOUND / FAILED_PRECONDITION.
          last = err instanceof ConnectError ? err.rawMessage : String(err);
        }
        if (Date.now() > deadline)
          throw new Error(
            `no ${firnInsightsV1.PgoFormat[format]} profile of ${executable} with ${min} samples within ${o.timeoutMs} ms (last: ${last})\n${logs()}`,
          );
        log(`waiting for ${executable}: ${last}`);
        await sleep(3000);
      }
    };
    const llvm = await exportOf('pgotok', firnInsightsV1.PgoFormat.LLVM_SAMPLE_TEXT, o.minSamples);
    const llvmFile = join(o.dir, 'pgotok.prof');
    writeFileSync(llvmFile, llvm.profile);
    let go: PgoRoundTrip['go'];
    if (goBin) {
      const r = await exportOf('pgogo', firnInsightsV1.PgoFormat.GO_PPROF, Math.min(500, o.minSamples));
      const file = join(o.dir, 'default.pgo');
      writeFileSync(file, r.profile);
      go = { binary: goBin, response: r, file };
    }
    const finalLogs = logs();
    return { tokenizerSource: src, tokenizerBinary: tok, tokenizerBuildId: buildIdOf(tok), llvm, llvmFile, go, logs: () => finalLogs };
  } finally {
    killWorkloads();
    process.removeListener('exit', killWorkloads);
    for (const s of servers.reverse()) await s.stop();
  }
}

/** The text of a file (for failure messages). */
export function textOf(file: string): string {
  return readFileSync(file, 'utf8');
}
