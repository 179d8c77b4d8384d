import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import { gunzipSync } from 'node:zlib';
import { tableFromIPC } from 'apache-arrow';
import { Profile as PprofFormatProfile } from 'pprof-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { samplesFromPprof, samplesToArrow } from '@firn/profiles';
import { profilestoreV1alpha1, querierV1, queryV1alpha1 } from '@firn/proto';
import { getJson, startApp, type RunningApp } from './support/apps';
import { CPU_TYPE, agentWrite, stackPool } from './support/profiles-data';
import { bearer, makeTokens } from './support/write-path';

const Q = queryV1alpha1;
const TENANTS = ['acme', 'globex'];

/** The label Grafana's Parca data source shows for a node: function name, else the address. */
function nodeName(fn: unknown, addr: unknown): string {
  const name = fn instanceof Uint8Array ? Buffer.from(fn).toString('utf8') : typeof fn === 'string' ? fn : '';
  return name || `0x${BigInt(addr as bigint).toString(16)}`;
}

/**
 * Read path through the public Parca QueryService of the all-in-one (gateway + ingester +
 * querier in one process): what agents wrote comes back as flame graphs (walked the way Grafana
 * walks them), pprof, series, labels and values, per tenant only.
 */
describe('read path (Parca QueryService)', () => {
  let dir: string;
  let app: RunningApp;
  let tokens: Record<string, string>;
  const baseMs = Date.UTC(2026, 10, 22, 1, 0, 0);
  const leafTotals = new Map<string, Map<string, number>>(TENANTS.map((t) => [t, new Map()]));
  const grand = new Map<string, number>();
  /** node → function → value of the stacks containing it (each stack once): the diff fixture. */
  const cumByNode = new Map<string, Map<string, number>>();
  const roundTotals = new Map<string, number>();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'firn-e2e-read-'));
    tokens = await makeTokens(join(dir, 'tokens.json'), TENANTS);
    app = await startApp('all-in-one', {
      args: ['--data-dir', join(dir, 'data'), '--tokens-file', join(dir, 'tokens.json'), '--ingester-flush-max-age-ms', '200'],
    });
    const pool = stackPool(11, 60);
    for (const [ti, tenant] of TENANTS.entries()) {
      const client = createClient(profilestoreV1alpha1.ProfileStoreService, createGrpcTransport({ baseUrl: app.base, interceptors: [bearer(tokens[tenant])] }));
      for (let round = 0; round < 3; round++) {
        for (let agent = 0; agent < 2; agent++) {
          const w = agentWrite({ seed: 100 * ti + 10 * agent + round, pool, node: `${tenant}-node-${agent}`, round, baseMs });
          await client.writeArrow({ ipcBuffer: samplesToArrow(w.batch) });
          const leaves = leafTotals.get(tenant) as Map<string, number>;
          roundTotals.set(
            `${tenant}-node-${agent}@${round}`,
            Array.from(w.batch.value).reduce((x, y) => x + y, 0),
          );
          const cum = cumByNode.get(`${tenant}-node-${agent}`) ?? new Map<string, number>();
          cumByNode.set(`${tenant}-node-${agent}`, cum);
          for (let i = 0; i < w.batch.length; i++) {
            for (const fn of new Set(w.batch.stacks[w.batch.stack[i]].map((f) => f.functionName).filter((n) => n !== ''))) {
              cum.set(fn, (cum.get(fn) ?? 0) + w.batch.value[i]);
            }
            const leaf = w.batch.stacks[w.batch.stack[i]][0];
            const name = leaf.functionName || `0x${leaf.address.toString(16)}`;
            leaves.set(name, (leaves.get(name) ?? 0) + w.batch.value[i]);
            grand.set(tenant, (grand.get(tenant) ?? 0) + w.batch.value[i]);
          }
        }
      }
    }
    // Wait until both tenants' data is queryable.
    for (const tenant of TENANTS) {
      const q = createClient(Q.QueryService, createGrpcTransport({ baseUrl: app.base, interceptors: [bearer(tokens[tenant])] }));
      for (let i = 0; i < 100; i++) {
        const res = await q.query(mergeRequest(`${CPU_TYPE}{}`, Q.QueryRequest_ReportType.PPROF));
        if (Number(res.total) === grand.get(tenant)) break;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }, 120_000);

  afterAll(async () => {
    await app?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function mergeRequest(query: string, reportType: queryV1alpha1.QueryRequest_ReportType): queryV1alpha1.QueryRequest {
    return create(Q.QueryRequestSchema, {
      mode: Q.QueryRequest_Mode.MERGE,
      options: {
        case: 'merge',
        value: create(Q.MergeProfileSchema, { query, start: timestampFromMs(baseMs - 60_000), end: timestampFromMs(baseMs + 3600_000) }),
      },
      reportType,
    });
  }

  it('serves a merged FLAMEGRAPH_ARROW over gRPC-web that walks like Grafana to the written totals', async () => {
    for (const tenant of TENANTS) {
      const q = createClient(Q.QueryService, createGrpcWebTransport({ baseUrl: app.base, httpVersion: '1.1', interceptors: [bearer(tokens[tenant])] }));
      const res = await q.query(mergeRequest(`${CPU_TYPE}{}`, Q.QueryRequest_ReportType.FLAMEGRAPH_ARROW));
      expect(res.report.case).toBe('flamegraphArrow');
      const table = tableFromIPC((res.report.value as queryV1alpha1.FlamegraphArrow).record);
      const children = table.getChild('children');
      const cumulative = table.getChild('cumulative');
      const flat = table.getChild('flat');
      const fn = table.getChild('function_name');
      const addr = table.getChild('location_address');
      expect(children && cumulative && flat && fn && addr).toBeTruthy();
      // Depth-first from row 0, as Grafana's data source does; sum self values per leaf name.
      const selfByName = new Map<string, number>();
      let visited = 0;
      const walk = (row: number): void => {
        visited++;
        const self = Number(flat?.get(row));
        if (row !== 0 && self > 0) {
          const name = nodeName(fn?.get(row), addr?.get(row));
          selfByName.set(name, (selfByName.get(name) ?? 0) + self);
        }
        const kids = children?.get(row) as { toArray(): Uint32Array } | null;
        for (const k of kids ? kids.toArray() : []) walk(k);
      };
      walk(0);
      expect(visited).toBe(table.numRows);
      expect(Number(cumulative?.get(0))).toBe(grand.get(tenant));
      expect(Number(res.total)).toBe(grand.get(tenant));
      expect([...selfByName].sort()).toEqual([...(leafTotals.get(tenant) as Map<string, number>)].sort());
    }
  });

  it('returns PPROF that an independent decoder reads back to the same total', async () => {
    const q = createClient(Q.QueryService, createGrpcTransport({ baseUrl: app.base, interceptors: [bearer(tokens.acme)] }));
    const res = await q.query(mergeRequest(`${CPU_TYPE}{node="acme-node-0"}`, Q.QueryRequest_ReportType.PPROF));
    expect(res.report.case).toBe('pprof');
    const decoded = samplesFromPprof(res.report.value as Uint8Array, {
      name: 'parca_agent',
      seriesLabels: [],
      nowMs: 0,
      limits: { maxDecompressedBytes: 1e8, maxSamples: 1e7, maxStackDepth: 1e4 },
    });
    const total = Array.from(decoded.value).reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(0);
    // An independent decoder (DataDog's pprof-format) agrees.
    const independent = PprofFormatProfile.decode(gunzipSync(res.report.value as Uint8Array));
    expect(independent.sample.reduce((a, smp) => a + Number(smp.value[0]), 0)).toBe(total);
    expect(total).toBe(Number(res.total));
    expect(total).toBeLessThan(grand.get('acme') as number);
  });

  it('lists profile types, labels and values, and series over time, per tenant only', async () => {
    const acme = createClient(Q.QueryService, createGrpcTransport({ baseUrl: app.base, interceptors: [bearer(tokens.acme)] }));
    const types = await acme.profileTypes({});
    expect(types.types.map((t) => `${t.name}:${t.sampleType}:${t.sampleUnit}:${t.periodType}:${t.periodUnit}${t.delta ? ':delta' : ''}`)).toEqual([CPU_TYPE]);
    const labels = await acme.labels({ profileType: CPU_TYPE });
    expect(labels.labelNames).toEqual(expect.arrayContaining(['comm', 'namespace', 'node']));
    const nodes = await acme.values({ labelName: 'node', profileType: CPU_TYPE });
    expect(nodes.labelValues).toEqual(['acme-node-0', 'acme-node-1']);
    const range = await acme.queryRange({
      query: `${CPU_TYPE}{}`,
      start: timestampFromMs(baseMs - 60_000),
      end: timestampFromMs(baseMs + 600_000),
      limit: 60,
      sumBy: ['node'],
    });
    expect(range.series).toHaveLength(2);
    const sum = range.series.flatMap((s) => s.samples).reduce((a, s) => a + Number(s.value), 0);
    expect(sum).toBe(grand.get('acme'));
  });

  it('rejects bad selectors, reversed ranges and missing tokens clearly', async () => {
    const acme = createClient(Q.QueryService, createGrpcTransport({ baseUrl: app.base, interceptors: [bearer(tokens.acme)] }));
    const code = (p: Promise<unknown>) =>
      p.then(
        () => undefined,
        (e: unknown) => (e instanceof ConnectError ? e : undefined),
      );
    const bad = await code(acme.query(mergeRequest('not a selector{', Q.QueryRequest_ReportType.PPROF)));
    expect(bad?.code).toBe(Code.InvalidArgument);
    const reversed = await code(
      acme.query(
        create(Q.QueryRequestSchema, {
          mode: Q.QueryRequest_Mode.MERGE,
          options: {
            case: 'merge',
            value: create(Q.MergeProfileSchema, { query: `${CPU_TYPE}{}`, start: timestampFromMs(baseMs), end: timestampFromMs(baseMs - 1000) }),
          },
          reportType: Q.QueryRequest_ReportType.PPROF,
        }),
      ),
    );
    expect(reversed?.code).toBe(Code.InvalidArgument);
    expect(reversed?.rawMessage).toMatch(/before start/);
    const anon = createClient(Q.QueryService, createGrpcTransport({ baseUrl: app.base }));
    expect((await code(anon.profileTypes({})))?.code).toBe(Code.Unauthenticated);
    expect((await getJson(`${app.base}/readyz`)).status).toBe(200);
  });

  it('serves Pyroscope SelectMergeStacktraces (names/levels), series, profile and diff over Connect', async () => {
    const py = createClient(querierV1.QuerierService, createConnectTransport({ baseUrl: app.base, httpVersion: '1.1', interceptors: [bearer(tokens.acme)] }));
    const types = await py.profileTypes({});
    const id = 'parca_agent:samples:count:cpu:nanoseconds';
    expect(types.profileTypes.map((t) => t.ID)).toEqual([id]);
    const range = { start: BigInt(baseMs - 60_000), end: BigInt(baseMs + 600_000) };

    const res = await py.selectMergeStacktraces({ profileTypeID: id, labelSelector: '{}', ...range, maxNodes: 10_000n });
    const fg = res.flamegraph as querierV1.FlameGraph;
    expect(Number(fg.total)).toBe(grand.get('acme'));
    // Decode names/levels: 4 numbers per node (offset delta, total, self, name index).
    const selfByName = new Map<string, number>();
    let selfSum = 0;
    for (const level of fg.levels) {
      for (let i = 0; i + 3 < level.values.length; i += 4) {
        const self = Number(level.values[i + 2]);
        const name = fg.names[Number(level.values[i + 3])];
        selfSum += self;
        if (self > 0) selfByName.set(name, (selfByName.get(name) ?? 0) + self);
      }
    }
    expect(selfSum).toBe(grand.get('acme'));
    for (const [name, v] of leafTotals.get('acme') as Map<string, number>) if (name.startsWith('fn_')) expect(selfByName.get(name)).toBe(v);

    const series = await py.selectSeries({ profileTypeID: id, labelSelector: '{}', ...range, step: 60, groupBy: ['node'] });
    expect(series.series).toHaveLength(2);
    expect(series.series.flatMap((x) => x.points).reduce((a, p) => a + p.value, 0)).toBe(grand.get('acme'));

    const pprof = await py.selectMergeProfile({ profileTypeID: id, labelSelector: '{node="acme-node-1"}', ...range });
    const pprofTotal = pprof.sample.reduce((a, smp) => a + Number(smp.value[0]), 0);
    expect(pprofTotal).toBeGreaterThan(0);

    const diff = await py.diff({
      left: { profileTypeID: id, labelSelector: '{node="acme-node-0"}', ...range },
      right: { profileTypeID: id, labelSelector: '{node="acme-node-1"}', ...range },
    });
    expect(Number(diff.flamegraph?.leftTicks) + Number(diff.flamegraph?.rightTicks)).toBe(grand.get('acme'));
    expect(Number(diff.flamegraph?.rightTicks)).toBe(pprofTotal);

    const names = await py.labelValues({ name: 'node', matchers: [`{__profile_type__="${id}"}`], ...range });
    expect(names.names).toEqual(['acme-node-0', 'acme-node-1']);
    const globex = createClient(
      querierV1.QuerierService,
      createConnectTransport({ baseUrl: app.base, httpVersion: '1.1', interceptors: [bearer(tokens.globex)] }),
    );
    expect((await globex.labelValues({ name: 'node', ...range })).names).toEqual(['globex-node-0', 'globex-node-1']);
  });

  it('diffs two selections into per-function deltas that match the hand-computed fixture', async () => {
    const acme = createClient(Q.QueryService, createGrpcTransport({ baseUrl: app.base, interceptors: [bearer(tokens.acme)] }));
    const side = (node: string) =>
      create(Q.ProfileDiffSelectionSchema, {
        mode: Q.ProfileDiffSelection_Mode.MERGE,
        options: {
          case: 'merge',
          value: create(Q.MergeProfileSchema, {
            query: `${CPU_TYPE}{node="${node}"}`,
            start: timestampFromMs(baseMs - 60_000),
            end: timestampFromMs(baseMs + 3600_000),
          }),
        },
      });
    const res = await acme.query(
      create(Q.QueryRequestSchema, {
        mode: Q.QueryRequest_Mode.DIFF,
        options: { case: 'diff', value: create(Q.DiffProfileSchema, { a: side('acme-node-0'), b: side('acme-node-1'), absolute: true }) },
        reportType: Q.QueryRequest_ReportType.TOP,
      }),
    );
    expect(res.report.case).toBe('top');
    const top = res.report.value as queryV1alpha1.Top;
    const a = cumByNode.get('acme-node-0') as Map<string, number>;
    const b = cumByNode.get('acme-node-1') as Map<string, number>;
    let checked = 0;
    for (const node of top.list) {
      const fn = node.meta?.function?.name ?? '';
      if (!fn.startsWith('fn_')) continue;
      expect(Number(node.diff), fn).toBe((b.get(fn) ?? 0) - (a.get(fn) ?? 0));
      checked++;
    }
    expect(checked).toBeGreaterThan(5);
  });

  it('names an unknown profile type instead of returning an empty graph', async () => {
    const acme = createClient(Q.QueryService, createGrpcTransport({ baseUrl: app.base, interceptors: [bearer(tokens.acme)] }));
    const err = await acme.query(mergeRequest('memory:alloc_space:bytes:space:bytes{}', Q.QueryRequest_ReportType.PPROF)).then(
      () => undefined,
      (e: unknown) => e as ConnectError,
    );
    expect(err?.code).toBe(Code.InvalidArgument);
    expect(err?.rawMessage).toMatch(/unknown profile type memory:alloc_space.*this tenant has: parca_agent/);
  });

  it('applies stack filters and serves TABLE_ARROW and SINGLE mode', async () => {
    const acme = createClient(Q.QueryService, createGrpcTransport({ baseUrl: app.base, interceptors: [bearer(tokens.acme)] }));
    const req = mergeRequest(`${CPU_TYPE}{}`, Q.QueryRequest_ReportType.FLAMEGRAPH_ARROW);
    req.filter = [
      create(Q.FilterSchema, {
        filter: {
          case: 'stackFilter',
          value: create(Q.StackFilterSchema, {
            filter: { case: 'functionNameStackFilter', value: create(Q.FunctionNameStackFilterSchema, { functionToFilter: 'fn_1', exclude: true }) },
          }),
        },
      }),
    ];
    const res = await acme.query(req);
    expect(Number(res.total)).toBe(grand.get('acme'));
    expect(Number(res.filtered)).toBeGreaterThan(0);
    const table = tableFromIPC((res.report.value as queryV1alpha1.FlamegraphArrow).record);
    expect(Number(table.getChild('cumulative')?.get(0))).toBe(Number(res.total) - Number(res.filtered));
    const names = new Set<string>();
    for (let i = 1; i < table.numRows; i++) names.add(nodeName(table.getChild('function_name')?.get(i), 0n));
    expect([...names].filter((n) => n.includes('fn_1'))).toEqual([]);

    const tableRes = await acme.query(mergeRequest(`${CPU_TYPE}{}`, Q.QueryRequest_ReportType.TABLE_ARROW));
    expect(tableRes.report.case).toBe('tableArrow');
    expect(tableFromIPC((tableRes.report.value as queryV1alpha1.TableArrow).record).numRows).toBeGreaterThan(0);

    const single = await acme.query(
      create(Q.QueryRequestSchema, {
        mode: Q.QueryRequest_Mode.SINGLE_UNSPECIFIED,
        options: { case: 'single', value: create(Q.SingleProfileSchema, { query: `${CPU_TYPE}{node="acme-node-0"}`, time: timestampFromMs(baseMs + 10_000) }) },
        reportType: Q.QueryRequest_ReportType.PPROF,
      }),
    );
    // Round 1 of agent 0: exactly the rows written with that timestamp.
    expect(Number(single.total)).toBe(roundTotals.get('acme-node-0@1'));
  });
});
