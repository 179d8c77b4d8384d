// Builds .eh_frame unwind tables for every ELF file under the given directories and prints the
// coverage figure (share of executable section bytes covered by FDEs) and any failure.
//   node scripts/run-ts.cjs tools/unwind/eh-frame-coverage.ts [dir...]   (default: /usr/bin /usr/lib/x86_64-linux-gnu)
//   node scripts/run-ts.cjs tools/unwind/eh-frame-coverage.ts --files f...  (per file: rows, kernel memory, coverage)
import { tableKernelBytes } from '@firn/agent';
import { encodeKernelTable, kernelRuleSet, listElfFiles, readFileUnwindTable, surveyUnwindTables } from '@firn/unwind';

const mib = (b: number) => `${(b / 2 ** 20).toFixed(2)} MiB`;

async function perFile(files: string[]): Promise<void> {
  const rules = kernelRuleSet();
  for (const f of files) {
    const t = await readFileUnwindTable(f);
    if ('reason' in t) {
      console.log(`${f}: no table (${t.reason})`);
      continue;
    }
    const enc = encodeKernelTable(t.rows, (r) => rules.idOf(r));
    console.log(
      `${f}: ${t.stats.fdes} FDEs, ${t.stats.rows} rows, kernel ${mib(tableKernelBytes(enc.length))}, ${((100 * t.stats.coveredBytes) / Math.max(1, t.stats.textBytes)).toFixed(1)} % of ${mib(t.stats.textBytes)} of code covered`,
    );
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--files') return perFile(argv.slice(1));
  const files = await listElfFiles(argv.length ? argv : ['/usr/bin', '/usr/lib/x86_64-linux-gnu']);
  const r = await surveyUnwindTables(files);
  const pct = (a: number, b: number) => (b ? ((100 * a) / b).toFixed(2) : '0');
  console.log(`${r.files} ELF files, ${r.tables} with tables, no table: ${JSON.stringify(r.noTable)} (${(r.ms / 1000).toFixed(1)} s)`);
  console.log(`coverage: ${pct(r.coveredBytes, r.textBytes)} % of ${(r.textBytes / 2 ** 20).toFixed(1)} MiB of executable sections covered by FDEs`);
  console.log(
    `covered bytes by CFA rule: ${Object.entries(r.coveredByKind)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${pct(v, r.coveredBytes)} %`)
      .join(', ')}`,
  );
  console.log(
    `${r.fdes} FDEs (${r.badFdes} with malformed programs), ${r.rows} rows, ${r.distinctRules} distinct rules, kernel tables ${(r.kernelBytes / 2 ** 20).toFixed(1)} MiB`,
  );
  console.log(`lowest coverage: ${r.worst.map((w) => `${w.path} ${(100 * w.share).toFixed(1)} % of ${w.textBytes} B`).join('; ')}`);
  console.log(
    `.eh_frame_hdr count mismatches: ${r.hdrMismatches.length}; kernel lookup mismatches: ${r.lookupMismatches.length}; unexpected errors: ${r.errors.length}`,
  );
  for (const e of [...r.hdrMismatches, ...r.lookupMismatches, ...r.errors].slice(0, 20)) console.log(`  ${e}`);
  if (r.errors.length || r.lookupMismatches.length) process.exit(1);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
