import { INSIGHTS_COMMANDS, runInsightsCli } from './insights-cli';

/**
 * `firn tenants|tokens …`: a thin client of the admin HTTP API (/api/v1/admin); `firn
 * cost|regression|pgo|usage` live in insights-cli.ts. Pure function of argv, env and the io so
 * it is testable without a shell.
 */
export interface CliIo {
  out(line: string): void;
  err(line: string): void;
  fetch: typeof fetch;
  /** Writes a file (firn pgo); absent in tests that never write. */
  writeFile?: (path: string, data: Uint8Array) => Promise<void>;
}

const USAGE = `usage: firn <command> [flags]

  firn tenants create <id> [--display-name NAME]
  firn tenants list
  firn tokens create --tenant ID --scopes write:profiles,read:profiles [--ttl SECONDS] [--description TEXT]
  firn tokens list [--tenant ID]
  firn tokens revoke <token-id>
  firn cost --query SELECTOR [--group-by LABELS] ...       CPU time and money per label group
  firn regression --query SELECTOR --label version ...    functions whose CPU changed significantly
  firn pgo --query SELECTOR --executable NAME --format go|llvm   PGO profile of one binary
  firn usage [--tenant ID]                                 per-tenant usage for billing
  (firn <command> --help for each)

global flags:
  --url URL            gateway or all-in-one base URL (env FIRN_URL; default http://127.0.0.1:7070)
  --admin-token TOKEN  admin token or bootstrap admin secret (env FIRN_ADMIN_TOKEN)
  --json               print the raw JSON response`;

interface Parsed {
  positional: string[];
  flags: Map<string, string | true>;
}

function parseArgs(argv: readonly string[]): Parsed {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    if (eq > 0) flags.set(a.slice(2, eq), a.slice(eq + 1));
    else if (a === '--json' || a === '--help') flags.set(a.slice(2), true);
    else if (i + 1 < argv.length) flags.set(a.slice(2), argv[++i]);
    else throw new UsageError(`flag ${a} needs a value`);
  }
  return { positional, flags };
}

class UsageError extends Error {}

function str(p: Parsed, name: string): string | undefined {
  const v = p.flags.get(name);
  return typeof v === 'string' ? v : undefined;
}

/** Returns the process exit code: 0 ok, 1 API error, 2 usage error. */
export async function runCli(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, io: CliIo): Promise<number> {
  if (argv.length > 0 && INSIGHTS_COMMANDS.has(argv[0])) return runInsightsCli(argv[0], argv.slice(1), env, io);
  let p: Parsed;
  try {
    p = parseArgs(argv);
  } catch (err) {
    io.err(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (p.flags.has('help') || p.positional.length < 2) {
    io.err(USAGE);
    return p.flags.has('help') ? 0 : 2;
  }
  const base = (str(p, 'url') ?? env['FIRN_URL'] ?? 'http://127.0.0.1:7070').replace(/\/+$/, '');
  const token = str(p, 'admin-token') ?? env['FIRN_ADMIN_TOKEN'] ?? '';
  if (!token) {
    io.err('an admin credential is required: --admin-token or FIRN_ADMIN_TOKEN');
    return 2;
  }
  const [noun, verb, arg] = p.positional;
  let req: { method: string; path: string; body?: unknown };
  try {
    req = request(noun, verb, arg, p);
  } catch (err) {
    io.err(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  let res: Response;
  try {
    res = await io.fetch(`${base}${req.path}`, {
      method: req.method,
      headers: { authorization: `Bearer ${token}`, ...(req.body ? { 'content-type': 'application/json' } : {}) },
      body: req.body ? JSON.stringify(req.body) : undefined,
    });
  } catch (err) {
    io.err(`cannot reach ${base}: ${(err as Error).message}`);
    return 1;
  }
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON: reported below
  }
  if (!res.ok) {
    io.err(`error ${res.status}: ${typeof body['message'] === 'string' ? body['message'] : text}`);
    return 1;
  }
  if (p.flags.has('json')) {
    io.out(JSON.stringify(body, null, 2));
    return 0;
  }
  print(noun, verb, body, io);
  return 0;
}

function request(noun: string, verb: string, arg: string | undefined, p: Parsed): { method: string; path: string; body?: unknown } {
  const key = `${noun} ${verb}`;
  switch (key) {
    case 'tenants create':
      if (!arg) throw new UsageError('tenants create needs a tenant id');
      return { method: 'POST', path: '/api/v1/admin/tenants', body: { id: arg, displayName: str(p, 'display-name') ?? '' } };
    case 'tenants list':
      return { method: 'GET', path: '/api/v1/admin/tenants' };
    case 'tokens create': {
      const tenant = str(p, 'tenant');
      const scopes = str(p, 'scopes');
      if (!tenant || !scopes) throw new UsageError('tokens create needs --tenant and --scopes');
      const ttl = str(p, 'ttl');
      if (ttl !== undefined && !/^\d+$/.test(ttl)) throw new UsageError('--ttl must be a number of seconds');
      return { method: 'POST', path: '/api/v1/admin/tokens', body: { tenant, scopes: scopes.split(',').map((s) => s.trim()).filter(Boolean), ttlSeconds: ttl ?? '0', description: str(p, 'description') ?? '' } };
    }
    case 'tokens list': {
      const tenant = str(p, 'tenant');
      return { method: 'GET', path: `/api/v1/admin/tokens${tenant ? `?tenant=${encodeURIComponent(tenant)}` : ''}` };
    }
    case 'tokens revoke':
      if (!arg) throw new UsageError('tokens revoke needs a token id');
      return { method: 'POST', path: `/api/v1/admin/tokens/${encodeURIComponent(arg)}/revoke` };
    default:
      throw new UsageError(`unknown command "${key}"`);
  }
}

type Obj = Record<string, unknown>;

function print(noun: string, verb: string, body: Obj, io: CliIo): void {
  const tokenLine = (t: Obj) =>
    [t['id'], t['tenant'], (t['scopes'] as string[] | undefined)?.join(',') ?? '', t['createdAt'] ?? '', t['expiresAt'] ?? 'never', t['revoked'] ? 'revoked' : 'active', t['description'] ?? ''].join('\t');
  if (noun === 'tenants' && verb === 'list') {
    io.out('ID\tDISPLAY NAME\tCREATED');
    for (const t of (body['tenants'] as Obj[] | undefined) ?? []) io.out([t['id'], t['displayName'] ?? '', t['createdAt']].join('\t'));
  } else if (noun === 'tenants') {
    io.out(`created tenant ${String((body['tenant'] as Obj)['id'])}`);
  } else if (verb === 'list') {
    io.out('ID\tTENANT\tSCOPES\tCREATED\tEXPIRES\tSTATE\tDESCRIPTION');
    for (const t of (body['tokens'] as Obj[] | undefined) ?? []) io.out(tokenLine(t));
  } else if (verb === 'create') {
    const t = body['token'] as Obj;
    io.out(`created token ${String(t['id'])} for tenant ${String(t['tenant'])} (${(t['scopes'] as string[]).join(',')})`);
    io.out('secret (shown once, store it now):');
    io.out(String(body['secretToken']));
  } else {
    io.out(`revoked token ${String((body['token'] as Obj)['id'])}`);
  }
}
