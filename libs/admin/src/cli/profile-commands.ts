/**
 * `firn profile push`, `firn query`, `firn export pprof`, `firn profile-types`: profiles from the
 * command line through the public APIs only (Parca ProfileStoreService/WriteRaw and
 * QueryService over Connect, Pyroscope /ingest for folded text), authenticated with a tenant
 * API token. They work against the gateway (scaled mode) and the all-in-one alike.
 */
import { create, toJson } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { createClient } from '@connectrpc/connect';
import { formatProfileType, parsePyroscopeName } from '@firn/profiles';
import { profilestoreV1alpha1, queryV1alpha1 } from '@firn/proto';
import { UsageError, checkFlags, flag, flagList, type Args } from './args';
import type { CliIo } from './io';
import { detectFormat, inspectFolded, inspectPprof, openProfile, withPprofTime, type ProfileFile, type ProfileSummary } from './profile-file';
import { formatValue, topTable } from './report-format';
import { ApiError, call, connectTransport, httpError } from './rpc';
import { parseRange, parseTime } from './times';

const Q = queryV1alpha1;
const PS = profilestoreV1alpha1;

const GLOBAL_FLAGS = ['url', 'token', 'json', 'help'];
const GLOBAL_HELP = `global flags:
  --url URL        gateway or all-in-one base URL (env FIRN_URL; default http://127.0.0.1:7070)
  --token TOKEN    tenant API token, write:profiles to push, read:profiles to query (env FIRN_TOKEN)
  --json           machine-readable output
  -h, --help       this help`;

const TIME_HELP = `Times: RFC 3339 (2025-01-02T15:04:05Z), unix seconds or milliseconds, now, or now-1h / now-30m / now-1h30m.`;

interface Command {
  flags: string[];
  help: string;
  run(a: Args, ctx: Ctx, rest: string[]): Promise<void>;
}

interface Ctx {
  io: CliIo;
  base: string;
  token: string;
  json: boolean;
  nowMs: number;
}

const PUSH: Command = {
  flags: ['name', 'label', 'format', 'from', 'until', 'type', 'sample-rate'],
  help: `usage: firn profile push <file> [--name SERVICE] [--label k=v]... [flags]

Uploads one profile file: pprof (.pb, .pb.gz) through Parca's WriteRaw, folded text
("a;b;c 12" per line, optionally gzipped) through Pyroscope's /ingest?format=folded.
The format is told from the content. Prints the profile types stored and a query for them.

  --name SERVICE       the service_name label (default firn-cli); for folded, Pyroscope's
                       app name, optionally with a kind suffix (myapp.alloc_space)
  --label k=v          a label of the series (repeatable); for pprof, --label __name__=NAME
                       sets the profile name (default from the sample types: process_cpu, memory, ...)
  --format F           pprof or folded instead of detecting it
  --from T, --until T  the time the samples cover: folded defaults to now; for pprof they
                       replace the file's own time (time_nanos, duration_nanos)
  --type KIND          folded only: the profile kind (cpu, wall, alloc_space, ...; default cpu)
  --sample-rate HZ     folded only: samples per second behind the counts (default 100)

${TIME_HELP}

${GLOBAL_HELP}`,
  run: push,
};

const QUERY: Command = {
  flags: ['selector', 'from', 'to', 'limit'],
  help: `usage: firn query --selector '<profile type>{matchers}' [--from T] [--to T] [--limit N]

Merges every profile the selector matches in the range and prints the top functions
(Parca's TOP report): flat (self), flat%, sum%, cumulative, cum%, function.

  --selector S   e.g. 'process_cpu:cpu:nanoseconds:cpu:nanoseconds:delta{service_name="api"}'
                 (firn profile-types lists the types this tenant has)
  --from T       start of the range (default now-1h)
  --to T         end of the range (default now)
  --limit N      rows to print (default 20); --json prints the whole report

${TIME_HELP}

${GLOBAL_HELP}`,
  run: query,
};

