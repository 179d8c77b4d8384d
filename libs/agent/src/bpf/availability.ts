import { existsSync } from 'node:fs';
import { compileBpf } from './compile';
import { BpfSampler } from './sampler';

/**
 * Why BPF sampling cannot work here, or undefined when it can: not root, no BTF, or the kernel
 * refusing to load/attach (EPERM in a locked-down container). Tests skip on a reason.
 */
export async function bpfUnavailableReason(): Promise<string | undefined> {
  if (process.platform !== 'linux' || process.arch !== 'x64') return `needs Linux x86-64 (this is ${process.platform}/${process.arch})`;
  if (typeof process.geteuid === 'function' && process.geteuid() !== 0) return 'not running as root (the agent needs CAP_BPF and CAP_PERFMON)';
  if (!existsSync('/sys/kernel/btf/vmlinux')) return 'kernel has no BTF (/sys/kernel/btf/vmlinux missing)';
  try {
    const sampler = new BpfSampler({ objectPath: await compileBpf(), frequencyHz: 19, cpus: [0] });
    sampler.start();
    sampler.stop();
  } catch (err) {
    return `loading a BPF program failed: ${(err as Error).message}`;
  }
  return undefined;
}
