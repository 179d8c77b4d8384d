// PGO from the fleet, measured: the tokenizer workload (libs/testing/src/pgo-roundtrip.ts) runs
// under the real eBPF agent against an all-in-one server; the server's LLVM sample profile is fed
// to clang -O2 -fprofile-sample-use; the rebuilt binary and the plain -O2 build run alternately in
// the same run and their median CPU times (user + system, so other load on a shared machine
// matters less) are compared.
//   sudo node scripts/run-ts.cjs bench/pgo/pgo.bench.ts [--samples 6000] [--hz 199] [--runs 11] [--rounds 30]
import { execFileSync } from 'node:child_process';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { bpfUnavailable, compareSpeed, compileC, makeTempDir, pgoRoundTrip, removeDir } from '@firn/testing';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

async function main(): Promise<void> {
  const why = bpfUnavailable();
  if (why) {
    console.error(`pgo bench needs the eBPF agent (root, BTF): ${why}`);
    process.exit(2);
  }
  const samples = arg('samples', 6000);
  const hz = arg('hz', 199);
  const runs = arg('runs', 11);
  const rounds = arg('rounds', 30);
  const dir = makeTempDir('pgo-bench');
  try {
    const t0 = Date.now();
    const rt = await pgoRoundTrip({ dir, minSamples: samples, timeoutMs: 900_000, frequencyHz: hz, withGo: false, log: (l) => console.error(l) });
    const collectS = (Date.now() - t0) / 1000;
    const base = join(dir, 'tok-O2');
    const pgo = join(dir, 'tok-O2-pgo');
    compileC(rt.tokenizerSource, base, ['-O2']);
    compileC(rt.tokenizerSource, pgo, ['-O2', '-gline-tables-only', '-fdebug-info-for-profiling', `-fprofile-sample-use=${rt.llvmFile}`]);
    // The two builds compute the same thing.
    const out = (b: string) => execFileSync(b, ['2'], { encoding: 'utf8' });
    if (out(base) !== out(pgo)) throw new Error('the PGO build computes something else');
    const loadBefore = loadavg()[0];
    const s = compareSpeed(base, pgo, [String(rounds)], runs);
    const loadAfter = loadavg()[0];
    const clang = execFileSync('clang', ['--version'], { encoding: 'utf8' }).split('\n')[0];
    const r = rt.llvm;
    console.log(
      [
        `## PGO round trip (${new Date().toISOString().slice(0, 10)})`,
        '',
        `machine: ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${clang}; load ${loadBefore.toFixed(1)} → ${loadAfter.toFixed(1)}`,
        `profile: ${r.exportedSamples} of ${r.binarySamples} samples of the binary (${r.unresolvedSamples} on lines the debug info does not place), ${r.functions} functions, agent at ${hz} Hz, ${collectS.toFixed(0)} s to collect`,
        '',
        '| build | median CPU s | runs (CPU s) |',
        '|---|---|---|',
        `| clang -O2 | ${s.baseMedian.toFixed(3)} | ${s.baseSeconds.map((x) => x.toFixed(2)).join(' ')} |`,
        `| clang -O2 -fprofile-sample-use=<fleet profile> | ${s.pgoMedian.toFixed(3)} | ${s.pgoSeconds.map((x) => x.toFixed(2)).join(' ')} |`,
        '',
        `speedup (median -O2 / median PGO): **${s.speedup.toFixed(3)}×** over ${runs} alternating runs of \`pgotok ${rounds}\``,
      ].join('\n'),
    );
  } finally {
    removeDir(dir);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
