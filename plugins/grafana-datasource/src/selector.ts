/**
 * Label selectors as Firn (and Pyroscope, Parca, Prometheus) write them: `{name="value", other=~"re.*"}`,
 * optionally preceded by a profile type (Parca's style: `parca_agent:samples:count:cpu:nanoseconds:delta{…}`).
 * The plugin cannot import Firn's server-side parser (it runs inside Grafana's browser bundle), so
 * this is a small reader for what the editors build and show; Firn validates the full grammar.
 */

export type MatchOp = '=' | '!=' | '=~' | '!~';

export const MATCH_OPS: readonly MatchOp[] = ['=', '!=', '=~', '!~'];

export interface LabelMatcher {
  name: string;
  op: MatchOp;
  value: string;
}

const MATCHER = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')\s*/y;

function unquote(q: string): string {
  if (q.startsWith('"')) return JSON.parse(q) as string;
  // Single-quoted (PromQL allows it): same escapes, other quote character.
  return JSON.parse(`"${q.slice(1, -1).replace(/\\'/g, "'").replace(/"/g, '\\"')}"`) as string;
}

/**
 * `{a="b", c=~"d"}` as matchers; `undefined` when the text is not a plain selector (the editors
 * then leave it as typed, and Firn reports what is wrong with it).
 */
export function parseMatchers(selector: string): LabelMatcher[] | undefined {
  const s = selector.trim();
  if (s === '') return [];
  if (!s.startsWith('{') || !s.endsWith('}')) return undefined;
  const body = s.slice(1, -1);
  const out: LabelMatcher[] = [];
  let i = 0;
  while (body.slice(i).trim() !== '') {
    MATCHER.lastIndex = i;
    const m = MATCHER.exec(body);
    if (!m) return undefined;
    try {
      out.push({ name: m[1], op: m[2] as MatchOp, value: unquote(m[3]) });
    } catch {
      return undefined;
    }
    i = MATCHER.lastIndex;
    if (i === body.length) break;
    if (body[i] !== ',') return undefined;
    i++;
  }
  return out;
}

/** Matchers back to text; values are quoted so any character survives. */
export function formatMatchers(matchers: readonly LabelMatcher[]): string {
  return `{${matchers.map((m) => `${m.name}${m.op}${JSON.stringify(m.value)}`).join(', ')}}`;
}

/**
 * Splits Parca's one-string form `<profile type>{…}` into its parts; a selector that starts with
 * `{` (Pyroscope's form) has no profile type. Lets users paste selectors from Parca or from Firn's
 * docs into the label selector field.
 */
export function splitSelector(text: string): { profileTypeId?: string; labelSelector: string } {
  const s = text.trim();
  const brace = s.indexOf('{');
  const head = (brace < 0 ? s : s.slice(0, brace)).trim();
  if (head === '' || !/^[^\s{}:]+(:[^\s{}:]*){4,5}$/.test(head)) return { labelSelector: s };
  return { profileTypeId: head, labelSelector: brace < 0 ? '{}' : s.slice(brace) };
}

/**
 * The selector Firn's label APIs take to scope names/values: the label selector plus the profile
 * type as Pyroscope's `__profile_type__` label.
 */
export function scopedSelector(profileTypeId: string | undefined, labelSelector: string | undefined): string {
  const ms = parseMatchers(labelSelector ?? '') ?? [];
  const withType = profileTypeId ? [{ name: '__profile_type__', op: '=' as const, value: profileTypeId }, ...ms] : ms;
  return formatMatchers(withType);
}

/** Profile type id parts (`name:sample_type:sample_unit:period_type:period_unit[:delta]`). */
export interface ProfileTypeParts {
  name: string;
  sampleType: string;
  sampleUnit: string;
  periodType: string;
  periodUnit: string;
}

export function profileTypeParts(id: string): ProfileTypeParts | undefined {
  const p = id.split(':');
  if (p.length < 5) return undefined;
  return { name: p[0], sampleType: p[1], sampleUnit: p[2], periodType: p[3], periodUnit: p[4] };
}
