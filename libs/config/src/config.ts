import { z } from 'zod';
import { duration } from './duration';

/**
 * One setting of a component's config: where it comes from (env var, CLI flag), how it is
 * validated (zod), its default and its documentation. A component's whole config is a record
 * of these; `loadConfig` turns env + argv into a typed, frozen object or fails naming the key.
 */
export interface Setting<T> {
  readonly env: string;
  readonly flag: string;
  readonly schema: z.ZodType<T>;
  /** Raw default, parsed by `schema` like any other input. Omit for required settings. */
  readonly default?: string;
  readonly description: string;
  /** Secrets are never echoed in errors, docs defaults or logs. */
  readonly secret?: boolean;
  /**
   * Earlier, documented names of this setting, still read (after `env` and `flag`, in order), so
   * a rename never breaks a deployment. Listed in the docs table.
   */
  readonly aliases?: ReadonlyArray<{ readonly env: string; readonly flag: string }>;
}

export type SettingsDef = Record<string, Setting<unknown>>;
export type ConfigOf<D extends SettingsDef> = { readonly [K in keyof D]: D[K] extends Setting<infer T> ? T : never };

export interface ConfigDefinition<D extends SettingsDef> {
  readonly component: string;
  readonly settings: D;
}

export function setting<T>(spec: Setting<T>): Setting<T> {
  return spec;
}

export function defineConfig<D extends SettingsDef>(component: string, settings: D): ConfigDefinition<D> {
  const seenEnv = new Map<string, string>();
  const seenFlag = new Map<string, string>();
  for (const [key, s] of Object.entries(settings)) {
    for (const { env, flag } of [s, ...(s.aliases ?? [])]) {
      const e = seenEnv.get(env);
      if (e) throw new Error(`config ${component}: ${key} and ${e} share env ${env}`);
      const f = seenFlag.get(flag);
      if (f) throw new Error(`config ${component}: ${key} and ${f} share flag --${flag}`);
      seenEnv.set(env, key);
      seenFlag.set(flag, key);
    }
  }
  return { component, settings };
}

/** Raised for any invalid configuration. `message` is one line and names the offending key. */
export class ConfigError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface ConfigSources {
  argv?: readonly string[];
  env?: Readonly<Record<string, string | undefined>>;
}

/** Parses `--name value`, `--name=value` and bare boolean `--name` flags. */
export function parseFlags(argv: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--') || arg === '--') {
      throw new ConfigError(arg, `unexpected argument "${arg}" (flags look like --name value)`);
    }
    const eq = arg.indexOf('=');
    if (eq > 0) {
      out.set(arg.slice(2, eq), arg.slice(eq + 1));
      continue;
    }
    const name = arg.slice(2);
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) {
      out.set(name, 'true');
    } else {
      out.set(name, next);
      i++;
    }
  }
  return out;
}

function describeIssue(err: z.ZodError): string {
  const issue = err.issues[0];
  return issue ? issue.message : 'invalid value';
}

export function loadConfig<D extends SettingsDef>(def: ConfigDefinition<D>, sources: ConfigSources = {}): ConfigOf<D> {
  const env = sources.env ?? {};
  const flags = parseFlags(sources.argv ?? []);
  const byFlag = new Map(Object.entries(def.settings).flatMap(([k, s]) => [s, ...(s.aliases ?? [])].map((n) => [n.flag, k] as const)));
  for (const name of flags.keys()) {
    if (name === 'help') continue;
    if (!byFlag.has(name)) throw new ConfigError(name, `unknown flag --${name} (see --help)`);
  }
  const out: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(def.settings)) {
    const names = [s, ...(s.aliases ?? [])];
    const flagged = names.find((n) => flags.has(n.flag));
    const envd = names.find((n) => env[n.env] !== undefined && env[n.env] !== '');
    const fromFlag = flagged && flags.get(flagged.flag);
    const fromEnv = envd && env[envd.env];
    const raw = fromFlag ?? fromEnv ?? s.default;
    const source = flagged ? `--${flagged.flag}` : envd ? envd.env : 'default';
    const where = `${s.env} (--${s.flag})`;
    if (raw === undefined) {
      throw new ConfigError(key, `${where} is required: ${s.description}`);
    }
    const parsed = s.schema.safeParse(raw);
    if (!parsed.success) {
      const shown = s.secret ? '<secret>' : JSON.stringify(raw);
      throw new ConfigError(key, `${where} from ${source} is invalid: ${describeIssue(parsed.error)} (got ${shown})`);
    }
    out[key] = parsed.data;
  }
  return Object.freeze(out) as ConfigOf<D>;
}

const DURATIONS =
  'Time settings are durations (`30d`, `12h`, `90m`, `45s`, `500ms`, `1h30m`); a bare number is in the unit the name ends with (`_SECONDS`, `_HOURS`), otherwise milliseconds.';

/** Markdown table of every setting: the documented defaults in each app's README come from here. */
export function configDocs(def: ConfigDefinition<SettingsDef>): string {
  const rows = Object.values(def.settings).map((s) => {
    const dflt = s.default === undefined ? '(required)' : s.secret ? '(secret)' : s.default === '' ? '(empty)' : `\`${s.default}\``;
    const aka = (s.aliases ?? []).map((a) => `\`${a.env}\` (\`--${a.flag}\`)`).join(', ');
    return `| \`${s.env}\` | \`--${s.flag}\` | ${dflt} | ${s.description}${aka ? ` Earlier name${(s.aliases ?? []).length > 1 ? 's' : ''}, still read: ${aka}.` : ''} |`;
  });
  return ['| env | flag | default | meaning |', '|---|---|---|---|', ...rows, '', DURATIONS].join('\n');
}

/** True when argv asks for help; entry points print `configDocs` and exit 0. */
export function wantsHelp(argv: readonly string[]): boolean {
  return argv.includes('--help') || argv.includes('-h');
}

// Reusable schemas ---------------------------------------------------------------------------

export const port = z.coerce.number().int().min(0).max(65535);
export const positiveInt = z.coerce.number().int().positive();
/** A positive duration (30s, 5m, 1500ms); a bare number is ms, as in the `_MS` settings. */
export const durationMs = duration({ positive: true });
export const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');
export const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);
export const nonEmpty = z.string().min(1, 'must not be empty');
export const url = z.string().url('must be a URL');
export const urlList = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.string().url('must be a comma-separated list of URLs')).min(1, 'must list at least one URL'));
