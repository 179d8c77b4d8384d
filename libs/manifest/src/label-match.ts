import { FirnError } from '@firn/errors';
import type { firnManifestV1 } from '@firn/proto';

export type MatchOp = '=' | '!=' | '=~' | '!~';

/** A Prometheus-style label matcher; regexes are fully anchored, as in PromQL. */
export interface LabelMatcher {
  name: string;
  op: MatchOp;
  value: string;
}

export interface CompiledMatcher extends LabelMatcher {
  /** Whether a row whose label has value `v` ('' = label absent) satisfies the matcher. */
  accepts(v: string): boolean;
}

const OPS: ReadonlySet<string> = new Set(['=', '!=', '=~', '!~']);

function anchored(source: string): RegExp {
  // 'u' makes '.' match whole code points like RE2 does; a few RE2-valid escapes ('\-' outside
  // a class) are syntax errors under 'u', so fall back to the legacy grammar for those.
  try {
    return new RegExp(`^(?:${source})$`, 'su');
  } catch {
    try {
      return new RegExp(`^(?:${source})$`, 's');
    } catch (err) {
      throw FirnError.invalidArgument(`invalid regex ${JSON.stringify(source)} in label matcher: ${(err as Error).message}`);
    }
  }
}

export function compileMatchers(matchers: readonly LabelMatcher[] = []): CompiledMatcher[] {
  return matchers.map((m) => {
    if (!OPS.has(m.op)) throw FirnError.invalidArgument(`label matcher on ${JSON.stringify(m.name)} has unknown operator ${JSON.stringify(m.op)}`);
    switch (m.op) {
      case '=':
        return { ...m, accepts: (v: string) => v === m.value };
      case '!=':
        return { ...m, accepts: (v: string) => v !== m.value };
      case '=~': {
        const re = anchored(m.value);
        return { ...m, accepts: (v: string) => re.test(v) };
      }
      case '!~': {
        const re = anchored(m.value);
        return { ...m, accepts: (v: string) => !re.test(v) };
      }
    }
  });
}

/**
 * False only when the summary proves no row of the segment can satisfy every matcher; any doubt
 * keeps the segment. The rules:
 * - A segment without any label summary tells nothing: kept.
 * - Reserved names (`__name__`, `__profile_type__`, ...) are not stored as labels here: never pruned on.
 * - Label absent from the summary means absent on every row (value ''): pruned for `=` and `=~`
 *   when '' does not satisfy them; `!=` / `!~` on an absent label never prune.
 * - Truncated summary: any value is possible: never pruned.
 * - Complete summary: rows may still lack the label (nullable column), so '' is a candidate
 *   alongside the listed values; pruned when no candidate satisfies the matcher.
 */
export function summaryMayMatch(labels: readonly firnManifestV1.LabelSummary[], matchers: readonly CompiledMatcher[]): boolean {
  if (matchers.length === 0 || labels.length === 0) return true;
  const byName = new Map<string, { values: string[]; truncated: boolean }>();
  for (const s of labels) {
    const seen = byName.get(s.name);
    // A repeated name is a writer bug; merging keeps the answer conservative.
    if (seen) byName.set(s.name, { values: [...seen.values, ...s.values], truncated: seen.truncated || s.truncated });
    else byName.set(s.name, { values: s.values, truncated: s.truncated });
  }
  for (const m of matchers) {
    if (m.name.startsWith('__')) continue;
    const s = byName.get(m.name);
    if (!s) {
      if ((m.op === '=' || m.op === '=~') && !m.accepts('')) return false;
      continue;
    }
    if (s.truncated) continue;
    if (!m.accepts('') && !s.values.some((v) => m.accepts(v))) return false;
  }
  return true;
}
