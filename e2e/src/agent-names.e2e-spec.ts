// Names for what a fleet runs, end to end with the real eBPF agent: stripped Go binaries (named
// from .gopclntab, inlined calls as frames, file:line as `go tool addr2line` on the unstripped
// build), and a C++ -O2 and a Rust release program (demangled `name`, raw `system_name`), each on
// both paths: the agent's local symbols (tenant acme) and the server symbolizer from the agent's
// debuginfo uploads (tenant beta). Root + BPF; skips with the reason otherwise.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { Profile } from 'pprof-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryV1alpha1 } from '@firn/proto';
import { Scope, issueToken, writeTokenFile } from '@firn/tenancy';
import {
  bpfUnavailable,
  freePort,
  spawnServer,
  startNats,
  startRedis,
  startS3Server,
  type S3Server,
  type ServerProcess,
  type TestNats,
  type TestRedis,
} from '@firn/testing';
import { ROOT, startApp, type RunningApp } from './support/apps';
import { waitUntil as waitFor } from './support/poll';
import { CPU_TYPE } from './support/profiles-data';
import { bearer, s3Env } from './support/write-path';

const Q = queryV1alpha1;
const FREQ = 199;
const GO_PROGRAM = resolve(ROOT, 'libs/elf/src/testing/go/prog.go');

const CPP = `
namespace firnnames {
template <typename T> struct Mixer {
  __attribute__((noinline)) T spin(T x) const { for (int i = 0; i < 20000000; i++) x = x * 31 + (x >> 7) + i; return x; }
};
}
int main() { firnnames::Mixer<long> m; volatile long s = 0; for (;;) s = s + m.spin(s); }
`;

const RUST = `
#[inline(never)]
fn firn_spin(mut x: u64) -> u64 {
    for i in 0..20_000_000u64 { x = x.wrapping_mul(31).wrapping_add(i ^ (x >> 7)); }
    x
}
fn main() { let mut s = 0u64; loop { s = s.wrapping_add(firn_spin(std::hint::black_box(s))); } }
`;

function goToolchains(): Array<{ go: string; version: string }> {
  const out = new Map<string, string>();
  const add = (go: string) => {
    try {
      const v = /go(1\.\d+)/.exec(execFileSync(go, ['version'], { encoding: 'utf8' }))?.[1];
      if (v && !out.has(v)) out.set(v, go);
    } catch {
      /* not installed */
    }
  };
  add('go');
  for (const d of existsSync('/usr/lib') ? readdirSync('/usr/lib') : []) if (/^go-1\.\d+$/.test(d)) add(join('/usr/lib', d, 'bin', 'go'));
  return [...out].map(([version, go]) => ({ version, go }));
}

function loadsOf(bin: string): Array<{ offset: bigint; vaddr: bigint; filesz: bigint; exec: boolean }> {
  return execFileSync('readelf', ['-lW', bin], { encoding: 'utf8' })
    .split('\n')
    .map((l) => /^\s*LOAD\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+0x[0-9a-f]+\s+(0x[0-9a-f]+)\s+0x[0-9a-f]+\s+(.+?)\s+0x[0-9a-f]+$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ offset: BigInt(m[1]), vaddr: BigInt(m[2]), filesz: BigInt(m[3]), exec: m[4].includes('E') }));
}

interface PprofLine {
  name: string;
  systemName: string;
  file: string;
  line: number;
}
interface PprofLoc {
  mappingFile: string;
  address: bigint;
  lines: PprofLine[];
}

async function pprofReport(base: string, token: string, selector: string, fromMs: number): Promise<PprofLoc[]> {
  const q = createClient(Q.QueryService, createGrpcTransport({ baseUrl: base, interceptors: [bearer(token)] }));
  const res = await q.query(
    create(Q.QueryRequestSchema, {
      mode: Q.QueryRequest_Mode.MERGE,
      options: {
        case: 'merge',
        value: create(Q.MergeProfileSchema, { query: `${CPU_TYPE}${selector}`, start: timestampFromMs(fromMs), end: timestampFromMs(Date.now() + 60_000) }),
      },
      reportType: Q.QueryRequest_ReportType.PPROF,
    }),
  );
  let bytes = res.report.value as Uint8Array;
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
  const p = Profile.decode(bytes);
  const str = (i: number | bigint) => String(p.stringTable.strings[Number(i)] ?? '');
  const fns = new Map(p.function.map((f) => [Number(f.id), f]));
  const maps = new Map(p.mapping.map((m) => [Number(m.id), str(m.filename)]));
  return p.location.map((l) => ({
    mappingFile: maps.get(Number(l.mappingId)) ?? '',
    address: BigInt(l.address),
    lines: l.line.map((ln) => {
      const f = fns.get(Number(ln.functionId));
      return { name: str(f?.name ?? 0), systemName: str(f?.systemName ?? 0), file: str(f?.filename ?? 0), line: Number(ln.line) };
    }),
  }));
}

const unavailable = bpfUnavailable();
if (unavailable) console.warn(`agent names e2e skipped: BPF unavailable here: ${unavailable}`);
const GOS = goToolchains();
const HAVE_RUST = spawnSync('rustc', ['--version']).status === 0;

