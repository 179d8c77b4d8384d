import { FirnError } from '@firn/errors';
import type { Frame } from '@firn/profiles';
import type { queryV1alpha1 } from '@firn/proto';
import type { StackProfile } from '@firn/reports';

type Criteria = queryV1alpha1.FilterCriteria;

function basename(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? path : path.slice(i + 1);
}

function stringOk(cond: queryV1alpha1.StringCondition | undefined, value: string): boolean {
  if (!cond || cond.condition.case === undefined) return true;
  const v = value.toLowerCase();
  const want = cond.condition.value.toLowerCase();
  switch (cond.condition.case) {
    case 'equal':
      return v === want;
    case 'notEqual':
      return v !== want;
    case 'contains':
      return v.includes(want);
    case 'notContains':
      return !v.includes(want);
    case 'startsWith':
      return v.startsWith(want);
    case 'notStartsWith':
      return !v.startsWith(want);
    default:
      return true;
  }
}

function numberOk(cond: queryV1alpha1.NumberCondition | undefined, value: bigint): boolean {
  if (!cond || cond.condition.case === undefined) return true;
  return cond.condition.case === 'equal' ? value === cond.condition.value : value !== cond.condition.value;
}

function frameMatches(c: Criteria, f: Frame): boolean {
  return (
    stringOk(c.functionName, f.functionName) &&
    stringOk(c.systemName, f.systemName ?? f.functionName) &&
    stringOk(c.binary, basename(f.mappingFile)) &&
    stringOk(c.filename, f.fileName) &&
    numberOk(c.address, f.address) &&
    numberOk(c.lineNumber, BigInt(f.line))
  );
}

/**
 * Parca's query filters (`QueryRequest.filter`, ANDed): stack filters keep (or, with exclude,
 * drop) whole stacks that contain a matching frame; frame filters keep only matching frames of
 * each stack (the stack's value stays with what remains). Matching is case-insensitive.
 * Returns the filtered profile and how much value was filtered out.
 */
export function applyFilters(p: StackProfile, filters: readonly queryV1alpha1.Filter[]): { profile: StackProfile; filteredOut: number } {
  if (filters.length === 0) return { profile: p, filteredOut: 0 };
  let stacks = p.stacks;
  let keep = stacks.map(() => true);
  for (const filter of filters) {
    const f = filter.filter;
    if (f.case === 'stackFilter') {
      const s = f.value.filter;
      let has: (frames: Frame[]) => boolean;
      let exclude = false;
      if (s.case === 'functionNameStackFilter') {
        const needle = s.value.functionToFilter.toLowerCase();
        exclude = s.value.exclude;
        has = (frames) => frames.some((fr) => fr.functionName.toLowerCase().includes(needle));
      } else if (s.case === 'criteria') {
        const c = s.value;
        has = (frames) => frames.some((fr) => frameMatches(c, fr));
      } else {
        throw FirnError.invalidArgument('stack filter without a function name or criteria');
      }
      keep = keep.map((k, i) => k && has(stacks[i]) !== exclude);
    } else if (f.case === 'frameFilter') {
      const ff = f.value.filter;
      let ok: (fr: Frame) => boolean;
      if (ff.case === 'binaryFrameFilter') {
        const bins = new Set(ff.value.includeBinaries.map((b) => b.toLowerCase()));
        ok = (fr) => bins.has(basename(fr.mappingFile).toLowerCase());
      } else if (ff.case === 'criteria') {
        const c = ff.value;
        ok = (fr) => frameMatches(c, fr);
      } else {
        throw FirnError.invalidArgument('frame filter without binaries or criteria');
      }
      stacks = stacks.map((frames) => frames.filter(ok));
      keep = keep.map((k, i) => k && stacks[i].length > 0);
    } else {
      throw FirnError.invalidArgument('empty filter');
    }
  }
  const idx = keep.flatMap((k, i) => (k ? [i] : []));
  const values = Float64Array.from(idx, (i) => p.values[i]);
  const base = p.base ? Float64Array.from(idx, (i) => (p.base as Float64Array)[i]) : undefined;
  const total = values.reduce((a, b) => a + b, 0);
  return { profile: { profileType: p.profileType, stacks: idx.map((i) => stacks[i]), values, base, total }, filteredOut: p.total - total };
}
