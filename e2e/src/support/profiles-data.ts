import { SampleBatchBuilder, stackKey, type Frame, type SampleBatch } from '@firn/profiles';
import { seriesKeyOf } from '@firn/segments';
import { mulberry32 } from '@firn/testing';

export const CPU_TYPE = 'parca_agent:samples:count:cpu:nanoseconds:delta';

const BINARIES = ['/usr/bin/app', '/usr/lib/libc.so.6', '/usr/lib/libssl.so.3'];

/** A pool of stacks sharing prefixes, some symbolized, some address-only (as from the agent). */
export function stackPool(seed: number, n: number): Frame[][] {
  const rnd = mulberry32(seed);
  const pool: Frame[][] = [];
  for (let i = 0; i < n; i++) {
    const depth = 3 + Math.floor(rnd() * 12);
    const frames: Frame[] = [];
    for (let d = 0; d < depth; d++) {
      const bin = BINARIES[Math.floor(rnd() * BINARIES.length)];
      const fn = Math.floor(rnd() * 40);
      const symbolized = fn % 3 !== 0;
      frames.push({
        buildId: (bin.length * 0x1111 + 0xabc).toString(16).padStart(8, '0') + 'deadbeef',
        mappingFile: bin,
        address: BigInt(0x1000 + fn * 0x40),
        functionName: symbolized ? `fn_${fn}` : '',
        fileName: symbolized ? `src/f${fn % 7}.c` : '',
        line: symbolized ? 10 + fn : 0,
        inlined: false,
      });
    }
    pool.push(frames);
  }
  return pool;
}

export interface AgentWrite {
  batch: SampleBatch;
  /** `${profileType}|${seriesKey}|${stackKey}` → value, as the segment reader reports totals. */
  totals: Map<string, number>;
}

/** One agent's 10 s flush: a few dozen (stack → count) rows for one series. */
export function agentWrite(opts: { seed: number; pool: Frame[][]; node: string; round: number; baseMs: number }): AgentWrite {
  const rnd = mulberry32(opts.seed);
  const b = new SampleBatchBuilder();
  const pt = b.addProfileType(CPU_TYPE);
  const series = b.addSeries([
    ['node', opts.node],
    ['comm', 'app'],
    ['namespace', `ns-${opts.seed % 3}`],
  ]);
  const ts = opts.baseMs + opts.round * 10_000;
  for (let i = 0; i < 30; i++) {
    const stack = b.addStack(opts.pool[Math.floor(rnd() * opts.pool.length)]);
    b.addRow(pt, series, stack, 1 + Math.floor(rnd() * 19), ts, 10_000_000_000, 52_631_578);
  }
  const batch = b.build();
  return { batch, totals: totalsOf(batch) };
}

export function totalsOf(batch: SampleBatch): Map<string, number> {
  const out = new Map<string, number>();
  for (let i = 0; i < batch.length; i++) {
    const key = `${batch.profileTypes[batch.profileType[i]]}|${seriesKeyOf(batch.series[batch.seriesIdx[i]])}|${stackKey(batch.stacks[batch.stack[i]])}`;
    out.set(key, (out.get(key) ?? 0) + batch.value[i]);
  }
  return out;
}

export function addTotals(into: Map<string, number>, more: Map<string, number>): void {
  for (const [k, v] of more) into.set(k, (into.get(k) ?? 0) + v);
}