describe.skipIf(unavailable !== undefined)('names of Go, C++ and Rust programs profiled by the agent', () => {
  let nats: TestNats;
  let s3: S3Server;
  let redis: TestRedis;
  let dir: string;
  const apps: RunningApp[] = [];
  let querierBase = '';
  const agents: ServerProcess[] = [];
  const workloads: ChildProcess[] = [];
  const tokens: Record<'acme' | 'beta', string> = { acme: '', beta: '' };
  /** Go builds: the stripped one runs, the unstripped one is the reference for go tool addr2line. */
  const goBins: Array<{ version: string; go: string; stripped: string; reference: string; comm: string }> = [];
  let cppBin = '';
  let rustBin = '';
  const startedMs = Date.now();
  const logs = () => agents.map((a) => a.logTail(3000)).join('\n---\n');

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'firn-e2e-names-'));
    const goEnv = {
      ...process.env,
      GOFLAGS: '-mod=mod',
      GOCACHE: join(tmpdir(), 'firn-go-build-cache'),
      GOPATH: join(dir, 'gopath'),
      HOME: dir,
      GOTOOLCHAIN: 'local',
      CGO_ENABLED: '0',
    };
    for (const { go, version } of GOS) {
      const src = join(dir, `go-${version}`);
      execFileSync('mkdir', ['-p', src]);
      copyFileSync(GO_PROGRAM, join(src, 'main.go'));
      await writeFile(join(src, 'go.mod'), 'module firnprog\n\ngo 1.19\n');
      const comm = `firngo${version.replace('.', '')}`;
      const stripped = join(dir, comm);
      const reference = join(dir, `${comm}-unstripped`);
      execFileSync(go, ['build', '-ldflags=-s -w', '-o', stripped, '.'], { cwd: src, env: goEnv });
      execFileSync(go, ['build', '-o', reference, '.'], { cwd: src, env: goEnv });
      goBins.push({ version, go, stripped, reference, comm });
    }
    cppBin = join(dir, 'firncpp');
    await writeFile(`${cppBin}.cpp`, CPP);
    execFileSync('g++', ['-O2', '-g', '-fno-omit-frame-pointer', '-Wl,--build-id', '-o', cppBin, `${cppBin}.cpp`]);
    if (HAVE_RUST) {
      rustBin = join(dir, 'firnrs');
      await writeFile(`${rustBin}.rs`, RUST);
      execFileSync('rustc', ['-C', 'opt-level=3', '-C', 'force-frame-pointers=yes', '-C', 'link-arg=-Wl,--build-id', '-o', rustBin, `${rustBin}.rs`], {
        cwd: dir,
      });
    }
    execFileSync(process.execPath, [resolve(ROOT, 'scripts/build-agent.cjs')], { stdio: 'ignore' });

    [nats, s3, redis] = await Promise.all([startNats(), startS3Server(), startRedis()]);
    const acme = issueToken('acme', [Scope.WriteProfiles, Scope.ReadProfiles, Scope.WriteDebuginfo]);
    const beta = issueToken('beta', [Scope.WriteProfiles, Scope.ReadProfiles, Scope.WriteDebuginfo]);
    tokens.acme = acme.token;
    tokens.beta = beta.token;
    await writeTokenFile(join(dir, 'tokens.json'), [acme.record, beta.record]);
    const env = {
      FIRN_NATS_URL: nats.url,
      ...s3Env(s3),
      FIRN_TOKENS_FILE: join(dir, 'tokens.json'),
      FIRN_INGESTER_FLUSH_MAX_AGE_MS: '300',
      FIRN_SYMBOL_CACHE: 'redis',
      FIRN_REDIS_URL: redis.url,
      FIRN_SYMBOLIZER_CACHE_DIR: join(dir, 'symbolizer-cache'),
    };
    const slow = { env, readyTimeoutMs: 180_000 }; // a shared 2-core machine can be very busy
    const started = await Promise.all([startApp('gateway', slow), startApp('querier', slow), startApp('symbolizer', slow), startApp('ingester', slow)]);
    apps.push(...started);
    const gateway = started[0];
    querierBase = started[1].base;

    for (const g of goBins) workloads.push(spawn(g.stripped, ['1h'], { stdio: 'ignore' }));
    workloads.push(spawn(cppBin, [], { stdio: 'ignore' }));
    if (rustBin) workloads.push(spawn(rustBin, [], { stdio: 'ignore' }));
    const comms = [...goBins.map((g) => g.comm), 'firncpp', 'firnrs'].join('|');
    const relabelFile = join(dir, 'relabel.yaml');
    await writeFile(relabelFile, `relabel_configs:\n  - {action: keep, source_labels: [comm], regex: '${comms}'}\n`);
    for (const [tenant, local] of [
      ['acme', true],
      ['beta', false],
    ] as const) {
      const port = await freePort();
      agents.push(
        await spawnServer({
          name: `agent-${tenant}`,
          command: resolve(ROOT, 'dist/agent/firn-agent'),
          args: [],
          env: {
            FIRN_NODE: process.execPath,
            FIRN_AGENT_GATEWAY_URL: gateway.base,
            FIRN_AGENT_TOKEN: tokens[tenant],
            FIRN_AGENT_INTERVAL_MS: '2000',
            FIRN_AGENT_FREQUENCY_HZ: String(FREQ),
            FIRN_AGENT_NODE_NAME: 'e2e-node',
            FIRN_AGENT_LOCAL_SYMBOLS: String(local),
            FIRN_AGENT_DEBUGINFO_UPLOAD: String(!local),
            FIRN_AGENT_RELABEL_CONFIG_FILE: relabelFile,
            FIRN_AGENT_METRICS_PORT: String(port),
            FIRN_LOG_LEVEL: 'info',
          },
          ready: async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200,
          readyTimeoutMs: 180_000,
          stopTimeoutMs: 15_000,
        }),
      );
    }
  }, 600_000);

  afterAll(async () => {
    for (const w of workloads) w.kill('SIGKILL');
    await Promise.all(agents.map((a) => a.stop()));
    await Promise.all(apps.map((a) => a.stop()));
    await Promise.all([nats?.stop(), s3?.stop(), redis?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 60_000);

  describe.each(['acme', 'beta'] as const)('tenant %s', (tenant) => {
    const path = tenant === 'acme' ? "the agent's local symbols" : 'the server symbolizer (debuginfo uploads)';

    it.each(GOS.map((g) => g.version))(
      `names a stripped Go %s binary through ${path}: hot functions, inlined calls, file:line as go tool addr2line`,
      async (version) => {
        const g = goBins.find((x) => x.version === version);
        if (!g) throw new Error(`no build for Go ${version}`);
        const locs = await waitFor(
          `named main.hotLoop samples of ${g.comm}`,
          async () => {
            const all = await pprofReport(querierBase, tokens[tenant], `{comm="${g.comm}"}`, startedMs - 60_000);
            const mine = all.filter((l) => l.mappingFile === g.stripped && l.lines.length > 0);
            const inlined = mine.some(
              (l) =>
                l.lines.length >= 2 && ['main.inner', 'main.middle', 'main.(*acc).mix'].includes(l.lines[0].name) && l.lines.at(-1)?.name === 'main.hotLoop',
            );
            return inlined && mine.length >= 5 ? mine : undefined;
          },
          240_000,
          logs,
          2000,
        );
        const loads = loadsOf(g.stripped);
        const vaddrs = locs.map((l) => {
          const seg = loads.find((s) => s.exec && l.address >= s.offset && l.address < s.offset + s.filesz);
          if (!seg) throw new Error(`address 0x${l.address.toString(16)} is in no executable segment`);
          return l.address - seg.offset + seg.vaddr;
        });
        const ref = execFileSync(g.go, ['tool', 'addr2line', g.reference], {
          input: vaddrs.map((v) => '0x' + v.toString(16)).join('\n') + '\n',
          encoding: 'utf8',
        }).split('\n');
        let same = 0;
        const diffs: string[] = [];
        locs.forEach((l, i) => {
          const want = `${ref[2 * i]} ${ref[2 * i + 1]}`;
          const got = `${l.lines.at(-1)?.name} ${l.lines[0].file}:${l.lines[0].line}`;
          if (got === want) same++;
          else diffs.push(`0x${vaddrs[i].toString(16)}: got ${got}, want ${want}`);
        });
        console.log(`Go ${version} via ${tenant}: ${same}/${locs.length} sampled addresses equal go tool addr2line`);
        expect(same / locs.length, diffs.slice(0, 5).join('\n')).toBeGreaterThanOrEqual(0.99);
        // Go names are not mangled: system_name equals name.
        expect(locs.every((l) => l.lines.every((ln) => ln.systemName === ln.name))).toBe(true);
      },
      300_000,
    );

    it(`demangles a C++ -O2 program's names through ${path}: name readable, system_name raw`, async () => {
      const fn = await waitFor(
        'the C++ function named',
        async () => {
          const all = await pprofReport(querierBase, tokens[tenant], '{comm="firncpp"}', startedMs - 60_000);
          return all.flatMap((l) => l.lines).find((ln) => ln.name.includes('firnnames::Mixer'));
        },
        240_000,
        logs,
        2000,
      );
      expect(fn.name).toBe('firnnames::Mixer<long>::spin(long) const');
      expect(fn.systemName).toBe('_ZNK9firnnames5MixerIlE4spinEl');
    }, 300_000);

    it.skipIf(!HAVE_RUST)(
      `demangles a Rust release program's names through ${path}: name readable, system_name raw`,
      async () => {
        const fn = await waitFor(
          'the Rust function named',
          async () => {
            const all = await pprofReport(querierBase, tokens[tenant], '{comm="firnrs"}', startedMs - 60_000);
            return all.flatMap((l) => l.lines).find((ln) => ln.name.endsWith('firn_spin'));
          },
          240_000,
          logs,
          2000,
        );
        expect(fn.name).toBe('firnrs::firn_spin');
        expect(fn.systemName).toMatch(/^_(R|ZN)/);
      },
      300_000,
    );
  });
});
