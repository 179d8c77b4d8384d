import type { SourceLocation } from '@firn/symbols';
import { GAP, type BinarySamples } from './binary-samples';

/** Resolved inline chains of a binary's addresses (innermost function first). */
export interface ResolvedBinary {
  /** Addresses that were the sampled instruction. */
  at: ReadonlyMap<bigint, readonly SourceLocation[]>;
  /** Return addresses, resolved inside the call instruction. */
  returns: ReadonlyMap<bigint, readonly SourceLocation[]>;
}

export interface LlvmProfileStats {
  /** Top-level functions written. */
  functions: number;
  /** Samples written as body samples (sum of every function's body counts). */
  samples: number;
  /** Samples whose instruction had no function or no line in the debug info (left out). */
  unresolvedSamples: number;
}

/** `(line - function start line) & 0xffff` and the base discriminator: LLVM's `LineLocation`. */
interface Loc {
  offset: number;
  discriminator: number;
}

class FunctionSamples {
  total = 0;
  head = 0;
  readonly body = new Map<string, { loc: Loc; samples: number; calls: Map<string, number> }>();
  readonly callsites = new Map<string, { loc: Loc; callees: Map<string, FunctionSamples> }>();

  constructor(readonly name: string) {}

  bodyAt(loc: Loc): { loc: Loc; samples: number; calls: Map<string, number> } {
    const k = locKey(loc);
    let b = this.body.get(k);
    if (!b) {
      b = { loc, samples: 0, calls: new Map() };
      this.body.set(k, b);
    }
    return b;
  }

  inlined(loc: Loc, callee: string): FunctionSamples {
    const k = locKey(loc);
    let c = this.callsites.get(k);
    if (!c) {
      c = { loc, callees: new Map() };
      this.callsites.set(k, c);
    }
    let f = c.callees.get(callee);
    if (!f) {
      f = new FunctionSamples(callee);
      c.callees.set(callee, f);
    }
    return f;
  }

  /** Largest body count of this function (in this context). */
  maxBody(): number {
    let m = 0;
    for (const b of this.body.values()) m = Math.max(m, b.samples);
    return m;
  }
}

const locKey = (l: Loc): string => `${l.offset}.${l.discriminator}`;

/**
 * The base discriminator of a raw DWARF discriminator, as LLVM 14 reads it when it matches a
 * profile (`DILocation::getBaseDiscriminatorFromDiscriminator` → prefix encoding): the low bit
 * set means 0; otherwise 5 bits, or 11 bits when bit 6 says the value continues.
 */
export function baseDiscriminator(raw: number): number {
  if ((raw & 1) !== 0) return 0;
  const u = raw >>> 1;
  return (u & 0x20) !== 0 ? ((u >>> 1) & 0xfe0) | (u & 0x1f) : u & 0x1f;
}

function locOf(l: SourceLocation): Loc | undefined {
  if (l.line === 0 || l.functionName === '') return undefined;
  // LLVM's FunctionSamples::getOffset: 16 bits of line - DISubprogram line.
  return { offset: (l.line - l.startLine) & 0xffff, discriminator: baseDiscriminator(l.discriminator) };
}

/**
 * Builds an LLVM sample profile (the text format `clang -fprofile-sample-use` and
 * `llvm-profdata` read; see clang's UsersManual "Sample Profile Text Format") from the sampled
 * instructions of one binary:
 *
 * - body samples: each sample's interrupted instruction, at its line offset from the start line
 *   of its function and its base discriminator; an instruction in inlined code lands in the
 *   inlined callee's profile nested under the caller's call site (`offset: callee:total`), as
 *   the DWARF inline chain says, so the compiler can replay the fleet binary's inlining;
 * - call targets: for a frame calling another function of the binary (from the stack), the
 *   callee name on the caller's call line, when that line has body samples of its own (a target
 *   on a line with no samples would tell the compiler the call's block is cold);
 * - head samples: LLVM 14 makes `head + 1` the function's entry count; without branch records
 *   the number of calls is unknown, so the estimate is the function's largest body count (what
 *   later LLVM releases do themselves for profiles without head samples,
 *   `getHeadSamplesEstimate`).
 *
 * Counts are sample counts (19 Hz samples per CPU by default), which is what the format holds.
 */
