import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { FirnError } from '@firn/errors';
import { parseDuration } from '@firn/config';
import type { TenantId } from '@firn/tenancy';

/** Retention of a tenant's data in ms; 0 = keep forever. Swappable (e.g. for per-tenant limits). */
export type RetentionPolicy = (tenant: TenantId) => number;

export function fixedRetention(ms: number): RetentionPolicy {
  return () => ms;
}

export interface RetentionOverrides {
  /** Replaces the default when present. */
  defaultMs?: number;
  tenants: Map<string, number>;
}

function durationOf(v: unknown, where: string): number {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  if (typeof v === 'string') {
    try {
      return parseDuration(v);
    } catch {
      // fall through to the error naming the place
    }
  }
  throw FirnError.invalidArgument(`retention overrides: ${where} must be a duration like 30d or a number of ms, got ${JSON.stringify(v)}`);
}

/**
 * Parses an overrides document (YAML or JSON):
 * ```yaml
 * default: 30d        # optional
 * tenants:
 *   acme: 7d
 *   globex: 0         # keep forever
 * ```
 */
export function parseRetentionOverrides(text: string): RetentionOverrides {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw FirnError.invalidArgument(`retention overrides are not valid YAML/JSON: ${(err as Error).message}`);
  }
  if (doc === null || doc === undefined) return { tenants: new Map() };
  if (typeof doc !== 'object' || Array.isArray(doc)) throw FirnError.invalidArgument('retention overrides must be a mapping with `default` and/or `tenants`');
  const d = doc as Record<string, unknown>;
  for (const k of Object.keys(d)) {
    if (k !== 'default' && k !== 'tenants') throw FirnError.invalidArgument(`retention overrides: unknown key ${JSON.stringify(k)} (expected default, tenants)`);
  }
  const tenants = new Map<string, number>();
  if (d.tenants !== undefined && d.tenants !== null) {
    if (typeof d.tenants !== 'object' || Array.isArray(d.tenants)) throw FirnError.invalidArgument('retention overrides: `tenants` must map tenant ids to durations');
    for (const [t, v] of Object.entries(d.tenants as Record<string, unknown>)) tenants.set(t, durationOf(v, `tenants.${t}`));
  }
  return { ...(d.default !== undefined ? { defaultMs: durationOf(d.default, 'default') } : {}), tenants };
}

export interface RetentionLogger {
  warn(obj: object, msg: string): void;
}

/**
 * Default retention plus per-tenant overrides from a file re-read every `reloadMs`. A file that
 * stops parsing keeps the last good overrides (logged); a bad file at start is an error.
 */
export class FileRetention {
  private overrides: RetentionOverrides = { tenants: new Map() };
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: { defaultMs: number; file?: string; reloadMs?: number; log?: RetentionLogger }) {}

  readonly policy: RetentionPolicy = (tenant) => this.overrides.tenants.get(tenant) ?? this.overrides.defaultMs ?? this.opts.defaultMs;

  async start(): Promise<void> {
    if (!this.opts.file) return;
    await this.load();
    const every = this.opts.reloadMs ?? 30_000;
    this.timer = setInterval(() => {
      this.load().catch((err: unknown) => this.opts.log?.warn({ err, file: this.opts.file }, 'retention overrides not reloaded; keeping the previous ones'));
    }, every);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async load(): Promise<void> {
    if (!this.opts.file) return;
    let text: string;
    try {
      text = await readFile(this.opts.file, 'utf8');
    } catch (err) {
      throw FirnError.invalidArgument(`cannot read retention overrides ${this.opts.file}: ${(err as Error).message}`);
    }
    this.overrides = parseRetentionOverrides(text);
  }
}
