import { FirnError } from '@firn/errors';
import { matchesValue, parseMetricSelector, parseProfileType, type LabelMatcher } from '@firn/profiles';

/** Pyroscope's label holding the profile type id of a series. */
export const PROFILE_TYPE_LABEL = '__profile_type__';

/**
 * Pyroscope's private labels that describe the profile type of a series rather than the
 * series. Firn keeps the profile type in its own column, so these are derived from it: they can
 * be matched, listed and read like any label through the Pyroscope API.
 */
const PRIVATE: Record<string, (t: ReturnType<typeof parseProfileType>, id: string) => string> = {
  __name__: (t) => t.name,
  [PROFILE_TYPE_LABEL]: (_t, id) => id,
  __type__: (t) => t.sampleType,
  __unit__: (t) => t.sampleUnit,
  __period_type__: (t) => t.periodType,
  __period_unit__: (t) => t.periodUnit,
};

export const PRIVATE_LABELS: readonly string[] = Object.keys(PRIVATE).sort();

export function isPrivateLabel(name: string): boolean {
  return Object.prototype.hasOwnProperty.call(PRIVATE, name);
}

/** Pyroscope's profile type id of a stored one (Pyroscope ids have no `:delta`). */
export function pyroscopeId(stored: string): string {
  const t = parseProfileType(stored);
  return `${t.name}:${t.sampleType}:${t.sampleUnit}:${t.periodType}:${t.periodUnit}`;
}

/** The private labels of a stored profile type, name-sorted. */
export function privateLabelsOf(stored: string): Array<[string, string]> {
  const t = parseProfileType(stored);
  const id = pyroscopeId(stored);
  return PRIVATE_LABELS.map((n) => [n, PRIVATE[n](t, id)]);
}

/** Selectors split into what decides the profile type and what the engine matches on series. */
export interface PyroscopeSelection {
  /** Matchers on private labels, decided per profile type (typeMatches). */
  typeMatchers: LabelMatcher[];
  /** Matchers on series labels. */
  matchers: LabelMatcher[];
}

/**
 * Parses the selectors of a Pyroscope request (all must hold, as in Pyroscope): `{…}`, '' (all),
 * or a name before the braces. A name that is a profile type id (Grafana's variable and label
 * editors send `process_cpu:cpu:nanoseconds:cpu:nanoseconds{}`) selects that profile type; any
 * other name selects profiles of that name (`__name__`, e.g. `memory`).
 *
 * Pyroscope itself parses the name as `__name__` and so matches nothing for an id; Firn reads it
 * as the client means it (Pyroscope's own AnalyzeQuery and legacy render API do the same).
 */
export function parsePyroscopeSelectors(selectors: readonly string[]): PyroscopeSelection {
  const out: PyroscopeSelection = { typeMatchers: [], matchers: [] };
  for (const s of selectors) {
    const { name, matchers } = parseMetricSelector(s);
    if (name !== undefined) {
      const parts = name.split(':').length;
      if (parts === 5 || parts === 6) out.typeMatchers.push({ name: PROFILE_TYPE_LABEL, op: '=', value: pyroscopeId(name) });
      else if (parts === 1) out.typeMatchers.push({ name: '__name__', op: '=', value: name });
      else
        throw FirnError.invalidArgument(
          `invalid selector ${JSON.stringify(s)}: "${name}" is neither a profile name nor a profile type id (<name>:<sample_type>:<sample_unit>:<period_type>:<period_unit>)`,
        );
    }
    for (const m of matchers) (isPrivateLabel(m.name) ? out.typeMatchers : out.matchers).push(m);
  }
  return out;
}

/** Does a stored profile type satisfy the private-label matchers? */
export function typeMatches(stored: string, typeMatchers: readonly LabelMatcher[]): boolean {
  if (typeMatchers.length === 0) return true;
  const labels = new Map(privateLabelsOf(stored));
  return typeMatchers.every((m) => matchesValue(m, labels.get(m.name) ?? ''));
}

/** `<profile type>{matchers}` for the engine. */
export function engineSelector(profileType: string, matchers: readonly LabelMatcher[]): string {
  return `${profileType}{${matchers.map((m) => `${m.name}${m.op}${JSON.stringify(m.value)}`).join(',')}}`;
}
