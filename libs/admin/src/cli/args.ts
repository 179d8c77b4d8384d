import { tenantFromTrustedSource, type TenantId } from '@firn/tenancy';

/** A command-line mistake: the CLI prints it with the command's usage and exits 2. */
export class UsageError extends Error {}

/** A tenant id given on the command line, checked before any request (a usage error otherwise). */
export function tenantArg(id: string): TenantId {
  try {
    return tenantFromTrustedSource(id);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** argv split into positional words, `--name value` / `--name=value` flags and boolean switches. */
export interface Args {
  positional: string[];
  /** Every value given for a flag, in order (repeatable flags such as --label keep them all). */
  values: Map<string, string[]>;
  switches: Set<string>;
}

/** Flags that take no value. */
const SWITCHES = new Set(['json', 'help']);
/** Single-dash short forms. */
const SHORT: Readonly<Record<string, string>> = { o: 'output', h: 'help' };

export function parseArgs(argv: readonly string[]): Args {
  const positional: string[] = [];
  const values = new Map<string, string[]>();
  const switches = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    let name: string;
    let inline: string | undefined;
    if (a.startsWith('--') && a.length > 2) {
      const eq = a.indexOf('=');
      name = eq > 0 ? a.slice(2, eq) : a.slice(2);
      inline = eq > 0 ? a.slice(eq + 1) : undefined;
    } else if (/^-[a-zA-Z]$/.test(a)) {
      const long = SHORT[a.slice(1)];
      if (!long) throw new UsageError(`unknown flag ${a}`);
      name = long;
    } else {
      positional.push(a);
      continue;
    }
    if (SWITCHES.has(name)) {
      if (inline !== undefined) throw new UsageError(`flag --${name} takes no value`);
      switches.add(name);
      continue;
    }
    let value = inline;
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new UsageError(`flag ${a} needs a value`);
      value = argv[++i];
    }
    const list = values.get(name);
    if (list) list.push(value);
    else values.set(name, [value]);
  }
  return { positional, values, switches };
}

/** The value of a flag given at most once. */
export function flag(a: Args, name: string): string | undefined {
  const v = a.values.get(name);
  if (v && v.length > 1) throw new UsageError(`flag --${name} given more than once`);
  return v?.[0];
}

/** Every value of a repeatable flag. */
export function flagList(a: Args, name: string): string[] {
  return a.values.get(name) ?? [];
}

/** Refuses flags the command does not know, so a typo (`--lable`) is not silently ignored. */
export function checkFlags(a: Args, allowed: readonly string[], command: string): void {
  for (const name of [...a.values.keys(), ...a.switches]) {
    if (!allowed.includes(name)) throw new UsageError(`unknown flag --${name} for "firn ${command}"`);
  }
}
