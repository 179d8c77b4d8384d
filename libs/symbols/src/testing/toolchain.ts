// Test support: compiles small programs in temp dirs and reads them with GNU binutils, an
// implementation independent of the code under test (elfutils + our ELF parser).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

export function sh(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): string {
  return execFileSync(cmd, args, { cwd: opts.cwd, env: opts.env, input: opts.input, encoding: 'utf8', maxBuffer: 256 << 20, stdio: ['pipe', 'pipe', 'pipe'] });
}

export function hasTool(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export class TempDir {
  readonly path = mkdtempSync(join(tmpdir(), 'firn-symbols-'));
  file(name: string, text: string): string {
    const p = join(this.path, name);
    writeFileSync(p, text);
    return p;
  }
  at(name: string): string {
    return join(this.path, name);
  }
  remove(): void {
    rmSync(this.path, { recursive: true, force: true });
  }
}

export interface ReadelfLoad {
  offset: bigint;
  vaddr: bigint;
  filesz: bigint;
  exec: boolean;
}

/** PT_LOADs as `readelf -lW` prints them. */
export function readelfLoads(bin: string): ReadelfLoad[] {
  const out: ReadelfLoad[] = [];
  for (const line of sh('readelf', ['-lW', bin]).split('\n')) {
    const m = /^\s*LOAD\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+0x[0-9a-f]+\s+(0x[0-9a-f]+)\s+0x[0-9a-f]+\s+(.+?)\s+0x[0-9a-f]+$/.exec(line);
    if (m) out.push({ offset: BigInt(m[1]), vaddr: BigInt(m[2]), filesz: BigInt(m[3]), exec: m[4].includes('E') });
  }
  return out;
}

/** The inverse of the symbolizer's conversion, computed from readelf's view of the segments. */
export function vaddrToFileOffset(loads: ReadelfLoad[], vaddr: bigint): bigint {
  const l = loads.find((x) => x.exec && vaddr >= x.vaddr && vaddr < x.vaddr + x.filesz);
  if (!l) throw new Error(`vaddr 0x${vaddr.toString(16)} is in no executable PT_LOAD`);
  return vaddr - l.vaddr + l.offset;
}

export interface NmSymbol {
  address: bigint;
  size: bigint;
  name: string;
}

/** Defined text symbols from `nm -S` (raw names, or demangled with `demangle`). */
export function nmFunctions(bin: string, demangle = false, dynamic = false): NmSymbol[] {
  const args = ['-S', '--defined-only', ...(demangle ? ['-C'] : []), ...(dynamic ? ['-D'] : []), bin];
  const out: NmSymbol[] = [];
  for (const line of sh('nm', args).split('\n')) {
    const m = /^([0-9a-f]+) ([0-9a-f]+) [tTwW] (.+)$/.exec(line);
    if (m) out.push({ address: BigInt('0x' + m[1]), size: BigInt('0x' + m[2]), name: m[3] });
  }
  return out;
}

export function nmFunction(bin: string, match: (name: string) => boolean, demangle = false): NmSymbol {
  const s = nmFunctions(bin, demangle).find((x) => match(x.name));
  if (!s) throw new Error(`no matching function symbol in ${basename(bin)}`);
  return s;
}

export interface RefFrame {
  functionName: string;
  fileName: string;
  line: number;
}

/** GNU binutils `addr2line -f -i` (raw names) for each address, innermost frame first. */
export function binutilsAddr2line(bin: string, vaddrs: bigint[]): RefFrame[][] {
  return referenceAddr2line('addr2line', bin, vaddrs);
}

/** elfutils `eu-addr2line -f -i`, read the same way (columns and "inlined at" dropped). */
export function elfutilsAddr2line(bin: string, vaddrs: bigint[]): RefFrame[][] {
  return referenceAddr2line('eu-addr2line', bin, vaddrs);
}

function referenceAddr2line(tool: string, bin: string, vaddrs: bigint[]): RefFrame[][] {
  let out: string;
  try {
    out = sh(tool, ['-e', bin, '-a', '-f', '-i'], { input: vaddrs.map((v) => '0x' + v.toString(16)).join('\n') + '\n' });
  } catch (err) {
    // elfutils exits 1 when some address is unknown but still prints every answer.
    const e = err as { stdout?: string };
    if (typeof e.stdout !== 'string' || e.stdout === '') throw err;
    out = e.stdout;
  }
  const lines = out.split('\n');
  const res: RefFrame[][] = [];
  let cur: RefFrame[] | undefined;
  for (let i = 0; i < lines.length; i++) {
    if (/^0x[0-9a-f]+$/.test(lines[i])) {
      cur = [];
      res.push(cur);
      continue;
    }
    if (!cur || lines[i] === '') continue;
    const loc = lines[++i] ?? '';
    const m = /^(.*?):(\d+|\?)(?::\d+)?(?: \(discriminator \d+\))?$/.exec(loc);
    const fn = lines[i - 1] === '??' ? '' : lines[i - 1].replace(/ inlined at .*$/, '').replace(/::h[0-9a-f]{16}$/, '');
    cur.push({ functionName: fn, fileName: m && m[1] !== '??' ? m[1] : '', line: m && m[2] !== '?' ? Number(m[2]) : 0 });
  }
  return res.map((f) => (f.every((x) => x.functionName === '' && x.fileName === '') ? [] : f));
}
