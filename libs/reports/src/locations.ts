import type { Frame } from '@firn/profiles';

/**
 * Splits a leaf-first stack into pprof locations: a run of inlined frames ends at the first
 * non-inlined (outermost) frame, as samplesToPprof groups them. A trailing run of inlined
 * frames without an outer frame (a truncated stack) forms a location of its own.
 * Returns [start, end) frame index pairs, leaf location first.
 */
export function locationRanges(frames: readonly Frame[]): number[] {
  const out: number[] = [];
  let start = 0;
  for (let i = 0; i < frames.length; i++) {
    if (!frames[i].inlined) {
      out.push(start, i + 1);
      start = i + 1;
    }
  }
  if (start < frames.length) out.push(start, frames.length);
  return out;
}
