// Naming coverage on this machine's own processes: runs `npm start` (scripts/start.cjs: the
// all-in-one plus the local agent with --local-symbols) on free ports with a temporary data dir,
// lets the agent profile the whole host for --seconds after its first window, then reads
//   - the agent's firn_agent_frames_total{kind,outcome} (share of sampled frames named, by kind),
//   - the all-in-one's own TOP report for comm="nats-server" (Debian's stripped Go binary):
//     frames of /usr/sbin/nats-server named vs not.
// Root + BPF required (as for npm start's agent).
//
//   sudo node scripts/run-ts.cjs bench/agent/naming-coverage.bench.ts [--seconds 60]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { createClient, type Interceptor } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { queryV1alpha1 } from '@firn/proto';
import { freePort } from '@firn/testing';

const ROOT = resolve(__dirname, '..', '..');
const { values: args } = parseArgs({ options: { seconds: { type: 'string', default: '60' } }, strict: true });
const SECONDS = Number(args.seconds);
const Q = queryV1alpha1;

function parseFrames(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^firn_agent_frames_total\{([^}]*)\} (\S+)$/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...m[1].matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    out.set(`${labels.kind}|${labels.outcome}`, Number(m[2]));
  }
  return out;
}

async function metrics(port: number): Promise<Map<string, number>> {
  return parseFrames(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'firn-coverage-'));
  const port = await freePort();
  const metricsPort = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [join(ROOT, 'scripts/start.cjs'), '--port', String(port), '--data-dir', dataDir], {
    env: { ...process.env, FIRN_AGENT_METRICS_PORT: String(metricsPort), FIRN_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (b: Buffer) => {
    out += b.toString();
  });
  try {
    // The agent is up when its metrics answer; its first window then takes the interval (10 s).
    const until = Date.now() + 900_000; // the all-in-one starts slowly on a busy 2-core machine
    for (;;) {
      if (Date.now() > until) throw new Error(`agent did not start:\n${out}`);
      try {
        if ((await metrics(metricsPort)).size > 0) break;
      } catch {
        /* not up yet */
      }
      await sleep(1000);
    }
    const before = await metrics(metricsPort);
    const startMs = Date.now();
    await sleep(SECONDS * 1000);
    const after = await metrics(metricsPort);

    const delta = new Map<string, number>();
    for (const [k, v] of after) delta.set(k, v - (before.get(k) ?? 0));
    const byKind = new Map<string, { named: number; total: number; why: Map<string, number> }>();
    for (const [k, v] of delta) {
      if (v <= 0) continue;
      const [kind, outcome] = k.split('|');
      const e = byKind.get(kind) ?? { named: 0, total: 0, why: new Map() };
      e.total += v;
      if (outcome === 'named') e.named += v;
      else e.why.set(outcome, (e.why.get(outcome) ?? 0) + v);
      byKind.set(kind, e);
    }
    const NATIVE = ['go', 'native_symbols', 'native_stripped'];
    const sum = (kinds: string[] | undefined, f: 'named' | 'total') => [...byKind].filter(([k]) => !kinds || kinds.includes(k)).reduce((a, [, e]) => a + e[f], 0);
    console.log(`\nagent frames over ${SECONDS} s (each frame once per sample it is in):\n`);
    console.log('| kind | frames | named | share | unnamed, why |');
    console.log('|---|---|---|---|---|');
    for (const [kind, e] of [...byKind].sort((a, b) => b[1].total - a[1].total)) {
      const why = [...e.why].map(([w, n]) => `${w} ${n}`).join(', ');
      console.log(`| ${kind} | ${e.total} | ${e.named} | ${((100 * e.named) / e.total).toFixed(1)} % | ${why || '-'} |`);
    }
    const nativeShare = sum(NATIVE, 'named') / Math.max(1, sum(NATIVE, 'total'));
    const allShare = sum(undefined, 'named') / Math.max(1, sum(undefined, 'total'));
    console.log(`\nnative (go + native_symbols + native_stripped): ${(100 * nativeShare).toFixed(1)} % named; all frames: ${(100 * allShare).toFixed(1)} % named`);

    // The all-in-one's own flame graph: nats-server's frames.
    const token = readFileSync(join(dataDir, 'default-token'), 'utf8').trim();
    const auth: Interceptor = (next) => (req) => {
      req.header.set('authorization', `Bearer ${token}`);
      return next(req);
    };
    const q = createClient(Q.QueryService, createGrpcTransport({ baseUrl: base, interceptors: [auth] }));
    const res = await q.query(
      create(Q.QueryRequestSchema, {
        mode: Q.QueryRequest_Mode.MERGE,
        options: {
          case: 'merge',
          value: create(Q.MergeProfileSchema, { query: 'parca_agent:samples:count:cpu:nanoseconds:delta{comm="nats-server"}', start: timestampFromMs(startMs - 120_000), end: timestampFromMs(Date.now() + 60_000) }),
        },
        reportType: Q.QueryRequest_ReportType.TOP,
      }),
    );
    const nodes = (res.report.value as queryV1alpha1.Top).list.filter((n) => n.meta?.mapping?.file === '/usr/sbin/nats-server');
    const named = nodes.filter((n) => (n.meta?.function?.name ?? '') !== '');
    const flatNamed = named.reduce((a, n) => a + Number(n.flat), 0);
    const flatAll = nodes.reduce((a, n) => a + Number(n.flat), 0);
    console.log(
      `\nnats-server (${'/usr/sbin/nats-server'}) in the all-in-one's TOP report: ${named.length} of ${nodes.length} functions named, ${flatNamed} of ${flatAll} self samples; hottest: ${named
        .sort((a, b) => Number(b.flat) - Number(a.flat))
        .slice(0, 5)
        .map((n) => n.meta?.function?.name)
        .join(', ')}`,
    );
    console.log(JSON.stringify({ seconds: SECONDS, byKind: Object.fromEntries([...byKind].map(([k, e]) => [k, { named: e.named, total: e.total, why: Object.fromEntries(e.why) }])), nativeShare, allShare, nats: { functions: nodes.length, named: named.length, flatNamed, flatAll } }));
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
