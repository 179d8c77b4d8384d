// .gopclntab lookup cost: opens a Go binary's table through FileSource (bounded block cache) and
// looks up --addresses random addresses inside its Go code, then the same addresses again
// (warm cache). Default binary: Debian's stripped nats-server.
//
//   node scripts/run-ts.cjs bench/symbols/gopclntab.bench.ts [--file /usr/sbin/nats-server] [--addresses 100000]
import { parseArgs } from 'node:util';
import { FileSource, openGoSymbols, readElfFile } from '@firn/elf';

const { values: args } = parseArgs({
  options: { file: { type: 'string', default: '/usr/sbin/nats-server' }, addresses: { type: 'string', default: '100000' } },
  strict: true,
});

async function main(): Promise<void> {
  const t0 = performance.now();
  const elf = await readElfFile(args.file);
  const src = FileSource.open(args.file);
  const r = openGoSymbols(elf, src);
  if (r.kind !== 'table') throw new Error(`${args.file}: ${JSON.stringify(r)}`);
  const t = r.table;
  const { start, end } = t.textRange;
  t.lookup(start);
  const openMs = performance.now() - t0;
  const n = Number(args.addresses);
  const span = Number(end - start);
  const addrs = Array.from({ length: n }, () => start + BigInt(Math.floor(Math.random() * span)));
  const run = (): { ms: number; frames: number; inlined: number } => {
    const s = performance.now();
    let frames = 0;
    let inlined = 0;
    for (const a of addrs) {
      const f = t.lookup(a);
      frames += f.length;
      if (f.length > 1) inlined++;
    }
    return { ms: performance.now() - s, frames, inlined };
  };
  const cold = run();
  const warm = run();
  src.close();
  console.log(
    `${args.file}: ${t.format} layout, ${t.funcCount} functions, inline trees ${t.hasInlineTrees}; open + first lookup ${openMs.toFixed(1)} ms (incl. moduledata scan)`,
  );
  console.log(`| pass | addresses | ms | lookups/s | frames/address | with inlined calls |`);
  console.log(`|---|---|---|---|---|---|`);
  for (const [name, x] of [
    ['first', cold],
    ['again', warm],
  ] as const) {
    console.log(
      `| ${name} | ${n} | ${x.ms.toFixed(0)} | ${Math.round((n / x.ms) * 1000)} | ${(x.frames / n).toFixed(2)} | ${((100 * x.inlined) / n).toFixed(1)} % |`,
    );
  }
  console.log(`RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB (the 2.9 MB table is read through a 1 MiB block cache)`);
}

void main();