const EXPORT: Command = {
  flags: ['selector', 'from', 'to', 'output'],
  help: `usage: firn export pprof --selector '<profile type>{matchers}' [--from T] [--to T] -o FILE

Writes the merged profile of the selection as a gzip pprof (Parca's PPROF report), for
go tool pprof, speedscope or Pyroscope.

  --selector S     as for firn query
  --from T, --to T the range (default now-1h .. now)
  -o, --output F   the file to write (e.g. profile.pb.gz)

${TIME_HELP}

${GLOBAL_HELP}`,
  run: exportPprof,
};

const TYPES: Command = {
  flags: ['from', 'to'],
  help: `usage: firn profile-types [--from T] [--to T]

Lists the profile types this tenant has data for (all time unless --from/--to narrow it).

${TIME_HELP}

${GLOBAL_HELP}`,
  run: profileTypes,
};

/** The command an argv names, or undefined when it is not one of these. */
function commandOf(positional: readonly string[]): { name: string; cmd: Command; rest: string[] } | undefined {
  const [a, b, ...rest] = positional;
  if (a === 'profile' && b === 'push') return { name: 'profile push', cmd: PUSH, rest };
  if (a === 'export' && b === 'pprof') return { name: 'export pprof', cmd: EXPORT, rest };
  if (a === 'query') return { name: 'query', cmd: QUERY, rest: positional.slice(1) };
  if (a === 'profile-types') return { name: 'profile-types', cmd: TYPES, rest: positional.slice(1) };
  return undefined;
}

export const PROFILE_NOUNS = new Set(['profile', 'query', 'export', 'profile-types']);

export const PROFILE_USAGE = `  firn profile push <file> [--name SERVICE] [--label k=v]...   (pprof or folded)
  firn query --selector '<type>{matchers}' [--from now-1h] [--to now] [--limit 20]
  firn export pprof --selector '<type>{matchers}' [--from] [--to] -o FILE
  firn profile-types [--from] [--to]`;

/** Runs a profile command; returns the exit code (0 ok, 1 API error, 2 usage error). */
export async function runProfileCommand(a: Args, env: Readonly<Record<string, string | undefined>>, io: CliIo): Promise<number> {
  const found = commandOf(a.positional);
  if (!found) {
    io.err(`usage:\n${PROFILE_USAGE}\n\nfirn <command> --help for the flags of each`);
    return a.switches.has('help') ? 0 : 2;
  }
  const { name, cmd, rest } = found;
  if (a.switches.has('help')) {
    io.out(cmd.help);
    return 0;
  }
  try {
    checkFlags(a, [...GLOBAL_FLAGS, ...cmd.flags], name);
    const expected = cmd === PUSH ? 1 : 0;
    if (rest.length > expected) throw new UsageError(`unexpected argument "${rest[expected]}"`);
    if (rest.length < expected) throw new UsageError('push needs a file');
    const token = flag(a, 'token') ?? env['FIRN_TOKEN'] ?? '';
    if (!token) throw new UsageError('a tenant API token is required: --token or FIRN_TOKEN');
    const base = (flag(a, 'url') ?? env['FIRN_URL'] ?? 'http://127.0.0.1:7070').replace(/\/+$/, '');
    await cmd.run(a, { io, base, token, json: a.switches.has('json'), nowMs: io.now() }, rest);
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`firn ${name}: ${err.message}\n${cmd.help.split('\n')[0]}\n(firn ${name} --help for all flags)`);
      return 2;
    }
    if (err instanceof ApiError) {
      io.err(`firn ${name}: ${err.message}`);
      return 1;
    }
    throw err;
  }
}

// ---- push -----------------------------------------------------------------------------------

function labelsOf(a: Args): Array<[string, string]> {
  return flagList(a, 'label').map((kv) => {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new UsageError(`--label "${kv}" is not k=v`);
    const k = kv.slice(0, eq);
    if (k === 'service_name') throw new UsageError('set service_name with --name');
    return [k, kv.slice(eq + 1)];
  });
}

