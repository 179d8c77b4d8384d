import { FirnError } from '@firn/errors';

/**
 * A profile type: `<name>:<sample_type>:<sample_unit>:<period_type>:<period_unit>[:delta]`
 * (Parca's form; Pyroscope's ids are the same without `:delta`).
 */
export interface ProfileType {
  name: string;
  sampleType: string;
  sampleUnit: string;
  periodType: string;
  periodUnit: string;
  delta: boolean;
}

export type MatchOp = '=' | '!=' | '=~' | '!~';

export interface LabelMatcher {
  name: string;
  op: MatchOp;
  value: string;
  /** Compiled, fully anchored regex for `=~` / `!~` (Prometheus semantics). */
  re?: RegExp;
}

export interface Selector {
  profileType: ProfileType;
  matchers: LabelMatcher[];
}

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function formatProfileType(t: ProfileType): string {
  const base = `${t.name}:${t.sampleType}:${t.sampleUnit}:${t.periodType}:${t.periodUnit}`;
  return t.delta ? `${base}:delta` : base;
}

/**
 * Parses a profile type id. Name and sample type must be non-empty; the period parts may be
 * empty because Pyroscope emits ids such as `process_cpu:samples:count::milliseconds`.
 */
export function parseProfileType(s: string): ProfileType {
  const parts = s.split(':');
  if (parts.length !== 5 && parts.length !== 6) {
    throw FirnError.invalidArgument(
      `invalid profile type "${s}": want <name>:<sample_type>:<sample_unit>:<period_type>:<period_unit>[:delta], got ${parts.length} parts`,
    );
  }
  if (parts.length === 6 && parts[5] !== 'delta') {
    throw FirnError.invalidArgument(`invalid profile type "${s}": sixth part must be "delta", got "${parts[5]}"`);
  }
  const [name, sampleType, sampleUnit, periodType, periodUnit] = parts;
  if (name === '') throw FirnError.invalidArgument(`invalid profile type "${s}": empty name`);
  if (sampleType === '') throw FirnError.invalidArgument(`invalid profile type "${s}": empty sample type`);
  for (const p of parts) {
    if (/[{}\s"]/.test(p)) {
      throw FirnError.invalidArgument(`invalid profile type "${s}": part "${p}" contains a brace, quote or whitespace`);
    }
  }
  return { name, sampleType, sampleUnit, periodType, periodUnit, delta: parts.length === 6 };
}

/** Compiles a Prometheus regex matcher value: anchored at both ends, `.` matches newlines. */
export function compileMatcherRegex(value: string, labelName = '?'): RegExp {
  try {
    return new RegExp(`^(?:${value})$`, 'su');
  } catch (err) {
    throw FirnError.invalidArgument(`invalid regex for label "${labelName}": ${(err as Error).message.replace(/^Invalid regular expression: /, '')}`);
  }
}

/** Does one matcher accept `value`? An absent label has value '' (Prometheus semantics). */
export function matchesValue(m: LabelMatcher, value: string): boolean {
  switch (m.op) {
    case '=':
      return value === m.value;
    case '!=':
      return value !== m.value;
    case '=~':
      return (m.re ?? (m.re = compileMatcherRegex(m.value, m.name))).test(value);
    case '!~':
      return !(m.re ?? (m.re = compileMatcherRegex(m.value, m.name))).test(value);
  }
}

/** Do all matchers accept this label set? */
export function matchesLabels(matchers: readonly LabelMatcher[], labels: ReadonlyArray<readonly [string, string]>): boolean {
  for (const m of matchers) {
    let v = '';
    for (const [n, lv] of labels) {
      if (n === m.name) {
        v = lv;
        break;
      }
    }
    if (!matchesValue(m, v)) return false;
  }
  return true;
}

/**
 * Parses `<profile type>{a="x", b!="y", c=~"re", d!~"re"}`. The braces are optional
 * (`<profile type>` alone selects everything of that type).
 */
export function parseSelector(s: string): Selector {
  const trimmed = s.trim();
  const brace = trimmed.indexOf('{');
  const typePart = (brace < 0 ? trimmed : trimmed.slice(0, brace)).trim();
  if (typePart === '') throw FirnError.invalidArgument(`invalid selector "${s}": missing profile type before "{"`);
  const profileType = parseProfileType(typePart);
  const matchers = brace < 0 ? [] : parseMatchers(trimmed.slice(brace));
  return { profileType, matchers };
}

/**
 * Parses a Prometheus-style series selector as Pyroscope's APIs take it (`ParseMetricSelector`):
 * `{matchers}`, `name{matchers}` or a bare `name`; an empty string selects everything. The name
 * part is returned as is (Pyroscope clients put a profile type id there, e.g. Grafana's
 * variable queries send `process_cpu:cpu:nanoseconds:cpu:nanoseconds{}`); it may not hold
 * whitespace, quotes or braces.
 */
export function parseMetricSelector(s: string): { name?: string; matchers: LabelMatcher[] } {
  const trimmed = s.trim();
  if (trimmed === '') return { matchers: [] };
  const brace = trimmed.indexOf('{');
  const name = (brace < 0 ? trimmed : trimmed.slice(0, brace)).trim();
  if (name !== '' && /[\s"'`{}]/.test(name)) {
    throw FirnError.invalidArgument(`invalid selector ${JSON.stringify(s)}: the part before "{" must be a metric or profile type name`);
  }
  const matchers = brace < 0 ? [] : parseMatchers(trimmed.slice(brace));
  return name === '' ? { matchers } : { name, matchers };
}

/**
 * The selector with one more equality matcher ANDed in (`{a="b"}` + version=1.5 →
 * `{a="b", version="1.5"}`); the value is quoted as a JSON string, which the matcher syntax reads.
 */
export function withMatcher(selector: string, name: string, value: string): string {
  const m = `${name}=${JSON.stringify(value)}`;
  const brace = selector.indexOf('{');
  if (brace < 0) return `${selector.trim()}{${m}}`;
  const inner = selector.slice(brace + 1, selector.lastIndexOf('}')).trim();
  return `${selector.slice(0, brace)}{${inner ? `${inner}, ` : ''}${m}}`;
}

/** Parses a `{...}` matcher list (Prometheus syntax; values in "", '' or ``). */
export function parseMatchers(s: string): LabelMatcher[] {
  const p = new MatcherParser(s);
  return p.parse();
}

class MatcherParser {
  private i = 0;

  constructor(private readonly s: string) {}

  parse(): LabelMatcher[] {
    const out: LabelMatcher[] = [];
    this.ws();
    this.expect('{');
    this.ws();
    if (this.peek() === '}') {
      this.i++;
      this.end();
      return out;
    }
    for (;;) {
      out.push(this.matcher());
      this.ws();
      const c = this.peek();
      if (c === ',') {
        this.i++;
        this.ws();
        if (this.peek() === '}') {
          this.i++;
          break;
        }
        continue;
      }
      if (c === '}') {
        this.i++;
        break;
      }
      this.fail(`expected "," or "}"`);
    }
    this.end();
    return out;
  }

  private matcher(): LabelMatcher {
    const start = this.i;
    while (this.i < this.s.length && /[a-zA-Z0-9_]/.test(this.s[this.i])) this.i++;
    const name = this.s.slice(start, this.i);
    if (!LABEL_NAME.test(name)) this.fail(`invalid label name "${name}"`);
    this.ws();
    let op: MatchOp;
    const two = this.s.slice(this.i, this.i + 2);
    if (two === '!=' || two === '=~' || two === '!~') {
      op = two;
      this.i += 2;
    } else if (this.peek() === '=') {
      op = '=';
      this.i++;
    } else {
      this.fail(`expected a match operator after "${name}"`);
    }
    this.ws();
    const value = this.quoted();
    const m: LabelMatcher = { name, op, value };
    if (op === '=~' || op === '!~') m.re = compileMatcherRegex(value, name);
    return m;
  }

  private quoted(): string {
    const q = this.peek();
    if (q !== '"' && q !== "'" && q !== '`') this.fail('expected a quoted label value');
    this.i++;
    let out = '';
    for (;;) {
      if (this.i >= this.s.length) this.fail('unterminated label value');
      const c = this.s[this.i++];
      if (c === q) return out;
      if (c === '\\' && q !== '`') {
        if (this.i >= this.s.length) this.fail('unterminated escape');
        const e = this.s[this.i++];
        switch (e) {
          case 'n':
            out += '\n';
            break;
          case 't':
            out += '\t';
            break;
          case 'r':
            out += '\r';
            break;
          case '\\':
          case '"':
          case "'":
          case '`':
            out += e;
            break;
          default:
            // Keep unknown escapes verbatim so regex escapes like \d survive in =~ values.
            out += `\\${e}`;
        }
        continue;
      }
      out += c;
    }
  }

  private ws(): void {
    while (this.i < this.s.length && /\s/.test(this.s[this.i])) this.i++;
  }

  private peek(): string {
    return this.s[this.i] ?? '';
  }

  private expect(c: string): void {
    if (this.peek() !== c) this.fail(`expected "${c}"`);
    this.i++;
  }

  private end(): void {
    this.ws();
    if (this.i !== this.s.length) this.fail('unexpected text after "}"');
  }

  private fail(msg: string): never {
    throw FirnError.invalidArgument(`invalid label matchers "${this.s}" at offset ${this.i}: ${msg}`);
  }
}

/** Prometheus label name syntax. */
export function isValidLabelName(name: string): boolean {
  return LABEL_NAME.test(name);
}

/**
 * Whether a pprof sample type holds per-window deltas (`:delta` profile types) rather than
 * point-in-time snapshots. Rule:
 * - period type `cpu` or `wall` (Go CPU profiles, the Parca agent, Pyroscope SDKs): delta;
 * - `alloc_*` sample types (allocations in the window; Go SDKs push godeltaprof deltas): delta;
 * - `contentions` / `delay` (mutex and block profiles, likewise pushed as deltas): delta;
 * - everything else (`inuse_*`, `goroutine`, `live`, ...): a snapshot, not delta.
 */
export function isDeltaSampleType(sampleType: string, periodType: string): boolean {
  if (periodType === 'cpu' || periodType === 'wall') return true;
  if (sampleType.startsWith('alloc_')) return true;
  return sampleType === 'contentions' || sampleType === 'delay';
}
