// Naming coverage on this machine's own processes: runs `npm start` (scripts/start.cjs: the
// all-in-one plus the local agent with --local-symbols) on free ports with a temporary data dir,
// lets the agent profile the whole host for --seconds after its first window, then reads
//   - the agent's firn_agent_frames_total{kind,outcome} (share of sampled frames named, by kind),
//   - the all-in-one's TABLE_ARROW of the whole host: the frames of files still unnamed after the
//     server's symbolizer, by file and `unnamed_reason` (what would close the gap),
//   - the all-in-one's own flame graph (FLAMEGRAPH_ARROW, what the UI and Grafana draw) for
//     comm="nats-server" (Debian's stripped Go binary): rows of /usr/sbin/nats-server named vs not.
// Root + BPF required (as for npm start's agent).
//
//   sudo node scripts/run-ts.cjs bench/agent/naming-coverage.bench.ts [--seconds 60] [--debug-dirs none]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { tableFromIPC, type Table } from 'apache-arrow';
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { createClient, type Interceptor } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { queryV1alpha1 } from '@firn/proto';
import { freePort } from '@firn/testing';

const ROOT = resolve(__dirname, '..', '..');
const { values: args } = parseArgs({ options: { seconds: { type: 'string', default: '60' }, 'debug-dirs': { type: 'string' } }, strict: true });
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
    // --debug-dirs none measures the agent without the node's debug files (the agent's default reads /usr/lib/debug).
    env: {
      ...process.env,
      FIRN_AGENT_METRICS_PORT: String(metricsPort),
      FIRN_LOG_LEVEL: 'warn',
      ...(args['debug-dirs'] !== undefined ? { FIRN_AGENT_DEBUG_DIRS: args['debug-dirs'] } : {}),
    },
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
    const NATIVE = ['go', 'native_symbols', 'native_debuginfo', 'native_stripped'];
    const sum = (kinds: string[] | undefined, f: 'named' | 'total') =>
      [...byKind].filter(([k]) => !kinds || kinds.includes(k)).reduce((a, [, e]) => a + e[f], 0);
    console.log(`\nagent frames over ${SECONDS} s (each frame once per sample it is in):\n`);
    console.log('| kind | frames | named | share | unnamed, why |');
    console.log('|---|---|---|---|---|');
    for (const [kind, e] of [...byKind].sort((a, b) => b[1].total - a[1].total)) {
      const why = [...e.why].map(([w, n]) => `${w} ${n}`).join(', ');
      console.log(`| ${kind} | ${e.total} | ${e.named} | ${((100 * e.named) / e.total).toFixed(1)} % | ${why || '-'} |`);
    }
    const nativeShare = sum(NATIVE, 'named') / Math.max(1, sum(NATIVE, 'total'));
    const allShare = sum(undefined, 'named') / Math.max(1, sum(undefined, 'total'));
    console.log(
      `\nnative (go + native_symbols + native_debuginfo + native_stripped): ${(100 * nativeShare).toFixed(1)} % named; all frames: ${(100 * allShare).toFixed(1)} % named`,
    );

    // The all-in-one's own flame graph: nats-server's frames.
    const token = readFileSync(join(dataDir, 'default-token'), 'utf8').trim();
    const auth: Interceptor = (next) => (req) => {
      req.header.set('authorization', `Bearer ${token}`);
      return next(req);
    };
    const q = createClient(Q.QueryService, createGrpcTransport({ baseUrl: base, interceptors: [auth] }));
    const report = async (selector: string, reportType: queryV1alpha1.QueryRequest_ReportType): Promise<Table> => {
      const res = await q.query(
        create(Q.QueryRequestSchema, {
          mode: Q.QueryRequest_Mode.MERGE,
          options: {
            case: 'merge',
            value: create(Q.MergeProfileSchema, {
              query: `parca_agent:samples:count:cpu:nanoseconds:delta${selector}`,
              start: timestampFromMs(startMs - 120_000),
              end: timestampFromMs(Date.now() + 60_000),
            }),
          },
          reportType,
        }),
      );
      const v = res.report.value as { record: Uint8Array };
      return tableFromIPC(v.record);
    };
    const str = (t: Table, col: string, i: number): string => {
      const v: unknown = t.getChild(col)?.get(i);
      return v == null ? '' : v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : String(v);
    };
    const num = (t: Table, col: string, i: number): number => Number(t.getChild(col)?.get(i) ?? 0);

    // Unnamed frames of files, after the server's symbolizer, by file and reason (whole host).
    const table = await report('{}', Q.QueryRequest_ReportType.TABLE_ARROW);
    const unnamedByFile = new Map<string, number>();
    let fileFrames = 0;
    for (let i = 0; i < table.numRows; i++) {
      const file = str(table, 'mapping_file', i);
      if (file === '' || file.startsWith('[')) continue;
      const cum = num(table, 'cumulative', i);
      fileFrames += cum;
      if (str(table, 'function_name', i) !== '') continue;
      const k = `${file}|${str(table, 'unnamed_reason', i) || '?'}`;
      unnamedByFile.set(k, (unnamedByFile.get(k) ?? 0) + cum);
    }
    const top = [...unnamedByFile].sort((a, b) => b[1] - a[1]).slice(0, 15);
    console.log(
      `\nunnamed frames of files in the all-in-one's table (after its symbolizer; each row counts a sample once): ${[...unnamedByFile.values()].reduce((a, b) => a + b, 0)} of ${fileFrames}\n`,
    );
    console.log('| file | unnamed_reason | frames |');
    console.log('|---|---|---|');
    for (const [k, n] of top) {
      const [file, why] = k.split('|');
      console.log(`| ${file} | ${why} | ${n} |`);
    }

    // The all-in-one's own flame graph: nats-server's rows.
    const NATS = '/usr/sbin/nats-server';
    const fg = await report('{comm="nats-server"}', Q.QueryRequest_ReportType.FLAMEGRAPH_ARROW);
    const rows: Array<{ name: string; flat: number; cum: number }> = [];
    for (let i = 1; i < fg.numRows; i++)
      if (str(fg, 'mapping_file', i) === NATS) rows.push({ name: str(fg, 'function_name', i), flat: num(fg, 'flat', i), cum: num(fg, 'cumulative', i) });
    const named = rows.filter((r) => r.name !== '');
    const flatNamed = named.reduce((a, r) => a + r.flat, 0);
    const flatAll = rows.reduce((a, r) => a + r.flat, 0);
    const hottest = [...named]
      .sort((a, b) => b.flat - a.flat)
      .slice(0, 5)
      .map((r) => r.name);
    console.log(
      `\nnats-server (${NATS}) in the all-in-one's FLAMEGRAPH_ARROW: ${named.length} of ${rows.length} rows named, ${flatNamed} of ${flatAll} self samples; hottest: ${hottest.join(', ')}`,
    );
    console.log(
      JSON.stringify({
        seconds: SECONDS,
        byKind: Object.fromEntries([...byKind].map(([k, e]) => [k, { named: e.named, total: e.total, why: Object.fromEntries(e.why) }])),
        nativeShare,
        allShare,
        unnamedByFile: Object.fromEntries(top),
        nats: { rows: rows.length, named: named.length, flatNamed, flatAll, hottest },
      }),
    );
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