async function push(a: Args, ctx: Ctx, [path]: string[]): Promise<void> {
  let bytes: Uint8Array;
  try {
    bytes = await ctx.io.readFile(path);
  } catch (err) {
    throw new UsageError(`cannot read ${path}: ${(err as Error).message}`);
  }
  if (bytes.length === 0) throw new UsageError(`${path} is empty`);
  const file = openProfile(path, bytes);
  const format = flag(a, 'format') ?? detectFormat(file);
  if (format !== 'pprof' && format !== 'folded') throw new UsageError(`--format must be pprof or folded (got "${format}")`);
  const service = flag(a, 'name') ?? 'firn-cli';
  if (service === '') throw new UsageError('--name must not be empty');
  const labels = labelsOf(a);
  const sent = format === 'pprof' ? await pushPprof(a, ctx, file, service, labels) : await pushFolded(a, ctx, file, service, labels);
  report(ctx, file, format, sent);
}

interface Sent {
  summary: ProfileSummary;
  /** The series labels as stored (without the profile name). */
  labels: Array<[string, string]>;
}

async function pushPprof(a: Args, ctx: Ctx, file: ProfileFile, service: string, labels: Array<[string, string]>): Promise<Sent> {
  for (const f of ['type', 'sample-rate'])
    if (a.values.has(f)) throw new UsageError(`--${f} applies to folded profiles only; a pprof names its own sample types`);
  const nameLabel = labels.find(([k]) => k === '__name__')?.[1];
  if (nameLabel === '') throw new UsageError('--label __name__ must not be empty');
  const fromText = flag(a, 'from');
  const untilText = flag(a, 'until');
  if (untilText !== undefined && fromText === undefined) throw new UsageError('--until needs --from');
  let upload = file.bytes;
  if (fromText !== undefined) {
    const fromMs = parseTime(fromText, ctx.nowMs, '--from');
    const untilMs = untilText === undefined ? undefined : parseTime(untilText, ctx.nowMs, '--until');
    if (untilMs !== undefined && untilMs < fromMs) throw new UsageError('--until must not be before --from');
    upload = withPprofTime(file, fromMs, untilMs);
    file = openProfile(file.path, upload);
  }
  const { name, summary } = inspectPprof(file, nameLabel, ctx.nowMs);
  const series: Array<[string, string]> = [['service_name', service], ...labels.filter(([k]) => k !== '__name__')];
  const client = createClient(PS.ProfileStoreService, connectTransport(ctx.base, ctx.token, ctx.io.fetch));
  await call(ctx.base, () =>
    client.writeRaw({
      series: [
        create(PS.RawProfileSeriesSchema, {
          labels: create(PS.LabelSetSchema, {
            labels: [['__name__', name] as const, ...series].map(([n, value]) => create(PS.LabelSchema, { name: n, value })),
          }),
          samples: [create(PS.RawSampleSchema, { rawProfile: upload })],
        }),
      ],
    }),
  );
  return { summary, labels: series };
}

