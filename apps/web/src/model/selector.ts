/** What the label selector's caret is in, for autocomplete. */
export type SelectorContext =
  { kind: 'name'; partial: string; from: number } | { kind: 'value'; label: string; partial: string; from: number } | { kind: 'none' };

/**
 * The completion context at `caret` in a PromQL-style selector (`{a="x", b=~"y.*"}`, braces
 * optional): a label name right after `{` / `,` (or at the start), or a value inside quotes
 * after `name op "`.
 */
export function contextAt(text: string, caret: number): SelectorContext {
  const before = text.slice(0, caret);
  const value = /([a-zA-Z_][\w.]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)$/.exec(before);
  if (value) return { kind: 'value', label: value[1], partial: value[3], from: caret - value[3].length };
  // Inside a finished quoted value, nothing to complete.
  const quotes = (before.match(/(?<!\\)"/g) ?? []).length;
  if (quotes % 2 === 1) return { kind: 'none' };
  const name = /(^|[{,])\s*([a-zA-Z_][\w.]*)?$/.exec(before);
  if (name) {
    const partial = name[2] ?? '';
    return { kind: 'name', partial, from: caret - partial.length };
  }
  return { kind: 'none' };
}

/** Applies a chosen completion: a name becomes `name="` (ready for its value), a value is closed. */
export function applyCompletion(text: string, caret: number, ctx: SelectorContext, choice: string): { text: string; caret: number } {
  if (ctx.kind === 'none') return { text, caret };
  const after = text.slice(caret);
  if (ctx.kind === 'name') {
    const rest = after.replace(/^[\w.]*/, '');
    const insert = `${choice}="`;
    return { text: text.slice(0, ctx.from) + insert + rest, caret: ctx.from + insert.length };
  }
  const escaped = choice.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
  // Replace the rest of the value being edited only when it is closed before the next matcher.
  const rest = after.replace(/^(?:[^"\\,}]|\\.)*"/, '');
  const insert = `${escaped}"`;
  return { text: text.slice(0, ctx.from) + insert + rest, caret: ctx.from + insert.length };
}

/** `{…}` with braces, whatever the user typed (`a="b"` or `{a="b"}` or nothing). */
export function normalizeSelector(text: string): string {
  const t = text.trim();
  if (t === '') return '{}';
  if (t.startsWith('{')) return t.endsWith('}') ? t : `${t}}`;
  return `{${t}}`;
}

/** Matchers of a selector other than one label (for asking which values that label takes). */
export function withoutLabel(selector: string, label: string): string {
  const inner = normalizeSelector(selector).slice(1, -1);
  const parts = splitMatchers(inner).filter((m) => !new RegExp(`^\\s*${label.replace(/[.]/g, '\\.')}\\s*(=~|!~|!=|=)`).test(m));
  const complete = parts.filter((m) => /^\s*[a-zA-Z_][\w.]*\s*(=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*"\s*$/.test(m));
  return `{${complete.map((m) => m.trim()).join(',')}}`;
}

function splitMatchers(inner: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i];
    if (c === '\\' && quoted) {
      cur += c + (inner[i + 1] ?? '');
      i++;
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (c === ',' && !quoted) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  if (cur.trim() !== '') out.push(cur);
  return out;
}

/** A profile type as Parca writes it: `name:sample_type:sample_unit:period_type:period_unit[:delta]`. */
export interface ProfileTypeId {
  name: string;
  sampleType: string;
  sampleUnit: string;
  periodType: string;
  periodUnit: string;
  delta: boolean;
}

export function formatProfileType(t: ProfileTypeId): string {
  return `${t.name}:${t.sampleType}:${t.sampleUnit}:${t.periodType}:${t.periodUnit}${t.delta ? ':delta' : ''}`;
}

export function describeProfileType(id: string): string {
  const [name, sampleType, sampleUnit, periodType] = id.split(':');
  if (!sampleType) return id;
  if (periodType === 'cpu' || sampleType === 'cpu') return `${name} · CPU (${sampleType} ${sampleUnit})`;
  return `${name} · ${sampleType} (${sampleUnit})`;
}

/** The agent's CPU type first, then other CPU types, then the rest by name. */
export function preferredProfileType(ids: readonly string[]): string | undefined {
  const rank = (id: string): number => (id.startsWith('parca_agent:samples:count:cpu:nanoseconds') ? 0 : /:cpu:/.test(id) ? 1 : 2);
  return [...ids].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))[0];
}
