// Symbolizer benchmark: generates a C program whose split debug file is ~50 MB (or takes an
// existing unstripped ELF via --file), then measures the time of a first symbolize call (cold:
// elfutils indexes the DWARF) and the throughput of large batches. Prints a table and JSON.
//
//   node scripts/run-ts.cjs bench/symbols/symbolize.bench.ts [--functions 14000] [--tus 4]
//     [--addresses 20000] [--concurrency 2] [--max-batch 5000] [--file PATH] [--keep]
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { fileOffsetToVaddr, PF_X, readElfFile, readSymbolsFromFile, type ElfFile } from '@firn/elf';
import { createSymbolizer } from '@firn/symbols';

const run = promisify(execFile);

const { values: args } = parseArgs({
  options: {
    functions: { type: 'string', default: '14000' },
    tus: { type: 'string', default: '4' },
    addresses: { type: 'string', default: '20000' },
    concurrency: { type: 'string', default: '2' },
    'max-batch': { type: 'string', default: '5000' },
    file: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
  strict: true,
});

/** One struct of 40 members and 20 locals with an always_inline call each: DWARF-heavy. */
function functionSource(i: number): string {
  const members = Array.from({ length: 40 }, (_, j) => `  long m${j}_${i};`).join('\n');
  const body = Array.from({ length: 20 }, (_, j) => `  long v${j} = s.m${j}_${i} + x * ${j};\n  r += mix(v${j}, ${(j % 3) + 1});`).join('\n');
  return `struct S${i} {\n${members}\n};\n__attribute__((noinline)) long fn_${i}(long x) {\n  struct S${i} s = { x };\n  long r = 0;\n${body}\n  return r;\n}\n`;
}

const MIX = 'static inline __attribute__((always_inline)) long mix(long v, int k) {\n  for (int i = 0; i < k; i++) v = v * 31 + (v >> 3);\n  return v;\n}\n';

async function generate(dir: string, functions: number, tus: number): Promise<{ binary: string; debug: string; full: string }> {
  const per = Math.ceil(functions / tus);
  const objs: string[] = [];
  const jobs: Promise<unknown>[] = [];
  for (let t = 0; t < tus; t++) {
    const ids = Array.from({ length: Math.min(per, functions - t * per) }, (_, k) => t * per + k);
    const src = join(dir, `tu${t}.c`);
    writeFileSync(src, MIX + ids.map(functionSource).join(''));
    objs.push(join(dir, `tu${t}.o`));
    jobs.push(run('gcc', ['-O0', '-g', '-c', '-o', objs[t], src], { maxBuffer: 64 << 20 }));
  }
  const decls = Array.from({ length: functions }, (_, i) => `long fn_${i}(long);`).join('\n');
  const table = `long (*tab[])(long) = {${Array.from({ length: functions }, (_, i) => `fn_${i}`).join(',')}};`;
  writeFileSync(
    join(dir, 'main.c'),
    `#include <stdio.h>\n${decls}\n${table}\nint main(int argc, char **argv) { (void)argv; long t = 0; for (int i = 0; i < ${functions}; i++) t += tab[i](argc); printf("%ld\\n", t); return 0; }\n`,
  );
  jobs.push(run('gcc', ['-O0', '-g', '-c', '-o', join(dir, 'main.o'), join(dir, 'main.c')]));
  await Promise.all(jobs);
  const full = join(dir, 'big');
  await run('gcc', ['-o', full, join(dir, 'main.o'), ...objs]);
  const debug = join(dir, 'big.debug');
  const binary = join(dir, 'big.stripped');
  await run('objcopy', ['--only-keep-debug', full, debug]);
  await run('objcopy', ['--strip-all', `--add-gnu-debuglink=${debug}`, full, binary]);
  return { binary, debug, full };
}

/** File offsets of `count` addresses spread over the function symbols, deterministic. */
async function pickOffsets(full: string, elf: ElfFile, count: number): Promise<bigint[]> {
  const text = elf.loads.filter((l) => (l.flags & PF_X) !== 0);
  const syms = (await readSymbolsFromFile(full)).filter((s) => s.size > 0n);
  const out: bigint[] = [];
  let seed = 12345;
  const rnd = (): number => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  while (out.length < count && syms.length > 0) {
    const s = syms[Math.floor(rnd() * syms.length)];
    const vaddr = s.address + BigInt(Math.floor(rnd() * Number(s.size)));
    const seg = text.find((l) => vaddr >= l.vaddr && vaddr < l.vaddr + l.filesz);
    if (seg) out.push(vaddr - seg.vaddr + seg.offset);
  }
  return out;
}

function mb(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'firn-bench-symbols-'));
  try {
    let files: { binary?: string; debug: string; full: string };
    const t0 = performance.now();
    if (args.file) {
      files = { debug: args.file, full: args.file };
    } else {
      console.log(`generating ${args.functions} functions in ${args.tus} translation units (gcc -O0 -g)…`);
      files = await generate(dir, Number(args.functions), Number(args.tus));
    }
    const genMs = performance.now() - t0;
    const debugBytes = statSync(files.debug).size;
    const elf = await readElfFile(files.full);
    const offsets = await pickOffsets(files.full, elf, Number(args.addresses));
    const t1 = performance.now();
    const debugElf = await readElfFile(files.debug);
    const headerMs = performance.now() - t1;
    const dwarfBytes = debugElf.sections.filter((s) => s.name.startsWith('.debug_')).reduce((a, s) => a + Number(s.size), 0);

    const fileArgs = { binaryPath: files.binary, debugPath: files.debug };
    const concurrency = Number(args.concurrency);
    const maxBatch = Number(args['max-batch']);

    const tFirst = performance.now();
    const [first] = await createSymbolizer().symbolize(fileArgs, [offsets[0]]);
    const firstMs = performance.now() - tFirst;

    const s = createSymbolizer({ concurrency, maxBatch });
    const tBatch = performance.now();
    const res = await s.symbolize(fileArgs, offsets, { timeoutMs: 600_000 });
    const batchMs = performance.now() - tBatch;
    const resolved = res.filter((r) => r.frames.some((f) => f.fileName !== '')).length;
    const inlineDepth = res.reduce((a, r) => a + r.frames.length, 0) / res.length;
    if (fileOffsetToVaddr(elf, offsets[0]) === undefined || first.frames.length === 0) throw new Error('first address did not symbolize');

    const result = {
      debugFile: files.debug,
      debugFileMB: Number(mb(debugBytes)),
      dwarfMB: Number(mb(dwarfBytes)),
      generateSec: Number((genMs / 1000).toFixed(1)),
      readElfHeadersMs: Number(headerMs.toFixed(1)),
      firstSymbolizeMs: Math.round(firstMs),
      batch: {
        addresses: offsets.length,
        concurrency,
        maxBatch,
        ms: Math.round(batchMs),
        addressesPerSec: Math.round(offsets.length / (batchMs / 1000)),
        withLine: resolved,
        framesPerAddress: Number(inlineDepth.toFixed(2)),
      },
    };
    console.log(`debug file ${result.debugFileMB} MB (DWARF ${result.dwarfMB} MB), generated in ${result.generateSec} s`);
    console.log(`readElfFile(debug)            ${result.readElfHeadersMs} ms`);
    console.log(
      `first symbolize (1 address)   ${result.firstSymbolizeMs} ms   → ${first.frames.map((f) => `${f.functionName} ${f.fileName.split('/').pop()}:${f.line}`).join(' ← ')}`,
    );
    console.log(
      `batch of ${offsets.length} (concurrency ${concurrency}, maxBatch ${maxBatch}): ${result.batch.ms} ms = ${result.batch.addressesPerSec} addresses/s, ${resolved} with file:line, ${result.batch.framesPerAddress} frames/address`,
    );
    console.log(JSON.stringify(result));
  } finally {
    if (args.keep) console.log(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
