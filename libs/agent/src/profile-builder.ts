import type { Frame, SampleBatch } from '@firn/profiles';
import { SampleBatchBuilder } from '@firn/profiles';
import type { RawSample } from './bpf/sampler';
import type { LabelResolver } from './labels/label-resolver';
import type { ProcessTable } from './proc/process-table';
import type { KernelNames } from './symbols/kernel-names';
import { frameKindOf, type FrameKind } from './symbols/local-symbols';

export const CPU_PROFILE_TYPE = 'parca_agent:samples:count:cpu:nanoseconds:delta';

export interface WindowInfo {
  startMs: number;
  endMs: number;
  frequencyHz: number;
}

export interface BuildDeps {
  processes: ProcessTable;
  labels: LabelResolver;
  kernel: KernelNames | undefined;
}

export interface BuiltProfile {
  batch: SampleBatch;
  samples: number;
  /** Samples whose process a relabel rule dropped. */
  droppedByRelabel: number;
  /**
   * Sampled frames (each frame once per sample it is in) by kind and outcome (`named`, or why
   * not): the naming coverage of this window.
   */
  coverage: Map<`${FrameKind}|${string}`, number>;
}

/**
 * Turns one drained window into a SampleBatch: kernel frames (named from kallsyms) on top of user
 * frames (file offsets + build ids, JIT names), leaf first, one series per process after relabeling.
 */
export async function buildProfile(raw: readonly RawSample[], window: WindowInfo, deps: BuildDeps): Promise<BuiltProfile> {
  deps.processes.refresh(new Set(raw.map((r) => r.pid)));
  const b = new SampleBatchBuilder();
  const pt = b.addProfileType(CPU_PROFILE_TYPE);
  const periodNs = Math.round(1e9 / window.frequencyHz);
  const durationNs = Math.max(0, window.endMs - window.startMs) * 1e6;
  const kernelFrames = new Map<bigint, Frame>();
  let samples = 0;
  let droppedByRelabel = 0;
  const coverage: BuiltProfile['coverage'] = new Map();
  for (const r of raw) {
    const labels = deps.labels.labelsFor(r.pid, r.comm, deps.processes.get(r.pid));
    if (!labels) {
      droppedByRelabel += r.count;
      continue;
    }
    const frames: Frame[] = [];
    for (const addr of r.kernelStack) {
      let f = kernelFrames.get(addr);
      if (!f) {
        f = {
          buildId: '',
          mappingFile: '[kernel.kallsyms]',
          address: addr,
          functionName: deps.kernel?.lookup(addr) ?? '',
          fileName: '',
          line: 0,
          inlined: false,
        };
        kernelFrames.set(addr, f);
      }
      frames.push(f);
    }
    frames.push(...(await deps.processes.userFrames(r.pid, r.userStack)));
    if (frames.length === 0) continue;
    b.addRow(pt, b.addSeries(labels), b.addStack(frames), r.count, window.startMs, durationNs, periodNs);
    samples += r.count;
    for (const f of frames) {
      // Inlined Go frames share their physical frame's address: count each address once.
      if (f.inlined) continue;
      const k = frameKindOf(f);
      const key = `${k.kind}|${f.functionName ? 'named' : (k.reason ?? 'unknown')}` as const;
      coverage.set(key, (coverage.get(key) ?? 0) + r.count);
    }
  }
  return { batch: b.build(), samples, droppedByRelabel, coverage };
}
