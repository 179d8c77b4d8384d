import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { create, toBinary } from '@bufbuild/protobuf';
import { createClient, type Client, type Interceptor } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport } from '@connectrpc/connect-node';
import { ProfileSchema } from './upstream-pyroscope/gen/google/v1/profile_pb';
import { QuerierService, type FlameGraph } from './upstream-pyroscope/gen/querier/v1/querier_pb';

export type UpstreamQuerier = Client<typeof QuerierService>;

/** Bearer, or Basic with the token as the password and some other name as the user. */
export function auth(token: string, style: 'bearer' | 'basic' = 'bearer', user = 'stack-123456'): Interceptor {
  const value = style === 'bearer' ? `Bearer ${token}` : `Basic ${Buffer.from(`${user}:${token}`).toString('base64')}`;
  return (next) => (req) => {
    req.header.set('authorization', value);
    return next(req);
  };
}

/**
 * A QuerierService client compiled from Pyroscope's own protos: `connect` is what Grafana's
 * Pyroscope data source uses (connect-go, binary protobuf over HTTP), `grpc` what Pyroscope's
 * own tools and gRPC clients use.
 */
export function upstreamQuerier(base: string, protocol: 'connect' | 'grpc', interceptor: Interceptor): UpstreamQuerier {
  const transport =
    protocol === 'connect'
      ? createConnectTransport({ baseUrl: base, httpVersion: '1.1', useBinaryFormat: true, interceptors: [interceptor] })
      : createGrpcTransport({ baseUrl: base, interceptors: [interceptor] });
  return createClient(QuerierService, transport);
}

export interface FlameNode {
  name: string;
  total: number;
  self: number;
  children: FlameNode[];
}

/**
 * Grafana's decoding of a Pyroscope flame graph (`levelsToTree` in
 * pkg/tsdb/grafana-pyroscope-datasource/query.go): per level, 4 numbers per node (x offset
 * relative to the previous node's end, total, self, name index); a node belongs to the first
 * parent of the level above whose span contains it.
 */
export function levelsToTree(fg: FlameGraph): FlameNode | undefined {
  const levels = fg.levels.map((l) => l.values.map(Number));
  if (levels.length === 0) return undefined;
  type Placed = FlameNode & { start: number };
  const root: Placed = { name: fg.names[levels[0][3]], total: levels[0][1], self: levels[0][2], children: [], start: 0 };
  let parents: Placed[] = [root];
  for (let level = 1; level < levels.length; level++) {
    const next: Placed[] = [];
    let p = 0;
    let offset = 0;
    const row = levels[level];
    for (let i = 0; i < row.length;) {
      const start = row[i] + offset;
      const total = row[i + 1];
      const parent = parents[p];
      if (!parent) throw new Error(`level ${level}: node ${i / 4} has no parent`);
      if (start >= parent.start && start + total <= parent.start + parent.total) {
        const node: Placed = { name: fg.names[row[i + 3]], total, self: row[i + 2], children: [], start };
        parent.children.push(node);
        next.push(node);
        offset = start + total;
        i += 4;
      } else p++;
    }
    parents = next;
  }
  const strip = (n: Placed): FlameNode => ({ name: n.name, total: n.total, self: n.self, children: n.children.map((c) => strip(c as Placed)) });
  return strip(root);
}

/** Self value per root-to-node path (`a;b;c`), the root ("total") left out. */
export function selfByPath(tree: FlameNode | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  const walk = (n: FlameNode, path: string[]): void => {
    if (n.self > 0 && path.length > 0) out[path.join(';')] = (out[path.join(';')] ?? 0) + n.self;
    for (const c of n.children) walk(c, [...path, c.name]);
  };
  if (tree) walk(tree, []);
  return out;
}

/**
 * Polls `check` until it holds or `timeoutMs` passes (then returns false and lets the test's own
 * assertions say what differs). A deadline, not a count of tries: a query can take seconds on a
 * loaded machine.
 */
export async function pollUntil(check: () => Promise<boolean>, timeoutMs: number, intervalMs = 200): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(intervalMs);
  }
}

/** One CPU sample at 100 Hz, in nanoseconds. */
export const SAMPLE_NS = 1e7;

/**
 * A CPU pprof the way a Pyroscope SDK's OpenTelemetry integration writes it: samples of a span
 * carry `span_id` and `span_name` pprof labels (plus `trace_id`), others none. Span A: 7 samples
 * (`a_work`), span B: 3 (`b_work`), no span: 1 (`gc`); one sample is 10 ms of CPU.
 */
export function spanProfile(timeMs: number, spanA: string, spanB: string): Uint8Array {
  const strings = [
    '',
    'samples',
    'count',
    'cpu',
    'nanoseconds',
    'main',
    'handler',
    'a_work',
    'b_work',
    'gc',
    'span_id',
    spanA,
    spanB,
    'span_name',
    'GET /a',
    'GET /b',
    'trace_id',
    '4bf92f3577b34da6a3ce929d0e0e4736',
  ];
  const s = (v: string): bigint => BigInt(strings.indexOf(v));
  const fn = ['main', 'handler', 'a_work', 'b_work', 'gc'];
  const loc = (name: string): bigint => BigInt(fn.indexOf(name) + 1);
  const span = (id: string, name: string) => [
    { key: s('span_id'), str: s(id) },
    { key: s('span_name'), str: s(name) },
    { key: s('trace_id'), str: s('4bf92f3577b34da6a3ce929d0e0e4736') },
  ];
  const p = create(ProfileSchema, {
    sampleType: [
      { type: s('samples'), unit: s('count') },
      { type: s('cpu'), unit: s('nanoseconds') },
    ],
    periodType: { type: s('cpu'), unit: s('nanoseconds') },
    period: BigInt(SAMPLE_NS),
    timeNanos: BigInt(timeMs) * 1_000_000n,
    durationNanos: 10_000_000_000n,
    stringTable: strings,
    function: fn.map((name, i) => ({ id: BigInt(i + 1), name: s(name) })),
    location: fn.map((name, i) => ({ id: BigInt(i + 1), line: [{ functionId: BigInt(i + 1), line: 1n }] })),
    sample: [
      { locationId: [loc('a_work'), loc('handler'), loc('main')], value: [7n, BigInt(7 * SAMPLE_NS)], label: span(spanA, 'GET /a') },
      { locationId: [loc('b_work'), loc('handler'), loc('main')], value: [3n, BigInt(3 * SAMPLE_NS)], label: span(spanB, 'GET /b') },
      { locationId: [loc('gc'), loc('main')], value: [1n, BigInt(SAMPLE_NS)] },
    ],
  });
  return gzipSync(toBinary(ProfileSchema, p));
}
