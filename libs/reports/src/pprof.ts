import { gzipPprof, SampleBatchBuilder, samplesToPprofMessage } from '@firn/profiles';
import type { googleV1 } from '@firn/proto';
import type { StackProfile } from './stack-profile';

export interface StackProfilePprofOptions {
  /** Start of the queried window (pprof time_nanos); default 0 (unknown). */
  startMs?: number;
  /** End of the queried window; with startMs it gives duration_nanos. */
  endMs?: number;
  /** Sampling period in the profile type's period unit; default 0 (unknown). */
  period?: number;
}

/**
 * The PPROF report (Parca) and SelectMergeProfile (Pyroscope) body: a gzip pprof of `values`
 * (a diff's base side is not part of it, as upstream). Inlined frames fold back into one
 * location with several lines; see samplesToPprof in @firn/profiles.
 */
export function stackProfileToPprof(p: StackProfile, opts: StackProfilePprofOptions = {}): Uint8Array {
  return gzipPprof(stackProfileToPprofMessage(p, opts));
}

/**
 * stackProfileToPprof's Profile as a message: what SelectMergeProfile answers, encoded once by
 * the RPC layer instead of gzipped, inflated and decoded again.
 */
export function stackProfileToPprofMessage(p: StackProfile, opts: StackProfilePprofOptions = {}): googleV1.Profile {
  const builder = new SampleBatchBuilder({ initialCapacity: Math.max(16, p.stacks.length) });
  const pt = builder.addProfileType(p.profileType);
  const series = builder.addSeries([]);
  const startMs = opts.startMs ?? 0;
  const durationNs = opts.endMs !== undefined && opts.endMs > startMs ? (opts.endMs - startMs) * 1e6 : 0;
  const period = opts.period ?? 0;
  for (let s = 0; s < p.stacks.length; s++) {
    const v = p.values[s];
    if (v === 0) continue;
    builder.addRow(pt, series, builder.addStack(p.stacks[s]), Math.round(v), startMs, durationNs, period);
  }
  return samplesToPprofMessage(builder.build(), p.profileType, { includeLabels: false });
}
