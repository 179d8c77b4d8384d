/**
 * `firn cost | regression | pgo | usage`: thin clients of the querier's firn.insights.v1
 * InsightsService (Connect JSON over HTTP, a `read:profiles` token) and of the admin usage API
 * (an admin credential). Pure functions of argv, env and the io, like the rest of the CLI.
 */
import { parseDuration as parseConfigDuration } from '@firn/config';
import { withMatcher } from '@firn/profiles';
import { UsageError, tenantArg } from './args';
import type { CliIo } from './cli';
import { parseTime as parseCliTime } from './times';

const COMMON = `
  --url URL        querier or all-in-one base URL (env FIRN_URL; default http://127.0.0.1:7070)
  --json           print the raw JSON response`;

const TOKEN = `
  --token TOKEN    API token with the read:profiles scope (env FIRN_TOKEN)`;

const TIME = `times: RFC 3339 (2026-01-02T15:04:05Z), unix seconds, or relative to now (now, now-1h, -30m, -7d)`;

export const INSIGHTS_HELP: Record<string, string> = {
  cost: `usage: firn cost --query SELECTOR [--from TIME] [--to TIME] [--group-by LABEL,...] [--top N] [--step DURATION] [--format table|csv|json|prometheus|openmetrics]

CPU time and money per label group over a range, with each group's top functions. The price per
core-hour is the tenant's price_per_core_hour in the per-tenant overrides file.

  --query SELECTOR   e.g. 'parca_agent:samples:count:cpu:nanoseconds:delta{namespace="shop"}'
  --from, --to       range (default: the last hour)
  --group-by LABELS  comma-separated labels, e.g. namespace,pod (default: one group)
  --top N            top functions per group (default 5)
  --step DURATION    also a series per group with this bucket width (e.g. 5m); needed by openmetrics
  --format F         table (default), csv, json, prometheus (text exposition), openmetrics (series)
${TIME}${TOKEN}${COMMON}`,
  regression: `usage: firn regression --query SELECTOR (--label NAME --baseline VALUE --target VALUE [--from TIME] [--to TIME]
                       | --baseline-from TIME --baseline-to TIME --target-from TIME --target-to TIME)
                       [--alpha A] [--min-change FRACTION] [--limit N] [--normalization total|median-ratio] [--correction holm|bh]

Functions whose CPU changed significantly between a baseline and a target: two values of a
label (e.g. version) over one range, or two ranges of the same selection.

  --alpha A              error rate of the multiple-comparison correction (default 0.001)
  --min-change FRACTION  smallest relative change reported (default 0.02)
  --limit N              most offenders and improvements listed (default 20)
${TIME}${TOKEN}${COMMON}`,
  pgo: `usage: firn pgo --query SELECTOR (--build-id HEX | --executable NAME) --format go|llvm [--from TIME] [--to TIME] [--output FILE]

A profile-guided-optimization profile of one binary from the fleet's CPU profiles:
  go    default.pgo for 'go build -pgo=default.pgo' (Go 1.21+)
  llvm  sample profile text for 'clang -O2 -gline-tables-only -fprofile-sample-use=FILE'
The binary's debug info must have been uploaded (agent --debuginfo-upload) or be on debuginfod.

  --output FILE    where to write the profile (default: default.pgo or <executable>.prof)
${TIME}${TOKEN}${COMMON}`,
  usage: `usage: firn usage [--tenant ID]... [--json]

Per-tenant usage for billing: samples and bytes ingested, bytes stored, queries and query CPU,
from durable state (exact across restarts). Served by queriers and the all-in-one.

  --tenant ID          only this tenant (repeatable; default: every tenant)
  --admin-token TOKEN  admin token or bootstrap admin secret (env FIRN_ADMIN_TOKEN)${COMMON}`,
};

export const INSIGHTS_COMMANDS = new Set(Object.keys(INSIGHTS_HELP));

interface Args {
  flags: Map<string, string[]>;
  bools: Set<string>;
}

