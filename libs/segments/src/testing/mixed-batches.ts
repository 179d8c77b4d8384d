import { seriesKeyOf } from '../label-order';
import { SampleBatchBuilder, type Frame, type SampleBatch } from '@firn/profiles';
import { stackKey } from '@firn/profiles';
import { batchOf } from './synthetic-batches';

// A small hand-made set of batches that exercises every column type and edge case of the writer.

export const CPU = 'parca_agent:samples:count:cpu:nanoseconds:delta';
export const GO_CPU = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds:delta';
export const ALLOC = 'memory:alloc_space:bytes:space:bytes';

const frame = (over: Partial<Frame>): Frame => ({
  buildId: '',
  mappingFile: '',
  address: 0n,
  functionName: '',
  fileName: '',
  line: 0,
  inlined: false,
  ...over,
});

/** Unsymbolized native stack with extreme addresses (0 and near 2^64). */
export const NATIVE: Frame[] = [
  frame({ buildId: 'deadbeef00112233', mappingFile: '/usr/bin/app', address: 0xffffffffffffff00n }),
  frame({ buildId: 'deadbeef00112233', mappingFile: '/usr/bin/app', address: 0n }),
  frame({ buildId: 'cafe', mappingFile: '/lib/x86_64-linux-gnu/libc.so.6', address: 0x29d90n }),
];
/** One pprof location with two inline lines, then an outer frame; unicode names. */
export const INLINED: Frame[] = [
  frame({ functionName: 'inner_ünïcode_😀', fileName: 'src/ä.go', line: 12, inlined: true, address: 0x1000n }),
  frame({ functionName: 'outer', fileName: 'src/ä.go', line: 40, inlined: false, address: 0x1000n }),
  frame({ functionName: 'main.main', fileName: 'main.go', line: 7, address: 0x2000n }),
];
/** Same frames as INLINED but `inlined` differs: must be a different stack. */
export const NOT_INLINED: Frame[] = INLINED.map((f) => ({ ...f, inlined: false }));
export const EMPTY_STACK: Frame[] = [];

const podA: Array<[string, string]> = [
  ['namespace', 'prod'],
  ['pod', 'api-7f9c'],
];
const podB: Array<[string, string]> = [
  ['namespace', 'prod'],
  ['pod', 'wörker-😀'],
];
/** Only some series carry `region`, so labels.region has nulls. */
const withRegion: Array<[string, string]> = [
  ['namespace', 'staging'],
  ['region', 'eu-west-1'],
];
const noLabels: Array<[string, string]> = [];

const T0 = 1_700_000_000_000;

export function mixedBatches(): SampleBatch[] {
  const b1 = batchOf([
    { pt: CPU, labels: podA, stack: NATIVE, value: 5, ts: T0 + 10 },
    { pt: CPU, labels: podA, stack: INLINED, value: 3, ts: T0 + 10 },
    { pt: CPU, labels: podB, stack: NATIVE, value: 2, ts: T0 },
    { pt: CPU, labels: podA, stack: NATIVE, value: 4, ts: T0 + 10 }, // same key in one batch: summed
    { pt: GO_CPU, labels: withRegion, stack: NOT_INLINED, value: 10_000_000, ts: T0 + 5, dur: 10_000_000_000, period: 10_000_000 },
    { pt: CPU, labels: podB, stack: INLINED, value: 0, ts: T0 + 20 }, // zero: dropped
  ]);
  // Second batch: its own dictionaries in another order, a stack equal by content (not identity).
  const b2 = batchOf([
    { pt: ALLOC, labels: noLabels, stack: EMPTY_STACK, value: 2 ** 40, ts: T0 + 30, dur: 0, period: 524288 },
    { pt: CPU, labels: podA, stack: NATIVE.map((f) => ({ ...f })), value: 1, ts: T0 + 10 }, // merges with b1 rows
    { pt: CPU, labels: withRegion, stack: INLINED.map((f) => ({ ...f })), value: 7, ts: T0 - 5 },
    { pt: GO_CPU, labels: withRegion, stack: NOT_INLINED, value: 20_000_000, ts: T0 + 6 },
    // Interleaved timestamps and stacks in one series: only a (timestamp, stack) sort orders these.
    { pt: CPU, labels: podA, stack: INLINED, value: 1, ts: T0 + 1 },
    { pt: CPU, labels: podA, stack: INLINED, value: 1, ts: T0 + 40 },
    { pt: CPU, labels: podA, stack: NATIVE, value: 1, ts: T0 + 1 },
  ]);
  return [b1, b2];
}

/** Totals straight from the input batches, keyed like totalsBySeriesAndStack. */
export function expectedTotals(batches: readonly SampleBatch[]): Map<string, number> {
  const totals = new Map<string, number>();
  for (const b of batches) {
    for (let i = 0; i < b.length; i++) {
      const key = `${b.profileTypes[b.profileType[i]]}|${seriesKeyOf(b.series[b.seriesIdx[i]])}|${stackKey(b.stacks[b.stack[i]])}`;
      totals.set(key, (totals.get(key) ?? 0) + b.value[i]);
    }
  }
  for (const [k, v] of totals) if (v === 0) totals.delete(k);
  return totals;
}

/** Span profiles: one (type, series, stack, timestamp) in span A (3), span B (2) and no span (1), plus A again (4) a second later. */
export function spanBatch(): SampleBatch {
  const b = new SampleBatchBuilder();
  const stack = [{ buildId: '', mappingFile: '', address: 0n, functionName: 'work', fileName: '', line: 0, inlined: false }];
  b.add(CPU, [['pod', 'p1']], stack, 3, 1_700_000_000_000, 0, 0, '00000000000000aa');
  b.add(CPU, [['pod', 'p1']], stack, 2, 1_700_000_000_000, 0, 0, 'b0b0b0b0b0b0b0b0');
  b.add(CPU, [['pod', 'p1']], stack, 1, 1_700_000_000_000, 0, 0);
  b.add(CPU, [['pod', 'p1']], stack, 4, 1_700_000_001_000, 0, 0, '00000000000000aa');
  return b.build();
}
