// Demangler evaluation: binutils' c++filt in batch mode (what @firn/demangle runs) against the
// in-process WASM build of cpp_demangle + rustc-demangle (npm gecko-profiler-demangle, a
// devDependency kept only for this comparison). Corpus: the mangled function names of Node's own
// binary, libstdc++ and, when present, Rust toolchain libraries (v0 names). Prints coverage,
// agreement and cost (wall time and CPU, c++filt's own CPU included) as a table and JSON.
//
//   node scripts/run-ts.cjs bench/demangle/demangle.bench.ts [--batch 5000] [--extra FILE...]
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createDemangler, isMangled } from '@firn/demangle';

const { values: args } = parseArgs({
  options: { batch: { type: 'string', default: '5000' }, extra: { type: 'string', multiple: true, default: [] } },
  strict: true,
});
const BATCH = Number(args.batch);

function namesOf(file: string, dynamic: boolean): string[] {
  try {
    const out = execFileSync('nm', [...(dynamic ? ['-D'] : []), '--defined-only', file], {
      encoding: 'utf8',
      maxBuffer: 1 << 30,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return out
      .split('\n')
      .map((l) => (l.split(' ')[2] ?? '').replace(/@.*$/, '')) // drop symbol versions (@@GLIBCXX_3.4)
      .filter(isMangled);
  } catch {
    return [];
  }
}

function rustLibs(): string[] {
  const root = join(process.env.HOME ?? '/root', '.rustup', 'toolchains');
  if (!existsSync(root)) return [];
  const out: string[] = [];
  for (const tc of readdirSync(root)) {
    const lib = join(root, tc, 'lib');
    if (existsSync(lib)) for (const f of readdirSync(lib)) if (/^librustc_driver.*\.so$/.test(f)) out.push(join(lib, f));
  }
  return out.slice(0, 1);
}

/** utime+stime of this process's reaped children (c++filt), in ms, from /proc/self/stat. */
function childrenCpuMs(): number {
  const f = readFileSync('/proc/self/stat', 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  const tick = 100; // USER_HZ
  return ((Number(rest[13]) + Number(rest[14])) * 1000) / tick;
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

interface Wasm {
  demangle(name: string): string;
}

/** The bits of the WebAssembly global used here (the project's TS libs do not declare it). */
interface WasmTable {
  grow(n: number): number;
  set(i: number, v: unknown): void;
}
interface WasmApi {
  instantiate(bytes: Uint8Array, imports: object): Promise<{ instance: { exports: Record<string, unknown> } }>;
}
const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

async function wasmDemangler(): Promise<Wasm | undefined> {
  let path: string;
  try {
    path = require.resolve('gecko-profiler-demangle/index_bg.wasm');
  } catch {
    return undefined;
  }
  let exports: Record<string, unknown> = {};
  const imports = {
    './index_bg.js': {
      __wbindgen_init_externref_table: (): void => {
        const table = exports.__wbindgen_export_0 as WasmTable;
        const offset = table.grow(4);
        table.set(0, undefined);
        table.set(offset, undefined);
        table.set(offset + 1, null);
        table.set(offset + 2, true);
        table.set(offset + 3, false);
      },
    },
  };
  const { instance } = await WA.instantiate(readFileSync(path), imports);
  exports = instance.exports;
  (exports.__wbindgen_start as () => void)();
  const memory = exports.memory as { buffer: ArrayBuffer };
  const malloc = exports.__wbindgen_malloc as (n: number, a: number) => number;
  const free = exports.__wbindgen_free as (p: number, n: number, a: number) => void;
  const demangleAny = exports.demangle_any as (p: number, n: number) => [number, number];
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  return {
    demangle(name: string): string {
      const b = enc.encode(name);
      const p = malloc(b.length, 1) >>> 0;
      new Uint8Array(memory.buffer, p, b.length).set(b);
      const [op, ol] = demangleAny(p, b.length);
      const out = dec.decode(new Uint8Array(memory.buffer, op >>> 0, ol >>> 0));
      free(op, ol, 1);
      return out === name.slice(1) ? name : out;
    },
  };
}

async function main(): Promise<void> {
  const node = execFileSync('readlink', ['-f', process.execPath], { encoding: 'utf8' }).trim();
  const sources: Array<[string, string[]]> = [
    [node, namesOf(node, false)],
    ['/usr/lib/x86_64-linux-gnu/libstdc++.so.6', namesOf('/usr/lib/x86_64-linux-gnu/libstdc++.so.6', true)],
    ...rustLibs().map((f): [string, string[]] => [f, namesOf(f, true)]),
    ...(args.extra ?? []).map((f): [string, string[]] => [f, [...namesOf(f, false), ...namesOf(f, true)]]),
  ];
  const names = [...new Set(sources.flatMap(([, n]) => n))];
  console.log(`corpus: ${names.length} distinct mangled names (${sources.map(([f, n]) => `${f.split('/').pop()}: ${n.length}`).join(', ')})`);

  // c++filt, as @firn/demangle runs it: one process, batches of BATCH (a query's new names).
  const d = createDemangler({ cacheSize: 0, timeoutMs: 120_000 });
  const c0 = cpuMs();
  const k0 = childrenCpuMs();
  const t0 = performance.now();
  const viaCxx: string[] = [];
  for (let i = 0; i < names.length; i += BATCH) viaCxx.push(...(await d.demangleAll(names.slice(i, i + BATCH))));
  const cxxWall = performance.now() - t0;
  const cxxNodeCpu = cpuMs() - c0;
  d.close();
  await new Promise((r) => setTimeout(r, 200)); // let the killed child be reaped
  const cxxChildCpu = childrenCpuMs() - k0;

  const wasm = await wasmDemangler();
  let viaWasm: string[] = [];
  let wasmWall = NaN;
  let wasmCpu = NaN;
  if (wasm) {
    const w0 = cpuMs();
    const t1 = performance.now();
    viaWasm = names.map((n) => wasm.demangle(n));
    wasmWall = performance.now() - t1;
    wasmCpu = cpuMs() - w0;
  }

  const readCxx = viaCxx.filter((x, i) => x !== names[i]).length;
  const readWasm = viaWasm.filter((x, i) => x !== names[i]).length;
  const same = viaWasm.filter((x, i) => x === viaCxx[i]).length;
  const rows = [
    ['c++filt (batch, @firn/demangle)', readCxx, cxxWall, cxxNodeCpu + cxxChildCpu],
    ['gecko-profiler-demangle (WASM)', readWasm, wasmWall, wasmCpu],
  ] as const;
  console.log('\n| demangler | names read | unread | wall ms | CPU ms (incl. child) | names/s (wall) | µs CPU/name |');
  console.log('|---|---|---|---|---|---|---|');
  for (const [label, read, wall, cpu] of rows) {
    console.log(
      `| ${label} | ${read} | ${names.length - read} (${((100 * (names.length - read)) / names.length).toFixed(2)} %) | ${wall.toFixed(0)} | ${cpu.toFixed(0)} | ${Math.round((names.length / wall) * 1000)} | ${((cpu * 1000) / names.length).toFixed(1)} |`,
    );
  }
  console.log(`\nidentical output for ${same} of ${names.length} names (${((100 * same) / names.length).toFixed(1)} %)`);
  console.log(
    JSON.stringify({
      names: names.length,
      batch: BATCH,
      cxxfilt: { read: readCxx, wallMs: cxxWall, cpuMs: cxxNodeCpu + cxxChildCpu },
      wasm: { read: readWasm, wallMs: wasmWall, cpuMs: wasmCpu },
      identical: same,
    }),
  );
}

void main();