function parse(argv: readonly string[]): Args {
  const flags = new Map<string, string[]>();
  const bools = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new UsageError(`unexpected argument ${JSON.stringify(a)}`);
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    if (eq < 0 && (name === 'json' || name === 'help')) {
      bools.add(name);
      continue;
    }
    const value = eq > 0 ? a.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new UsageError(`flag ${a} needs a value`);
    flags.set(name, [...(flags.get(name) ?? []), value]);
  }
  return { flags, bools };
}

function one(a: Args, name: string): string | undefined {
  return a.flags.get(name)?.at(-1);
}

function need(a: Args, name: string): string {
  const v = one(a, name);
  if (v === undefined || v === '') throw new UsageError(`--${name} is required`);
  return v;
}

/** `30s`, `5m`, `1h`, `7d`, `1h30m` → milliseconds (a bare number needs a unit here). */
export function parseDuration(s: string): number {
  const bad = () => new UsageError(`bad duration ${JSON.stringify(s)} (use e.g. 30s, 5m, 1h, 7d)`);
  if (/^\s*\d+\s*$/.test(s)) throw bad();
  try {
    return parseConfigDuration(s);
  } catch {
    throw bad();
  }
}

/** The CLI's times (times.ts: RFC 3339, unix seconds or ms, `now`, `now-1h`), plus `-1h` for `now-1h`. */
export function parseTime(s: string, nowMs: number, what = 'time'): number {
  const t = s.trim();
  return parseCliTime(t.startsWith('-') ? `now${t}` : t, nowMs, what);
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function selection(a: Args, query: string, nowMs: number, prefix = ''): { query: string; start: string; end: string } {
  const to = one(a, `${prefix}to`);
  const end = to ? parseTime(to, nowMs, `--${prefix}to`) : nowMs;
  const from = one(a, `${prefix}from`);
  const start = from ? parseTime(from, nowMs, `--${prefix}from`) : end - 3600_000;
  return { query, start: iso(start), end: iso(end) };
}

type Obj = Record<string, unknown>;

interface Call {
  path: string;
  body: unknown;
  method?: string;
  token: string;
}

/** Runs one of INSIGHTS_COMMANDS; the exit code is 0 ok, 1 API error, 2 usage error. */
export async function runInsightsCli(command: string, argv: readonly string[], env: Readonly<Record<string, string | undefined>>, io: CliIo): Promise<number> {
  const help = INSIGHTS_HELP[command];
  let a: Args;
  let call: Call;
  try {
    a = parse(argv);
    if (a.bools.has('help')) {
      io.out(help);
      return 0;
    }
    call = build(command, a, env, io.now());
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.err(`${err.message}\n\n${help}`);
    return 2;
  }
  const base = (one(a, 'url') ?? env['FIRN_URL'] ?? 'http://127.0.0.1:7070').replace(/\/+$/, '');
  let res: Response;
  try {
    res = await io.fetch(`${base}${call.path}`, {
      method: call.method ?? 'POST',
      headers: { authorization: `Bearer ${call.token}`, ...(call.method === 'GET' ? {} : { 'content-type': 'application/json' }) },
      body: call.method === 'GET' ? undefined : JSON.stringify(call.body),
    });
  } catch (err) {
    io.err(`cannot reach ${base}: ${(err as Error).message}`);
    return 1;
  }
  const text = await res.text();
  let body: Obj = {};
  try {
    body = JSON.parse(text) as Obj;
  } catch {
    // not JSON: reported below
  }
  if (!res.ok) {
    io.err(`error ${res.status}: ${typeof body['message'] === 'string' ? body['message'] : text}`);
    return 1;
  }
  if (a.bools.has('json') && command !== 'pgo') {
    io.out(JSON.stringify(body, null, 2));
    return 0;
  }
  return show(command, a, body, io);
}

function build(command: string, a: Args, env: Readonly<Record<string, string | undefined>>, nowMs: number): Call {
  const dataToken = (): string => {
    const t = one(a, 'token') ?? env['FIRN_TOKEN'] ?? '';
    if (!t) throw new UsageError('an API token with read:profiles is required: --token or FIRN_TOKEN');
    return t;
  };
  const svc = '/firn.insights.v1.InsightsService';
  switch (command) {
    case 'cost': {
      const format = one(a, 'format') ?? 'table';
      const formats: Record<string, string> = {
        table: 'COST_FORMAT_UNSPECIFIED',
        json: 'COST_FORMAT_UNSPECIFIED',
        csv: 'COST_FORMAT_CSV',
        prometheus: 'COST_FORMAT_PROMETHEUS',
        openmetrics: 'COST_FORMAT_OPENMETRICS',
      };
      if (!(format in formats)) throw new UsageError(`--format must be one of ${Object.keys(formats).join(', ')}`);
      const step = one(a, 'step');
      if (format === 'openmetrics' && !step) throw new UsageError('--format openmetrics needs --step');
      const top = one(a, 'top');
      if (top !== undefined && !/^\d+$/.test(top)) throw new UsageError('--top must be a number');
      return {
        path: `${svc}/CostReport`,
        token: dataToken(),
        body: {
          selection: selection(a, need(a, 'query'), nowMs),
          groupBy: (one(a, 'group-by') ?? '')
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
          topFunctions: Number(top ?? 0),
          format: formats[format],
          stepSeconds: step ? Math.max(1, Math.round(parseDuration(step) / 1000)) : 0,
        },
      };
    }
    case 'regression': {
      const query = need(a, 'query');
      let baseline;
      let target;
      const label = one(a, 'label');
      if (label) {
        baseline = selection(a, withMatcher(query, label, need(a, 'baseline')), nowMs);
        target = selection(a, withMatcher(query, label, need(a, 'target')), nowMs);
      } else {
        for (const f of ['baseline-from', 'baseline-to', 'target-from', 'target-to']) need(a, f);
        baseline = selection(a, query, nowMs, 'baseline-');
        target = selection(a, query, nowMs, 'target-');
      }
      const num = (name: string): number => {
        const v = one(a, name);
        if (v === undefined) return 0;
        if (!/^\d*\.?\d+(e-?\d+)?$/i.test(v)) throw new UsageError(`--${name} must be a number`);
        return Number(v);
      };
      const norm = one(a, 'normalization') ?? 'total';
      if (norm !== 'total' && norm !== 'median-ratio') throw new UsageError('--normalization must be total or median-ratio');
      const corr = one(a, 'correction') ?? 'holm';
      if (corr !== 'holm' && corr !== 'bh') throw new UsageError('--correction must be holm or bh');
      return {
        path: `${svc}/CompareRegression`,
        token: dataToken(),
        body: {
          baseline,
          target,
          alpha: num('alpha'),
          minRelativeChange: num('min-change'),
          limit: num('limit'),
          normalization: norm === 'median-ratio' ? 'NORMALIZATION_MEDIAN_RATIO' : 'NORMALIZATION_TOTAL_SAMPLES',
          correction: corr === 'bh' ? 'CORRECTION_BENJAMINI_HOCHBERG' : 'CORRECTION_HOLM',
        },
      };
    }
    case 'pgo': {
      const format = need(a, 'format');
      if (format !== 'go' && format !== 'llvm') throw new UsageError('--format must be go or llvm');
      const buildId = one(a, 'build-id') ?? '';
      const executable = one(a, 'executable') ?? '';
      if (!buildId && !executable) throw new UsageError('choose the binary: --build-id or --executable');
      return {
        path: `${svc}/ExportPgoProfile`,
        token: dataToken(),
        body: {
          selection: selection(a, need(a, 'query'), nowMs),
          buildId,
          executable,
          format: format === 'go' ? 'PGO_FORMAT_GO_PPROF' : 'PGO_FORMAT_LLVM_SAMPLE_TEXT',
        },
      };
    }
    case 'usage': {
      const token = one(a, 'admin-token') ?? env['FIRN_ADMIN_TOKEN'] ?? '';
      if (!token) throw new UsageError('an admin credential is required: --admin-token or FIRN_ADMIN_TOKEN');
      const tenants = a.flags.get('tenant') ?? [];
      const qs = tenants.map((t) => `tenant=${encodeURIComponent(tenantArg(t))}`).join('&');
      return { path: `/api/v1/admin/usage${qs ? `?${qs}` : ''}`, method: 'GET', token, body: undefined };
    }
    default:
      throw new UsageError(`unknown command ${command}`);
  }
}

const n = (v: unknown): number => (typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : 0);
const fixed = (v: unknown, d: number): string => n(v).toFixed(d);
const pct = (v: unknown): string => (n(v) === Infinity || v === 'Infinity' ? 'new' : `${n(v) >= 0 ? '+' : ''}${(n(v) * 100).toFixed(1)}%`);

async function show(command: string, a: Args, body: Obj, io: CliIo): Promise<number> {
  if (command === 'cost') {
    if (typeof body['text'] === 'string' && body['text'] !== '') {
      io.out(String(body['text']).replace(/\n$/, ''));
      return 0;
    }
    const currency = String(body['currency'] ?? '');
    io.out(['GROUP', 'SAMPLES', 'CPU-SECONDS', 'CORES', `COST (${currency})`, 'SHARE', 'TOP FUNCTIONS'].join('\t'));
    for (const g of (body['groups'] as Obj[] | undefined) ?? []) {
      const labels = ((g['labels'] as Obj[] | undefined) ?? []).map((l) => `${String(l['name'])}=${String(l['value'] ?? '')}`).join(',') || '(all)';
      const tops = ((g['topFunctions'] as Obj[] | undefined) ?? []).map((f) => `${String(f['functionName'])} ${fixed(f['selfCpuSeconds'], 1)}s`).join('; ');
      io.out(
        [
          labels,
          String(g['samples'] ?? 0),
          fixed(g['cpuSeconds'], 3),
          fixed(g['cores'], 3),
          fixed(g['cost'], 6),
          `${(n(g['share']) * 100).toFixed(1)}%`,
          tops,
        ].join('\t'),
      );
    }
    io.out(
      `total ${fixed(body['totalCpuSeconds'], 3)} CPU-seconds, ${fixed(body['totalCost'], 6)} ${currency} at ${fixed(body['pricePerCoreHour'], 6)} per core-hour`,
    );
    return 0;
  }
  if (command === 'regression') {
    const list = (title: string, xs: Obj[] | undefined) => {
      io.out(`${title}:`);
      if (!xs || xs.length === 0) io.out('  (none)');
      for (const c of xs ?? []) {
        const m = (c['metric'] === 'METRIC_TOTAL' ? c['total'] : c['self']) as Obj;
        io.out(
          `  ${String(c['functionName'])}\t${c['metric'] === 'METRIC_TOTAL' ? 'total' : 'self'} ${pct(m['relativeChange'])}\t${fixed(c['impactCpuSeconds'], 2)} CPU-s (${fixed(c['impactCores'], 4)} cores)\tp=${n(m['adjustedPValue']).toExponential(2)}`,
        );
      }
    };
    list('new offenders', body['offenders'] as Obj[] | undefined);
    list('improvements', body['improvements'] as Obj[] | undefined);
    io.out(`method: ${String(body['method'] ?? '')}`);
    return 0;
  }
  if (command === 'pgo') {
    const file = one(a, 'output') ?? String(body['fileName'] ?? 'profile.pgo');
    await io.writeFile(file, Buffer.from(String(body['profile'] ?? ''), 'base64'));
    io.out(
      `wrote ${file}: build id ${String(body['buildId'])} (${String(body['mappingFile'] ?? '')}), ${String(body['functions'] ?? 0)} functions, ` +
        `${String(body['exportedSamples'] ?? 0)} of ${String(body['binarySamples'] ?? 0)} samples of the binary (${String(body['unresolvedSamples'] ?? 0)} unresolved), debug info from ${String(body['debuginfoSource'] ?? '?')}`,
    );
    return 0;
  }
  io.out(['TENANT', 'INGESTED SAMPLES', 'INGESTED BYTES', 'STORED BYTES', 'QUERIES', 'QUERY CPU-S'].join('\t'));
  for (const u of (body['usage'] as Obj[] | undefined) ?? []) {
    io.out(
      [u['tenant'], u['ingestedSamples'] ?? '0', u['ingestedBytes'] ?? '0', u['storedBytes'] ?? '0', u['queries'] ?? '0', fixed(u['queryCpuSeconds'], 3)]
        .map(String)
        .join('\t'),
    );
  }
  return 0;
}
