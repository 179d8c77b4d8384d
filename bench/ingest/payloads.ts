// Encodes a slice of fleet-1h into the request bodies agents send, before anything is timed.
import { SampleBatchBuilder, samplesToArrow, samplesToPprof, stackKey, type Frame, type SampleBatch } from '@firn/profiles';
import { seriesKeyOf } from '@firn/segments';
import { FLEET_PROFILE_TYPE, fleetWindows, type FleetOptions } from '../fleet/fleet-1h';

/** One WriteRaw series: the agent's labels plus `__name__`, and its gzip pprof. */
export interface PprofSeries {
  labels: Array<{ name: string; value: string }>;
  rawProfile: Uint8Array;
}

export interface PreparedWindow {
  agent: number;
  window: number;
  rows: number;
  samples: number;
  arrow: Uint8Array;
  pprof: PprofSeries[];
  pprofBytes: number;
}

export interface PreparedSlice {
  windows: PreparedWindow[];
  rows: number;
  samples: number;
  arrowBytes: number;
  pprofBytes: number;
  /** `${profileType}|${seriesKey}|${stackKey}` → value: what the segment reader must report. */
  expected: Map<string, number>;
}

/** The rows of one series as its own batch (the Parca agent sends one pprof per series). */
function splitBySeries(batch: SampleBatch): Array<{ labels: Array<[string, string]>; batch: SampleBatch }> {
  const builders = batch.series.map(() => new SampleBatchBuilder({ initialCapacity: 64 }));
  for (let i = 0; i < batch.length; i++) {
    const b = builders[batch.seriesIdx[i]];
    const pt = b.addProfileType(batch.profileTypes[batch.profileType[i]]);
    const se = b.addSeries(batch.series[batch.seriesIdx[i]]);
    b.addRow(pt, se, b.addStack(batch.stacks[batch.stack[i]]), batch.value[i], batch.timestampMs[i], batch.durationNs[i], batch.periodNs[i]);
  }
  return builders.map((b, s) => ({ labels: batch.series[s], batch: b.build() })).filter((x) => x.batch.length > 0);
}

export function prepareSlice(opts: FleetOptions, formats: { arrow: boolean; pprof: boolean }): PreparedSlice {
  const stackKeys = new Map<Frame[], string>();
  const expected = new Map<string, number>();
  const out: PreparedSlice = { windows: [], rows: 0, samples: 0, arrowBytes: 0, pprofBytes: 0, expected };
  for (const { agent, window, batch } of fleetWindows(opts)) {
    let samples = 0;
    const seriesKeys = batch.series.map((s) => seriesKeyOf(s));
    for (let i = 0; i < batch.length; i++) {
      samples += batch.value[i];
      const frames = batch.stacks[batch.stack[i]];
      let sk = stackKeys.get(frames);
      if (sk === undefined) {
        sk = stackKey(frames);
        stackKeys.set(frames, sk);
      }
      const key = `${batch.profileTypes[batch.profileType[i]]}|${seriesKeys[batch.seriesIdx[i]]}|${sk}`;
      expected.set(key, (expected.get(key) ?? 0) + batch.value[i]);
    }
    const arrow = formats.arrow ? samplesToArrow(batch) : new Uint8Array(0);
    const pprof: PprofSeries[] = formats.pprof
      ? splitBySeries(batch).map(({ labels, batch: one }) => ({
          labels: [{ name: '__name__', value: 'parca_agent' }, ...labels.map(([name, value]) => ({ name, value }))],
          rawProfile: samplesToPprof(one, FLEET_PROFILE_TYPE, { includeLabels: false }),
        }))
      : [];
    const pprofBytes = pprof.reduce((n, s) => n + s.rawProfile.length, 0);
    out.windows.push({ agent, window, rows: batch.length, samples, arrow, pprof, pprofBytes });
    out.rows += batch.length;
    out.samples += samples;
    out.arrowBytes += arrow.length;
    out.pprofBytes += pprofBytes;
  }
  return out;
}
