import { SampleBatchBuilder, labelsKey, parseProfileType, stackKey, type SampleBatch } from '@firn/profiles';

/** Sample types Go reports as totals since the process started, stored by Firn as per-window deltas. */
export function isCumulativeAtSource(profileType: string): boolean {
  const t = parseProfileType(profileType);
  if (t.periodType === 'cpu' || t.periodType === 'wall') return false;
  return t.sampleType.startsWith('alloc_') || t.sampleType === 'contentions' || t.sampleType === 'delay';
}

interface Baseline {
  tsMs: number;
  values: Map<string, number>;
}

/**
 * Turns cumulative Go profiles (allocations, block and mutex contention) into the deltas their
 * `:delta` profile types promise, per target and profile, as Grafana Alloy does: the first scrape
 * of a target only sets the baseline for those sample types; later scrapes store the growth since
 * the previous one (a value that went down — the process restarted — counts from zero).
 * Snapshot types (inuse_*, goroutines) pass through unchanged. State lives in the replica that
 * scrapes the target; a new owner starts with a fresh baseline.
 */
export class CumulativeDeltas {
  private readonly baselines = new Map<string, Baseline>();

  apply(key: string, batch: SampleBatch): SampleBatch {
    const cumulative = batch.profileTypes.map(isCumulativeAtSource);
    if (!cumulative.some(Boolean)) return batch;
    const prev = this.baselines.get(key);
    const next: Baseline = { tsMs: batch.timestampMs[0] ?? Date.now(), values: new Map() };
    const out = new SampleBatchBuilder({ initialCapacity: batch.length + 16 });
    const seriesKeys = batch.series.map(labelsKey);
    for (let i = 0; i < batch.length; i++) {
      const pt = batch.profileType[i];
      const type = batch.profileTypes[pt];
      const labels = batch.series[batch.seriesIdx[i]];
      const frames = batch.stacks[batch.stack[i]];
      let value = batch.value[i];
      let durationNs = batch.durationNs[i];
      if (cumulative[pt]) {
        const rowKey = `${type}\u0000${seriesKeys[batch.seriesIdx[i]]}\u0000${stackKey(frames)}`;
        next.values.set(rowKey, (next.values.get(rowKey) ?? 0) + value);
        if (!prev) continue;
        const before = prev.values.get(rowKey) ?? 0;
        value = value >= before ? value - before : value;
        durationNs = Math.max(0, (next.tsMs - prev.tsMs) * 1e6);
      }
      if (value > 0) out.add(type, labels, frames, value, batch.timestampMs[i], durationNs, batch.periodNs[i]);
    }
    this.baselines.set(key, next);
    return out.build();
  }

  /** Forgets targets this replica no longer scrapes. */
  retain(keys: (key: string) => boolean): void {
    for (const k of this.baselines.keys()) if (!keys(k)) this.baselines.delete(k);
  }
}
