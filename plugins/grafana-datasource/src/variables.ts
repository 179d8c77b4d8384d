/**
 * Dashboard variable queries, in the `label_values(...)` style Grafana users know from Prometheus:
 *
 *   profile_types()                                  every profile type id in the range
 *   label_names()  /  label_names(<selector>)        label names (of the matching series)
 *   label_values(<label>)                            values of a label
 *   label_values(<selector>, <label>)                values among the matching series
 *
 * `<selector>` is `{…}`, a profile type id, or both (`process_cpu:cpu:nanoseconds:cpu:nanoseconds{namespace="x"}`).
 */
export type VariableQuery = { kind: 'profile_types' } | { kind: 'label_names'; selector: string } | { kind: 'label_values'; selector: string; label: string };

export const VARIABLE_QUERY_HELP = 'use profile_types(), label_names([selector]) or label_values([selector, ]label)';

/** Index of the last comma outside braces and quotes, or -1. */
function lastTopLevelComma(s: string): number {
  let depth = 0;
  let quote: string | undefined;
  let last = -1;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '{') depth++;
    else if (c === '}') depth--;
    else if (c === ',' && depth === 0) last = i;
  }
  return last;
}

export function parseVariableQuery(text: string): VariableQuery {
  const m = /^\s*(profile_types|label_names|label_values)\s*\(([\s\S]*)\)\s*$/.exec(text);
  if (!m) throw new Error(`Firn variable query "${text}" not understood: ${VARIABLE_QUERY_HELP}`);
  const [, fn, rawArgs] = m;
  const args = rawArgs.trim();
  if (fn === 'profile_types') {
    if (args !== '') throw new Error('profile_types() takes no arguments');
    return { kind: 'profile_types' };
  }
  if (fn === 'label_names') return { kind: 'label_names', selector: args };
  const comma = lastTopLevelComma(args);
  const label = (comma < 0 ? args : args.slice(comma + 1)).trim();
  const selector = comma < 0 ? '' : args.slice(0, comma).trim();
  if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(label)) throw new Error(`label_values needs a label name as its last argument (got "${label}")`);
  return { kind: 'label_values', selector, label };
}
