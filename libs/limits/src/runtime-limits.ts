import { readFile, stat } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { duration } from '@firn/config';
import { FirnError } from '@firn/errors';
import { tenantIdSchema, type TenantId } from '@firn/tenancy';
import { fromSnake, limitOverridesSchema, type LimitOverrides, type TenantLimits } from './tenant-limits';

/** Where components read a tenant's limits from (injected; tests pass fixed limits). */
export interface TenantLimitsSource {
  for(tenant: TenantId): TenantLimits;
}

export interface RuntimeLimitsOptions {
  /** Limits of every tenant without overrides (from config). */
  defaults: TenantLimits;
  /** YAML or JSON overrides file; empty = none. Re-read when its mtime or size changes. */
  file?: string;
  /**
   * The retention-only file of earlier versions (`{default: 30d, tenants: {acme: 7d}}`), still
   * read and reloaded like `file`; `file` wins where both set a tenant's retention.
   */
  legacyRetentionFile?: string;
  /** How often the file's mtime is checked. Default 10 s. */
  pollMs?: number;
  /** A reload that failed keeps the previous limits and reports here. */
  onProblem?: (what: string, err: unknown) => void;
  onReload?: (tenants: number) => void;
}

const fileSchema = z
  .object({
    defaults: limitOverridesSchema.optional(),
    tenants: z.record(tenantIdSchema, limitOverridesSchema).optional(),
  })
  .strict();

/** The retention-only file of earlier versions: `default` (not `defaults`) and a duration per tenant. */
const legacyRetentionSchema = z
  .object({
    default: duration().optional(),
    tenants: z.record(tenantIdSchema, duration()).nullish(),
  })
  .strict();

export interface ParsedOverrides {
  defaults: LimitOverrides;
  tenants: Map<string, LimitOverrides>;
}

const MIGRATE = 'in the overrides file retention is a per-tenant setting like the limits: `defaults: {retention: 30d}` and `tenants: {acme: {retention: 7d}}`';

function parseDoc(text: string, what: string): unknown {
  try {
    return parseYaml(text) ?? {};
  } catch (err) {
    throw FirnError.invalidArgument(`${what} is not valid YAML/JSON: ${(err as Error).message}`);
  }
}

function firstIssue(what: string, err: z.ZodError): FirnError {
  const i = err.issues[0];
  return FirnError.invalidArgument(`${what}: ${i?.path.join('.') || '(root)'}: ${i?.message}`);
}

/** Parses the per-tenant overrides file; throws invalid_argument naming the bad key. */
export function parseLimitsFile(text: string, name: string): ParsedOverrides {
  const raw = parseDoc(text, `overrides file ${name}`);
  const r = fileSchema.safeParse(raw);
  if (!r.success) {
    // The old retention file's shape (`default:`, or a bare duration per tenant) gets a migration hint.
    const doc = raw !== null && typeof raw === 'object' ? (raw as Record<string, unknown>) : {};
    const tenants = doc['tenants'] !== null && typeof doc['tenants'] === 'object' ? Object.values(doc['tenants'] as object) : [];
    if ('default' in doc || tenants.some((v) => typeof v === 'string' || typeof v === 'number')) {
      throw FirnError.invalidArgument(
        `overrides file ${name} looks like the old retention file (\`default:\`, \`tenants: {acme: 7d}\`): ${MIGRATE} (or keep the old file under FIRN_RETENTION_OVERRIDES_FILE)`,
      );
    }
    throw firstIssue(`overrides file ${name}`, r.error);
  }
  return {
    defaults: fromSnake(r.data.defaults ?? {}),
    tenants: new Map(Object.entries(r.data.tenants ?? {}).map(([t, o]) => [t, fromSnake(o)])),
  };
}

/** Parses the retention-only file of earlier versions into overrides of `retentionMs`. */
export function parseLegacyRetentionFile(text: string, name: string): ParsedOverrides {
  const r = legacyRetentionSchema.safeParse(parseDoc(text, `retention file ${name}`));
  if (!r.success) throw firstIssue(`retention file ${name} (${MIGRATE})`, r.error);
  return {
    defaults: r.data.default !== undefined ? { retentionMs: r.data.default } : {},
    tenants: new Map(Object.entries(r.data.tenants ?? {}).map(([t, ms]) => [t, { retentionMs: ms }])),
  };
}

const NONE: ParsedOverrides = { defaults: {}, tenants: new Map() };

/**
 * The one per-tenant overrides loader (limits, retention, price): config defaults + per-tenant
 * overrides from a file that is reloaded without a restart (its mtime is polled). A bad file at
 * start fails the start; a bad edit later keeps the last good limits and is reported.
 */
export class RuntimeLimits implements TenantLimitsSource {
  private merged = new Map<string, TenantLimits>();
  private base: TenantLimits;
  private seen = '';
  private timer: NodeJS.Timeout | undefined;

  private constructor(private readonly opts: RuntimeLimitsOptions) {
    this.base = opts.defaults;
  }

  static async open(opts: RuntimeLimitsOptions): Promise<RuntimeLimits> {
    const l = new RuntimeLimits(opts);
    if (opts.file || opts.legacyRetentionFile) {
      await l.reload();
      l.timer = setInterval(() => void l.poll(), opts.pollMs ?? 10_000);
      l.timer.unref();
    }
    return l;
  }

  /** Fixed limits (tests, or processes without an overrides file). */
  static fixed(defaults: TenantLimits, tenants: Record<string, LimitOverrides> = {}): RuntimeLimits {
    const l = new RuntimeLimits({ defaults });
    l.install(NONE, { defaults: {}, tenants: new Map(Object.entries(tenants)) });
    return l;
  }

  for(tenant: TenantId): TenantLimits {
    return this.merged.get(tenant) ?? this.base;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Re-reads the file if it changed. Exposed for tests; normally driven by the poll timer. */
  async poll(): Promise<void> {
    try {
      await this.reload();
    } catch (err) {
      this.opts.onProblem?.('reloading the limits file failed; keeping the previous limits', err);
    }
  }

  private async reload(): Promise<void> {
    const { file, legacyRetentionFile: legacy } = this.opts;
    const sigs = await Promise.all([signature(file), signature(legacy)]);
    const sig = sigs.join('|');
    if (sig === this.seen) return;
    const [text, legacyText] = await Promise.all([
      file && sigs[0] !== 'missing' ? readFile(file, 'utf8') : '',
      legacy && sigs[1] !== 'missing' ? readFile(legacy, 'utf8') : '',
    ]);
    this.install(legacy ? parseLegacyRetentionFile(legacyText, legacy) : NONE, file ? parseLimitsFile(text, file) : NONE);
    this.seen = sig;
    this.opts.onReload?.(this.merged.size);
  }

  /** `main` wins over `legacy`; a tenant's own overrides win over defaults from either. */
  private install(legacy: ParsedOverrides, main: ParsedOverrides): void {
    this.base = { ...this.opts.defaults, ...legacy.defaults, ...main.defaults };
    const merged = new Map<string, TenantLimits>();
    for (const t of new Set([...legacy.tenants.keys(), ...main.tenants.keys()]))
      merged.set(t, { ...this.base, ...legacy.tenants.get(t), ...main.tenants.get(t) });
    this.merged = merged;
  }
}

/** mtime and size, 'missing' for a file that does not exist (yet), '' for none. */
async function signature(file: string | undefined): Promise<string> {
  if (!file) return '';
  try {
    const s = await stat(file);
    return `${s.mtimeMs}:${s.size}`;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return 'missing';
  }
}
