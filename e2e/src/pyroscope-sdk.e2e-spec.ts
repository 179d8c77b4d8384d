import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Profile } from 'pprof-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startApp, type RunningApp } from './support/apps';
import { auth, levelsToTree, pollUntil, selfByPath, upstreamQuerier, type FlameNode, type UpstreamQuerier } from './support/grafana-pyroscope';
import { RecordingProxy, type RecordedRequest } from './support/recording-proxy';
import type { FlameGraph } from './support/upstream-pyroscope/gen/querier/v1/querier_pb';
import { makeTokens } from './support/write-path';

const SPAN_HOT = '1111111111111111';
const SPAN_COLD = '2222222222222222';

/** What one SDK upload held, decoded independently of Firn (DataDog's pprof-format). */
interface Upload {
  app: string;
  kind: 'wall' | 'heap';
  /** `type:unit` of each sample type, in order. */
  sampleTypes: string[];
  period: string;
  /** Σ values per sample type name. */
  totals: Record<string, number>;
  /** Σ values per span id (from the span_id label) per sample type name. */
  bySpan: Record<string, Record<string, number>>;
  /** Σ values per span id, per workload function on the stack (`hotPath`/`coldPath`), per sample type name. */
  bySpanFn: Record<string, Record<string, Record<string, number>>>;
}

/** The workload's two code paths (pyroscope-sdk-workload.cjs). */
const WORK_FNS = ['hotPath', 'coldPath'] as const;

function decodeUpload(r: RecordedRequest): Upload {
  const q = new URL(r.url, 'http://x').searchParams;
  const raw = r.body[0] === 0x1f ? gunzipSync(r.body) : r.body;
  const p = Profile.decode(raw);
  const str = (i: number | bigint) => p.stringTable.strings[Number(i)];
  const names = p.sampleType.map((t) => str(t.type));
  const totals: Record<string, number> = {};
  const bySpan: Record<string, Record<string, number>> = {};
  const bySpanFn: Record<string, Record<string, Record<string, number>>> = {};
  const fnName = new Map(p.function.map((f) => [String(f.id), str(f.name)]));
  const locFns = new Map(p.location.map((l) => [String(l.id), l.line.map((ln) => fnName.get(String(ln.functionId)) ?? '')]));
  for (const s of p.sample) {
    const span = s.label.find((l) => str(l.key) === 'span_id');
    const spanId = span ? str(span.str) : '';
    const stackFns = s.locationId.flatMap((id) => locFns.get(String(id)) ?? []);
    names.forEach((n, i) => {
      totals[n] = (totals[n] ?? 0) + Number(s.value[i]);
      const m = (bySpan[spanId] ??= {});
      m[n] = (m[n] ?? 0) + Number(s.value[i]);
      for (const fn of WORK_FNS) {
        if (!stackFns.some((f) => f.includes(fn))) continue;
        const byFn = ((bySpanFn[spanId] ??= {})[fn] ??= {});
        byFn[n] = (byFn[n] ?? 0) + Number(s.value[i]);
      }
    });
  }
  return {
    app: (q.get('name') ?? '').split('{')[0],
    kind: names.includes('wall') ? 'wall' : 'heap',
    sampleTypes: p.sampleType.map((t) => `${str(t.type)}:${str(t.unit)}`),
    period: p.periodType ? `${str(p.periodType.type)}:${str(p.periodType.unit)}` : ':',
    totals,
    bySpan,
    bySpanFn,
  };
}

function runWorkload(env: Record<string, string>): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [resolve(ROOT, 'e2e/src/support/pyroscope-sdk-workload.cjs')], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      console.log(`workload ${env.APP_NAME}: ${out.trim()}`);
      if (code === 0) resolvePromise();
      else reject(new Error(`workload exited with ${code}: ${err}`));
    });
  });
}

