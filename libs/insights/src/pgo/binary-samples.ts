import { FirnError } from '@firn/errors';
import type { Frame } from '@firn/profiles';
import type { PeriodGroup } from '../cost/cost-report';
import { cpuOf, type CpuValueKind } from '../cpu-time';

/**
 * The samples of one binary, cut out of a merged fleet profile: every stack keeps only the
 * frames of that binary (leaf first), as file offsets. `leaf` tells whether a stack's first
 * kept frame was the sampled instruction itself (the stack's own leaf) or a return address
 * (the binary called into another object, e.g. libc, and the sample landed there).
 */
export interface BinarySamples {
  buildId: string;
  /** Mapping file of the binary as the agent saw it (most common one). */
  mappingFile: string;
  stacks: BinaryStack[];
  /** Samples of the selection (all binaries), and how many of them had a frame of this one. */
  totalSamples: number;
  binarySamples: number;
}

/**
 * One distinct stack of the binary, leaf first. `addresses[i] === GAP` stands for frames of
 * other objects (libc, the kernel is never counted) between two frames of the binary, so a
 * caller/callee pair is only read from neighbours.
 */
export interface BinaryStack {
  addresses: bigint[];
  /** addresses[0] is the interrupted instruction (not a return address). */
  leaf: boolean;
  /** Samples. */
  count: number;
  /** CPU time of those samples (count × sampling period). */
  cpuNs: bigint;
}

/** Marks frames of other objects between two frames of the binary. */
export const GAP = -1n;

/** How a binary is chosen: an exact build id, or an executable name (file name or path). */
export interface BinaryChoice {
  buildId?: string;
  executable?: string;
}

/** The mapping the agent gives kernel frames (named from kallsyms). */
const KERNEL_MAPPING = '[kernel.kallsyms]';

function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

function matchesExecutable(f: Frame, executable: string): boolean {
  return executable.includes('/') ? f.mappingFile === executable : baseName(f.mappingFile) === executable;
}

/**
 * Picks the binary: the build id if given (lowercase hex), else the build id with the most
 * samples among frames whose mapping file matches `executable`. NOT_FOUND-style
 * invalid_argument when nothing in the profile matches, naming what was looked for.
 */
export function chooseBuildId(cells: readonly PeriodGroup[], choice: BinaryChoice): string {
  if (choice.buildId) {
    const id = choice.buildId.toLowerCase();
    if (!/^[0-9a-f]{2,128}$/.test(id)) throw FirnError.invalidArgument(`build_id must be hex, got ${JSON.stringify(choice.buildId)}`);
    return id;
  }
  const exe = choice.executable?.trim();
  if (!exe) throw FirnError.invalidArgument('choose the binary: build_id or executable is required');
  const weight = new Map<string, number>();
  for (const { profile: p } of cells) {
    for (let s = 0; s < p.stacks.length; s++) {
      const seen = new Set<string>();
      for (const f of p.stacks[s]) {
        if (f.buildId === '' || seen.has(f.buildId) || !matchesExecutable(f, exe)) continue;
        seen.add(f.buildId);
        weight.set(f.buildId, (weight.get(f.buildId) ?? 0) + p.values[s]);
      }
    }
  }
  let best = '';
  let bestWeight = -1;
  for (const [id, w] of weight) {
    if (w > bestWeight || (w === bestWeight && id < best)) {
      best = id;
      bestWeight = w;
    }
  }
  if (!best) throw FirnError.invalidArgument(`no frames of an executable named ${JSON.stringify(exe)} with a build id in the selection`);
  return best;
}

/**
 * The stacks of a merged selection (one cell per sampling period) restricted to frames of
 * `buildId` with an address (unsymbolized frames as the agent sends them, or symbolized ones that
 * kept their address). Identical restricted stacks are summed; stacks without any frame of the
 * binary are dropped.
 */
export function binarySamples(cells: readonly PeriodGroup[], buildId: string, kind: CpuValueKind): BinarySamples {
  const byKey = new Map<string, BinaryStack>();
  const files = new Map<string, number>();
  let total = 0;
  let inBinary = 0;
  for (const { profile: p, periodNs } of cells) {
    for (let s = 0; s < p.stacks.length; s++) {
      if (!(p.values[s] > 0)) continue;
      const cpu = cpuOf(kind, p.values[s], periodNs);
      const v = Number(cpu.samples);
      if (v === 0) continue;
      total += v;
      const stack = p.stacks[s];
      const addresses: bigint[] = [];
      let leaf = false;
      // Kernel frames come first; the first user frame is the interrupted instruction itself,
      // every later one a return address.
      let firstUser = true;
      for (let i = 0; i < stack.length; i++) {
        const f = stack[i];
        if (f.mappingFile === KERNEL_MAPPING) continue;
        const isLeaf = firstUser;
        firstUser = false;
        if (f.buildId !== buildId || f.address === 0n) {
          if (addresses.length > 0 && addresses[addresses.length - 1] !== GAP) addresses.push(GAP);
          continue;
        }
        // A symbolized inline chain repeats its address once per function: keep it once.
        if (i > 0 && stack[i - 1].inlined && stack[i - 1].address === f.address) continue;
        if (addresses.length === 0) leaf = isLeaf;
        addresses.push(f.address);
        files.set(f.mappingFile, (files.get(f.mappingFile) ?? 0) + v);
      }
      if (addresses[addresses.length - 1] === GAP) addresses.pop();
      if (addresses.length === 0) continue;
      inBinary += v;
      const key = `${leaf ? 'L' : 'C'}${addresses.join(',')}`;
      const e = byKey.get(key);
      if (e) {
        e.count += v;
        e.cpuNs += cpu.cpuNs;
      } else byKey.set(key, { addresses, leaf, count: v, cpuNs: cpu.cpuNs });
    }
  }
  let mappingFile = '';
  let best = -1;
  for (const [f, w] of files) {
    if (w > best) {
      mappingFile = f;
      best = w;
    }
  }
  return { buildId, mappingFile, stacks: [...byKey.values()], totalSamples: total, binarySamples: inBinary };
}

/** Every distinct address of the binary, with whether it is ever a return address (needs `- 1`). */
export function addressesOf(b: BinarySamples): { leaves: bigint[]; returns: bigint[] } {
  const leaves = new Set<bigint>();
  const returns = new Set<bigint>();
  for (const s of b.stacks) {
    s.addresses.forEach((a, i) => {
      if (a !== GAP) (i === 0 && s.leaf ? leaves : returns).add(a);
    });
  }
  return { leaves: [...leaves], returns: [...returns] };
}
