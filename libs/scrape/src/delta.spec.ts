import { describe, expect, it } from 'vitest';
import { SampleBatchBuilder, type Frame, type SampleBatch } from '@firn/profiles';
import { CumulativeDeltas, isCumulativeAtSource } from './delta';

const ALLOC = 'memory:alloc_space:bytes:space:bytes:delta';
const INUSE = 'memory:inuse_space:bytes:space:bytes';
const f = (name: string): Frame => ({ buildId: '', mappingFile: '', address: 0n, functionName: name, fileName: '', line: 0, inlined: false });

function heap(tsMs: number, alloc: Record<string, number>, inuse: Record<string, number>): SampleBatch {
  const b = new SampleBatchBuilder();
  for (const [fn, v] of Object.entries(alloc)) b.add(ALLOC, [['job', 'j']], [f(fn), f('main')], v, tsMs, 0, 524288);
  for (const [fn, v] of Object.entries(inuse)) b.add(INUSE, [['job', 'j']], [f(fn), f('main')], v, tsMs, 0, 524288);
  return b.build();
}

function rows(b: SampleBatch): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < b.length; i++) out[`${b.profileTypes[b.profileType[i]].split(':')[1]} ${b.stacks[b.stack[i]][0].functionName}`] = b.value[i];
  return out;
}

describe(CumulativeDeltas.name, () => {
  it('stores allocation growth between scrapes, inuse snapshots as they are, and nothing cumulative on the first scrape', () => {
    const d = new CumulativeDeltas();
    expect(rows(d.apply('t', heap(1000, { a: 100, b: 50 }, { a: 10 })))).toEqual({ 'inuse_space a': 10 });
    const second = d.apply('t', heap(11_000, { a: 130, b: 50, c: 7 }, { a: 12 }));
    expect(rows(second)).toEqual({ 'alloc_space a': 30, 'alloc_space c': 7, 'inuse_space a': 12 });
    expect(second.durationNs[0]).toBe(10e9);
    // The process restarted: totals went down, so they count from zero.
    expect(rows(d.apply('t', heap(21_000, { a: 20 }, {})))).toEqual({ 'alloc_space a': 20 });
  });

  it('keeps baselines per target and forgets the ones it no longer scrapes', () => {
    const d = new CumulativeDeltas();
    d.apply('t1', heap(0, { a: 5 }, {}));
    expect(rows(d.apply('t2', heap(1, { a: 9 }, {})))).toEqual({});
    d.retain((k) => k === 't2');
    expect(rows(d.apply('t1', heap(2, { a: 8 }, {})))).toEqual({});
    expect(rows(d.apply('t2', heap(3, { a: 10 }, {})))).toEqual({ 'alloc_space a': 1 });
  });

  it('knows which Go sample types are totals since start', () => {
    expect(isCumulativeAtSource('process_cpu:cpu:nanoseconds:cpu:nanoseconds:delta')).toBe(false);
    expect(isCumulativeAtSource('block:contentions:count:contentions:count:delta')).toBe(true);
    expect(isCumulativeAtSource('mutex:delay:nanoseconds:contentions:count:delta')).toBe(true);
    expect(isCumulativeAtSource('goroutine:goroutine:count:goroutine:count')).toBe(false);
  });
});