export function buildLlvmSampleProfile(b: BinarySamples, r: ResolvedBinary): { text: string; stats: LlvmProfileStats } {
  const top = new Map<string, FunctionSamples>();
  const topOf = (name: string): FunctionSamples => {
    let f = top.get(name);
    if (!f) {
      f = new FunctionSamples(name);
      top.set(name, f);
    }
    return f;
  };
  let unresolved = 0;
  let samples = 0;
  const callEdges: Array<{ chain: readonly SourceLocation[]; callee: string; count: number }> = [];

  for (const s of b.stacks) {
    if (s.leaf) {
      const chain = r.at.get(s.addresses[0]) ?? [];
      if (addBody(chain, s.count, topOf)) samples += s.count;
      else unresolved += s.count;
    }
    // Caller → callee pairs of neighbouring frames of the binary.
    for (let i = 1; i < s.addresses.length; i++) {
      const callee = s.addresses[i - 1];
      const caller = s.addresses[i];
      if (callee === GAP || caller === GAP) continue;
      const calleeChain = (i - 1 === 0 && s.leaf ? r.at : r.returns).get(callee) ?? [];
      const calleeName = calleeChain[calleeChain.length - 1]?.functionName;
      const callerChain = r.returns.get(caller) ?? [];
      if (calleeName && callerChain.length > 0) callEdges.push({ chain: callerChain, callee: calleeName, count: s.count });
    }
  }

  // Call targets go in after every body sample is in place (they need to know the line's samples).
  const heads = new Map<string, number>();
  for (const e of callEdges) {
    heads.set(e.callee, (heads.get(e.callee) ?? 0) + e.count);
    const node = nodeFor(e.chain, topOf, false);
    if (!node) continue;
    const body = node.fn.body.get(locKey(node.loc));
    if (body && body.samples > 0) body.calls.set(e.callee, (body.calls.get(e.callee) ?? 0) + e.count);
  }

  for (const f of top.values()) f.head = f.maxBody() > 0 ? f.maxBody() : Math.min(heads.get(f.name) ?? 0, f.total);
  const order = [...top.values()].filter((f) => f.total > 0).sort((a, b) => b.total - a.total || (a.name < b.name ? -1 : 1));
  const lines: string[] = [];
  for (const f of order) {
    lines.push(`${f.name}:${f.total}:${f.head}`);
    writeBody(f, 1, lines);
  }
  return { text: lines.length ? lines.join('\n') + '\n' : '', stats: { functions: order.length, samples, unresolvedSamples: unresolved } };
}

/**
 * The profile node of the innermost function of `chain` and its location there, creating the
 * nested inline contexts on the way (outermost function first). Totals grow by `count` along
 * the path when `count` is given.
 */
function nodeFor(
  chain: readonly SourceLocation[],
  topOf: (name: string) => FunctionSamples,
  add: number | false,
): { fn: FunctionSamples; loc: Loc } | undefined {
  if (chain.length === 0) return undefined;
  const locs = chain.map(locOf);
  if (locs.some((l) => l === undefined)) return undefined;
  let fn = topOf(chain[chain.length - 1].functionName);
  if (add !== false) fn.total += add;
  for (let i = chain.length - 1; i > 0; i--) {
    fn = fn.inlined(locs[i] as Loc, chain[i - 1].functionName);
    if (add !== false) fn.total += add;
  }
  return { fn, loc: locs[0] as Loc };
}

function addBody(chain: readonly SourceLocation[], count: number, topOf: (name: string) => FunctionSamples): boolean {
  const locs = chain.map(locOf);
  if (chain.length === 0 || locs.some((l) => l === undefined)) return false;
  const node = nodeFor(chain, topOf, count);
  if (!node) return false;
  node.fn.bodyAt(node.loc).samples += count;
  return true;
}

function compareLoc(a: Loc, b: Loc): number {
  return a.offset - b.offset || a.discriminator - b.discriminator;
}

function locText(l: Loc): string {
  return l.discriminator ? `${l.offset}.${l.discriminator}` : `${l.offset}`;
}

function writeBody(f: FunctionSamples, depth: number, out: string[]): void {
  const pad = ' '.repeat(depth);
  const rows: Array<{ loc: Loc; text: () => void }> = [];
  for (const b of f.body.values()) {
    rows.push({
      loc: b.loc,
      text: () => {
        const targets = [...b.calls].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1)).map(([n, c]) => ` ${n}:${c}`);
        out.push(`${pad}${locText(b.loc)}: ${b.samples}${targets.join('')}`);
      },
    });
  }
  for (const c of f.callsites.values()) {
    rows.push({
      loc: c.loc,
      text: () => {
        for (const callee of [...c.callees.values()].sort((x, y) => y.total - x.total || (x.name < y.name ? -1 : 1))) {
          out.push(`${pad}${locText(c.loc)}: ${callee.name}:${callee.total}`);
          writeBody(callee, depth + 1, out);
        }
      },
    });
  }
  rows.sort((a, b) => compareLoc(a.loc, b.loc));
  for (const r of rows) r.text();
}
