import { FirnError } from '@firn/errors';
import { parseProfileType, type Frame } from '@firn/profiles';
import { pyroscopeFrameName } from '@firn/reports';

/**
 * How a CPU profile type's values become CPU time: values are nanoseconds already
 * (`…:cpu:nanoseconds:…`), or sample counts whose rows carry the sampling period in nanoseconds
 * (`…:samples:count:cpu:nanoseconds`, the eBPF agent's type).
 */
export type CpuValueKind = 'nanoseconds' | 'count';

/** invalid_argument unless the profile type measures CPU time. */
export function cpuValueKind(profileType: string): CpuValueKind {
  const t = parseProfileType(profileType);
  if (t.sampleUnit === 'nanoseconds') return 'nanoseconds';
  if (t.sampleUnit === 'count' && t.periodType === 'cpu' && t.periodUnit === 'nanoseconds') return 'count';
  throw FirnError.invalidArgument(
    `${profileType} does not measure CPU time: use a profile type whose sample unit is nanoseconds, or count with period cpu:nanoseconds (e.g. parca_agent:samples:count:cpu:nanoseconds:delta)`,
  );
}

/**
 * Exact CPU nanoseconds and samples of `value` summed over rows with sampling period `periodNs`
 * (the PERIOD_GROUP value). Count types: value × period ns. Nanosecond types: the value itself;
 * samples = value / period when the period is known.
 */
export function cpuOf(kind: CpuValueKind, value: number, periodNs: bigint): { cpuNs: bigint; samples: bigint } {
  const v = BigInt(Math.round(value));
  if (kind === 'count') return { cpuNs: v * periodNs, samples: v };
  return { cpuNs: v, samples: periodNs > 0n ? (v + periodNs / 2n) / periodNs : 0n };
}

/** A period group value as written by the scan ('' when a row had none). */
export function parsePeriod(s: string): bigint {
  return /^\d+$/.test(s) ? BigInt(s) : 0n;
}

/** The name a function gets in reports (unsymbolized frames: `binary!0xaddr`, as Pyroscope). */
export function functionKey(f: Frame): string {
  return pyroscopeFrameName(f);
}
