import { readFile, stat } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
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

interface Parsed {
  defaults: LimitOverrides;
  tenants: Map<string, LimitOverrides>;
}

/** Parses an overrides file's text; throws invalid_argument naming the bad key. */
export function parseLimitsFile(text: string, name: string): Parsed {
  let raw: unknown;
  try {
    raw = parseYaml(text) ?? {};
  } catch (err) {
    throw FirnError.invalidArgument(`limits file ${name} is not valid YAML/JSON: ${(err as Error).message}`);
  }
  const r = fileSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0];
    throw FirnError.invalidArgument(`limits file ${name}: ${i?.path.join('.') || '(root)'}: ${i?.message}`);
  }
  return {
    defaults: fromSnake(r.data.defaults ?? {}),
    tenants: new Map(Object.entries(r.data.tenants ?? {}).map(([t, o]) => [t, fromSnake(o)])),
  };
}

/**
 * Config defaults + per-tenant overrides from a file that is reloaded without a restart (its
 * mtime is polled). A bad file at start fails the start; a bad edit later keeps the last good
 * limits and is reported.
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
    if (opts.file) {
      await l.reload();
      l.timer = setInterval(() => void l.poll(), opts.pollMs ?? 10_000);
      l.timer.unref();
    }
    return l;
  }

  /** Fixed limits (tests, or processes without an overrides file). */
  static fixed(defaults: TenantLimits, tenants: Record<string, LimitOverrides> = {}): RuntimeLimits {
    const l = new RuntimeLimits({ defaults });
    l.install({ defaults: {}, tenants: new Map(Object.entries(tenants)) });
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
    const file = this.opts.file as string;
    let sig: string;
    try {
      const s = await stat(file);
      sig = `${s.mtimeMs}:${s.size}`;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      sig = 'missing';
    }
    if (sig === this.seen) return;
    const text = sig === 'missing' ? '' : await readFile(file, 'utf8');
    this.install(parseLimitsFile(text, file));
    this.seen = sig;
    this.opts.onReload?.(this.merged.size);
  }

  private install(p: Parsed): void {
    this.base = { ...this.opts.defaults, ...p.defaults };
    const merged = new Map<string, TenantLimits>();
    for (const [t, o] of p.tenants) merged.set(t, { ...this.base, ...o });
    this.merged = merged;
  }
}
