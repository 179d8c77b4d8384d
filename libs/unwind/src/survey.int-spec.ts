// The table builder on every ELF file in /usr/bin and /usr/lib/x86_64-linux-gnu of this machine:
// no crash, the kernel encoding agrees with the row table, .eh_frame_hdr's FDE count matches the
// scan, and the coverage figure is printed (docs/benchmarks.md quotes it).
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { listElfFiles, surveyUnwindTables } from './survey';

const DIRS = ['/usr/bin', '/usr/lib/x86_64-linux-gnu'].filter((d) => existsSync(d));

describe(surveyUnwindTables.name, () => {
  it.skipIf(DIRS.length === 0)(
    'builds tables for every system ELF file without an unexpected error',
    async () => {
      const files = await listElfFiles(DIRS);
      expect(files.length).toBeGreaterThan(50);
      const r = await surveyUnwindTables(files);
      const pct = (100 * r.coveredBytes) / r.textBytes;
      console.log(
        `${r.files} ELF files (${r.tables} with tables, no table: ${JSON.stringify(r.noTable)}): ${pct.toFixed(2)} % of ${(r.textBytes / 2 ** 20).toFixed(0)} MiB of code covered by FDEs; ` +
          `${r.fdes} FDEs, ${r.badFdes} malformed, ${r.rows} rows, ${r.distinctRules} distinct rules, kernel tables ${(r.kernelBytes / 2 ** 20).toFixed(1)} MiB; ${(r.ms / 1000).toFixed(1)} s`,
      );
      expect(r.errors).toEqual([]);
      expect(r.lookupMismatches).toEqual([]);
      expect(r.hdrMismatches).toEqual([]);
      expect(r.tables).toBeGreaterThan(0.9 * r.files);
      // Debian's code is almost all covered; Go binaries (frame pointers, no FDEs) and
      // hand-written assembly are the rest.
      expect(pct).toBeGreaterThan(80);
      expect(r.distinctRules).toBeLessThan(1 << 16);
    },
    900_000,
  );
});