/** Σ total of the nodes whose name contains `fn`, over the tree (no recursion in the workload). */
function cumulative(tree: FlameNode | undefined, fn: string): number {
  let t = 0;
  const walk = (n: FlameNode): void => {
    if (n.name.includes(fn)) t += n.total;
    else n.children.forEach(walk);
  };
  if (tree) walk(tree);
  return t;
}

/**
 * The real `@pyroscope/nodejs` SDK (0.6, from npm, with its prebuilt native profiler) profiling a
 * CPU-busy service and pushing to Firn's `/ingest` through a recording proxy, once with a token
 * (`authToken`) and once with Basic auth (`basicAuthUser` naming another tenant, plus
 * `tenantID`). The proxy keeps exactly what the SDK sent, so Firn's answers are checked against
 * the SDK's own numbers.
 */
describe('@pyroscope/nodejs SDK → Firn', () => {
  let dir: string;
  let app: RunningApp;
  let proxy: RecordingProxy;
  let tokens: Record<string, string>;
  let py: UpstreamQuerier;
  let uploads: Upload[];
  const startMs = Date.now() - 60_000;
  const range = () => ({ start: BigInt(startMs), end: BigInt(Date.now() + 60_000) });
  const flame = async (profileTypeID: string, labelSelector: string, spanSelector: string[] = []): Promise<FlameGraph> =>
    spanSelector.length > 0
      ? ((await py.selectMergeSpanProfile({ profileTypeID, labelSelector, spanSelector, ...range() })).flamegraph as FlameGraph)
      : ((await py.selectMergeStacktraces({ profileTypeID, labelSelector, ...range() })).flamegraph as FlameGraph);
  const sent = (app: string, kind: Upload['kind'], type: string, span?: string): number =>
    uploads
      .filter((u) => u.app === app && u.kind === kind)
      .reduce((t, u) => t + (span === undefined ? (u.totals[type] ?? 0) : (u.bySpan[span]?.[type] ?? 0)), 0);
  /** What the SDK sent for `span` on stacks through `fn`. */
  const sentThrough = (app: string, type: string, span: string, fn: (typeof WORK_FNS)[number]): number =>
    uploads.filter((u) => u.app === app && u.kind === 'wall').reduce((t, u) => t + (u.bySpanFn[span]?.[fn]?.[type] ?? 0), 0);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'firn-e2e-sdk-'));
    tokens = await makeTokens(join(dir, 'tokens.json'), ['acme', 'globex']);
    app = await startApp('all-in-one', {
      args: ['--data-dir', join(dir, 'data'), '--tokens-file', join(dir, 'tokens.json'), '--ingester-flush-max-age-ms', '200'],
      readyTimeoutMs: 120_000,
    });
    proxy = await RecordingProxy.start(app.base);
    // At least 7 s (several flushes) and 2 s of CPU each, so the 3:1 split is measured on ~150+
    // CPU samples however loaded the machine is.
    const common = {
      PYROSCOPE_SERVER_ADDRESS: proxy.base,
      TOKEN: tokens.acme,
      SPAN_HOT,
      SPAN_COLD,
      DURATION_MS: '7000',
      CPU_TARGET_MS: '2000',
      MAX_DURATION_MS: '150000',
    };
    await Promise.all([
      runWorkload({ ...common, APP_NAME: 'sdk-bearer', AUTH: 'bearer' }),
      runWorkload({ ...common, APP_NAME: 'sdk-basic', AUTH: 'basic', BASIC_USER: 'globex', TENANT_ID: 'globex' }),
    ]);
    uploads = proxy.requests.filter((r) => r.url.startsWith('/ingest') && r.status === 200).map(decodeUpload);
    py = upstreamQuerier(app.base, 'connect', auth(tokens.acme));
    // Wait until the last upload of each app is queryable.
    const want = sent('sdk-bearer', 'wall', 'wall') + sent('sdk-basic', 'wall', 'wall');
    await pollUntil(async () => Number((await flame('wall:wall:nanoseconds:wall:nanoseconds', '{service_name=~"sdk-.*"}')).total) === want, 120_000);
  }, 480_000);

  afterAll(async () => {
    await proxy?.stop();
    await app?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('accepts every upload of the SDK unmodified, with a token and with Basic auth', () => {
    const ingests = proxy.requests.filter((r) => r.url.startsWith('/ingest'));
    expect(ingests.filter((r) => r.status !== 200).map((r) => `${r.status} ${r.response}`)).toEqual([]);
    expect(ingests.some((r) => r.headers['authorization']?.startsWith('Bearer '))).toBe(true);
    expect(ingests.some((r) => r.headers['authorization']?.startsWith('Basic ') && r.headers['x-scope-orgid'] === 'globex')).toBe(true);
    // Both apps sent wall and heap profiles (at least one flush each besides the final one).
    for (const a of ['sdk-bearer', 'sdk-basic'])
      for (const k of ['wall', 'heap'] as const) expect(uploads.filter((u) => u.app === a && u.kind === k).length, `${a} ${k}`).toBeGreaterThan(0);
  }, 120_000);

  it("stores wall and heap profiles under Pyroscope's profile type ids, with the SDK's tags as labels", async () => {
    const wall = uploads.find((u) => u.kind === 'wall') as Upload;
    const heap = uploads.find((u) => u.kind === 'heap') as Upload;
    expect(wall.sampleTypes).toEqual(['samples:count', 'wall:nanoseconds', 'cpu:nanoseconds']);
    expect(wall.period).toBe('wall:nanoseconds');
    const ids = [...wall.sampleTypes.map((t) => `wall:${t}:${wall.period}`), ...heap.sampleTypes.map((t) => `memory:${t}:${heap.period}`)].sort();
    const types = await py.profileTypes(range());
    expect(types.profileTypes.map((t) => t.ID)).toEqual(ids);
    expect(ids).toContain('wall:wall:nanoseconds:wall:nanoseconds');
    expect(ids).toContain(`memory:inuse_space:bytes:${heap.period}`);
    const names = (await py.labelNames({ matchers: ['{service_name="sdk-bearer"}'], ...range() })).names;
    expect(names).toEqual(
      expect.arrayContaining([
        'env',
        'otel_scope_name',
        'otel_scope_version',
        'process_runtime_name',
        'process_runtime_version',
        'pyroscope_spy',
        'service_name',
        'span_name',
      ]),
    );
    expect((await py.labelValues({ name: 'pyroscope_spy', matchers: ['{}'], ...range() })).names).toEqual(['nodespy']);
    expect((await py.labelValues({ name: 'otel_scope_name', matchers: ['{}'], ...range() })).names).toEqual(['com.grafana.pyroscope/nodejs']);
    expect((await py.labelValues({ name: 'service_name', matchers: ['wall:wall:nanoseconds:wall:nanoseconds{}'], ...range() })).names).toEqual([
      'sdk-basic',
      'sdk-bearer',
    ]);
  }, 120_000);

  it('keeps exactly what the SDK sent, and the busy function dominates (3:1 work between the two code paths)', async () => {
    for (const a of ['sdk-bearer', 'sdk-basic']) {
      for (const [kind, id, type] of [
        ['wall', 'wall:wall:nanoseconds:wall:nanoseconds', 'wall'],
        ['wall', 'wall:cpu:nanoseconds:wall:nanoseconds', 'cpu'],
        ['wall', 'wall:samples:count:wall:nanoseconds', 'samples'],
      ] as const) {
        expect(Number((await flame(id, `{service_name="${a}"}`)).total), `${a} ${id}`).toBe(sent(a, kind, type));
      }
      const heap = uploads.find((u) => u.kind === 'heap') as Upload;
      expect(Number((await flame(`memory:inuse_space:bytes:${heap.period}`, `{service_name="${a}"}`)).total)).toBe(sent(a, 'heap', 'inuse_space'));
      const tree = levelsToTree(await flame('wall:cpu:nanoseconds:wall:nanoseconds', `{service_name="${a}"}`));
      const total = tree?.total ?? 0;
      const hot = cumulative(tree, 'hotPath');
      const cold = cumulative(tree, 'coldPath');
      // The single costliest JavaScript code path (largest self time) is the busy function's loop.
      // Frames named `:…` are the profiler's own buckets, not code: `:Non JS threads activity`
      // (GC, JIT and libuv threads, a third of the CPU on a loaded machine), `:(garbage collector)`, ….
      const self = Object.entries(selfByPath(tree))
        .filter(([path]) => !(path.split(';').pop() ?? '').startsWith(':'))
        .sort(([, x], [, y]) => y - x);
      console.log(
        `${a}: CPU ${(total / 1e6).toFixed(0)} ms; hotPath ${((hot / total) * 100).toFixed(1)}%, coldPath ${((cold / total) * 100).toFixed(1)}%, hot/(hot+cold) ${(hot / (hot + cold)).toFixed(2)}; costliest: ${self[0]?.[0].slice(-80)}`,
      );
      // Firn's per-function sums are the SDK's own, to the nanosecond.
      expect(hot).toBe(sentThrough(a, 'cpu', SPAN_HOT, 'hotPath') + sentThrough(a, 'cpu', SPAN_COLD, 'hotPath'));
      expect(cold).toBe(sentThrough(a, 'cpu', SPAN_HOT, 'coldPath') + sentThrough(a, 'cpu', SPAN_COLD, 'coldPath'));
      expect(self[0]?.[0]).toMatch(/hotPath/);
      // 3:1 by construction (iteration counts); sampling (~150+ CPU samples) and JIT blur it a little.
      expect(hot / (hot + cold)).toBeGreaterThan(0.6);
      expect(hot / (hot + cold)).toBeLessThan(0.9);
    }
  }, 120_000);

  it('answers a span profile with exactly the samples of that span', async () => {
    for (const [span, fn, other] of [
      [SPAN_HOT, 'hotPath', 'coldPath'],
      [SPAN_COLD, 'coldPath', 'hotPath'],
    ] as const) {
      const fg = await flame('wall:wall:nanoseconds:wall:nanoseconds', '{service_name="sdk-bearer"}', [span]);
      expect(Number(fg.total)).toBe(sent('sdk-bearer', 'wall', 'wall', span));
      const tree = levelsToTree(fg);
      // Exactly the SDK's samples of that span, stack by stack: its own function (the SDK may
      // catch a sample in the labelling wrapper, outside it), never the other span's.
      expect(cumulative(tree, fn)).toBe(sentThrough('sdk-bearer', 'wall', span, fn));
      expect(cumulative(tree, other)).toBe(sentThrough('sdk-bearer', 'wall', span, other));
      expect(cumulative(tree, fn)).toBeGreaterThan(0.9 * Number(fg.total));
    }
    expect((await py.labelValues({ name: 'span_name', matchers: ['{service_name="sdk-bearer"}'], ...range() })).names).toEqual(['GET /cold', 'GET /hot']);
  }, 120_000);

  it("never lands in or shows another tenant's data: Basic's user and X-Scope-OrgID name globex, the token is acme's", async () => {
    const globex = upstreamQuerier(app.base, 'connect', auth(tokens.globex));
    expect((await globex.profileTypes(range())).profileTypes).toEqual([]);
    expect((await globex.getProfileStats({})).dataIngested).toBe(false);
    const basicAsGlobex = upstreamQuerier(app.base, 'grpc', auth(tokens.acme, 'basic', 'globex'));
    expect((await basicAsGlobex.labelValues({ name: 'service_name', matchers: ['{}'], ...range() })).names).toEqual(['sdk-basic', 'sdk-bearer']);
  }, 120_000);
});