async function pushFolded(a: Args, ctx: Ctx, file: ProfileFile, service: string, labels: Array<[string, string]>): Promise<Sent> {
  for (const [k, v] of labels) {
    if (k === '__name__') throw new UsageError('folded profiles are named by --type (and --name), not __name__');
    // Pyroscope's name=app{k=v,...} syntax has no escaping: a comma would split the value.
    if (v.includes(',')) throw new UsageError(`label ${k}: values of folded uploads cannot hold ","`);
  }
  const type = flag(a, 'type');
  const appName = type === undefined ? service : `${service}.${type}`;
  const name = labels.length === 0 ? appName : `${appName}{${labels.map(([k, v]) => `${k}=${v}`).join(',')}}`;
  let app: ReturnType<typeof parsePyroscopeName>;
  try {
    app = parsePyroscopeName(name);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (type !== undefined && app.sampleType !== type)
    throw new UsageError(`--type "${type}" is not a profile kind Pyroscope knows (cpu, wall, alloc_space, inuse_space, ...)`);
  const rateText = flag(a, 'sample-rate') ?? '100';
  const sampleRate = Number(rateText);
  if (!/^\d+$/.test(rateText) || sampleRate <= 0 || sampleRate > 100_000)
    throw new UsageError(`--sample-rate must be a positive integer number of Hz (got "${rateText}")`);
  const fromMs = parseTime(flag(a, 'from') ?? 'now', ctx.nowMs, '--from');
  const untilText = flag(a, 'until');
  const untilMs = untilText === undefined ? fromMs : parseTime(untilText, ctx.nowMs, '--until');
  if (untilMs < fromMs) throw new UsageError('--until must not be before --from');
  const summary = inspectFolded(file, { sampleType: app.sampleType, sampleRate, fromMs, untilMs });

  // Whole seconds as Pyroscope sends them; otherwise ms (the server tells them apart by size).
  const t = (ms: number) => String(ms % 1000 === 0 ? ms / 1000 : ms);
  const q = new URLSearchParams({ name, format: 'folded', from: t(fromMs), until: t(untilMs), sampleRate: String(sampleRate) });
  const headers: Record<string, string> = { authorization: `Bearer ${ctx.token}`, 'content-type': 'text/plain' };
  if (file.gzip) headers['content-encoding'] = 'gzip';
  let res: Response;
  try {
    res = await ctx.io.fetch(`${ctx.base}/ingest?${q.toString()}`, { method: 'POST', headers, body: file.bytes });
  } catch (err) {
    throw new ApiError(`cannot reach ${ctx.base}: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}`);
  }
  const text = await res.text();
  if (!res.ok) throw httpError(res.status, text);
  return { summary, labels: [...app.labels, ['service_name', app.appName]] };
}

function report(ctx: Ctx, file: ProfileFile, format: string, sent: Sent): void {
  const { summary, labels } = sent;
  if (ctx.json) {
    ctx.io.out(
      JSON.stringify(
        {
          file: file.path,
          format,
          bytes: file.bytes.length,
          time: new Date(summary.timeMs).toISOString(),
          labels: Object.fromEntries(labels),
          profileTypes: summary.types,
        },
        null,
        2,
      ),
    );
    return;
  }
  const matchers = `{${labels.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ')}}`;
  ctx.io.out(`pushed ${file.path} (${format}, ${file.bytes.length} bytes, ${summary.stacks} stacks) at ${new Date(summary.timeMs).toISOString()}`);
  for (const t of summary.types) ctx.io.out(`  ${t.type}${matchers}  total ${formatValue(t.total, unitOf(t.type))}`);
  const from = new Date(summary.timeMs - 3600_000).toISOString();
  const to = new Date(Math.max(summary.timeMs, ctx.nowMs) + 60_000).toISOString();
  // The type people usually look at first: time for CPU/wall, bytes for memory.
  const main = summary.types.find((t) => ['cpu', 'wall', 'alloc_space', 'inuse_space'].includes(t.type.split(':')[1])) ?? summary.types[0];
  if (main) ctx.io.out(`query it: firn query --selector '${main.type}${matchers}' --from ${from} --to ${to}`);
}

function unitOf(type: string): string {
  return type.split(':')[2] ?? '';
}

// ---- query, export, profile-types ----------------------------------------------------------

function selection(a: Args, ctx: Ctx): { query: string; startMs: number; endMs: number } {
  const query = flag(a, 'selector');
  if (!query || query.trim() === '') throw new UsageError('--selector is required (firn profile-types lists the profile types)');
  return { query, ...parseRange(flag(a, 'from'), flag(a, 'to'), ctx.nowMs, { from: 'now-1h', to: 'now' }) };
}

function mergeRequest(s: { query: string; startMs: number; endMs: number }, reportType: queryV1alpha1.QueryRequest_ReportType): queryV1alpha1.QueryRequest {
  return create(Q.QueryRequestSchema, {
    mode: Q.QueryRequest_Mode.MERGE,
    options: { case: 'merge', value: create(Q.MergeProfileSchema, { query: s.query, start: timestampFromMs(s.startMs), end: timestampFromMs(s.endMs) }) },
    reportType,
  });
}

async function query(a: Args, ctx: Ctx): Promise<void> {
  const s = selection(a, ctx);
  const limitText = flag(a, 'limit') ?? '20';
  if (!/^\d+$/.test(limitText) || Number(limitText) === 0) throw new UsageError(`--limit must be a positive integer (got "${limitText}")`);
  const client = createClient(Q.QueryService, connectTransport(ctx.base, ctx.token, ctx.io.fetch));
  const res = await call(ctx.base, () => client.query(mergeRequest(s, Q.QueryRequest_ReportType.TOP)));
  if (res.report.case !== 'top') throw new ApiError(`the server answered a TOP query with a ${res.report.case ?? 'missing'} report`);
  if (ctx.json) {
    ctx.io.out(JSON.stringify(toJson(Q.QueryResponseSchema, res), null, 2));
    return;
  }
  const top = res.report.value;
  const total = Number(res.total);
  const range = `${new Date(s.startMs).toISOString()} .. ${new Date(s.endMs).toISOString()}`;
  if (total === 0 || top.list.length === 0) {
    ctx.io.out(`no samples match ${s.query} in ${range}`);
    return;
  }
  const unit = top.unit || unitOf(s.query);
  const shown = Math.min(top.list.length, Number(limitText));
  ctx.io.out(`${s.query}  ${range}`);
  ctx.io.out(`total ${formatValue(total, unit)}${unit ? ` (${total} ${unit})` : ''}, top ${shown} of ${top.list.length} functions`);
  for (const line of topTable({ ...top, unit }, total, shown)) ctx.io.out(line);
}

async function exportPprof(a: Args, ctx: Ctx): Promise<void> {
  const s = selection(a, ctx);
  const out = flag(a, 'output');
  if (!out) throw new UsageError('-o FILE is required');
  const client = createClient(Q.QueryService, connectTransport(ctx.base, ctx.token, ctx.io.fetch));
  const res = await call(ctx.base, () => client.query(mergeRequest(s, Q.QueryRequest_ReportType.PPROF)));
  if (res.report.case !== 'pprof') throw new ApiError(`the server answered a PPROF query with a ${res.report.case ?? 'missing'} report`);
  try {
    await ctx.io.writeFile(out, res.report.value);
  } catch (err) {
    throw new ApiError(`cannot write ${out}: ${(err as Error).message}`);
  }
  const total = Number(res.total);
  if (ctx.json) {
    ctx.io.out(
      JSON.stringify(
        { file: out, bytes: res.report.value.length, selector: s.query, from: new Date(s.startMs).toISOString(), to: new Date(s.endMs).toISOString(), total },
        null,
        2,
      ),
    );
    return;
  }
  ctx.io.out(`wrote ${out} (${res.report.value.length} bytes): ${s.query}, total ${formatValue(total, unitOf(s.query))}`);
  if (total === 0) ctx.io.err(`note: no samples matched in ${new Date(s.startMs).toISOString()} .. ${new Date(s.endMs).toISOString()}; the profile is empty`);
}

async function profileTypes(a: Args, ctx: Ctx): Promise<void> {
  const fromText = flag(a, 'from');
  const toText = flag(a, 'to');
  const start = fromText === undefined ? undefined : timestampFromMs(parseTime(fromText, ctx.nowMs, '--from'));
  const end = toText === undefined ? undefined : timestampFromMs(parseTime(toText, ctx.nowMs, '--to'));
  const client = createClient(Q.QueryService, connectTransport(ctx.base, ctx.token, ctx.io.fetch));
  const res = await call(ctx.base, () => client.profileTypes({ start, end }));
  const ids = res.types.map((t) => formatProfileType(t)).sort();
  if (ctx.json) {
    ctx.io.out(JSON.stringify(toJson(Q.ProfileTypesResponseSchema, res), null, 2));
    return;
  }
  if (ids.length === 0) ctx.io.err('this tenant has no profiles yet');
  for (const id of ids) ctx.io.out(id);
}
