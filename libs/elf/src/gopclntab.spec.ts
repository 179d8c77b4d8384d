import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isFirnError } from '@firn/errors';
import { bufferSource } from './byte-source';
import { GoSymbolTable, openGoSymbols, type GoFrame, type GoPclntabFormat } from './gopclntab';
import { sampleFuncs, writeSynthGoBinary, type SynthImage } from './testing/go-pclntab-writer';

const FORMATS: GoPclntabFormat[] = ['go1.16', 'go1.18', 'go1.20'];

function tableOf(img: SynthImage): GoSymbolTable {
  const r = openGoSymbols(img.elf, bufferSource(img.bytes));
  if (r.kind !== 'table') throw new Error(`no table: ${JSON.stringify(r)}`);
  return r.table;
}

const frame = (functionName: string, fileName: string, line: number, inlined: boolean): GoFrame => ({ functionName, fileName, line, inlined });

describe(GoSymbolTable.name, () => {
  describe.each(
    FORMATS.flatMap((format) => [
      { format, ptrSize: 8 as const, littleEndian: true },
      { format, ptrSize: 4 as const, littleEndian: false },
    ]),
  )('$format, $ptrSize-byte pointers, little endian $littleEndian', (variant) => {
    const img = writeSynthGoBinary({ ...variant, ...sampleFuncs() });
    const [hot, cold, main] = img.entries;

    it('names functions with file:line', () => {
      const t = tableOf(img);
      expect(t.format).toBe(variant.format);
      expect(t.funcCount).toBe(3);
      expect(t.lookup(hot)).toEqual([frame('main.hot', '/src/main.go', 10, false)]);
      expect(t.lookup(hot + 0x3fn)).toEqual([frame('main.hot', '/src/main.go', 12, false)]);
      expect(t.lookup(cold + 0x11n)).toEqual([frame('main.cold', '/src/main.go', 31, false)]);
      expect(t.lookup(main)).toEqual([frame('main.main', '/src/main.go', 40, false)]);
    });

    it('expands inline chains leaf first, each level with its own call site', () => {
      const t = tableOf(img);
      expect(t.hasInlineTrees).toBe(true);
      expect(t.lookup(hot + 0x12n)).toEqual([frame('main.middle', '/src/main.go', 20, true), frame('main.hot', '/src/main.go', 10, false)]);
      expect(t.lookup(hot + 0x1an)).toEqual([
        frame('main.inner', '/src/util.go', 5, true),
        frame('main.middle', '/src/main.go', 20, true),
        frame('main.hot', '/src/main.go', 10, false),
      ]);
    });

    it('answers nothing outside Go text', () => {
      const t = tableOf(img);
      expect(t.lookup(hot - 1n)).toEqual([]);
      expect(t.lookup(main + 0x10n)).toEqual([]);
      expect(t.lookup(0n)).toEqual([]);
    });

    it('finds the table and the moduledata without section headers', () => {
      const stripped = writeSynthGoBinary({ ...variant, ...sampleFuncs(), sections: false });
      const t = tableOf(stripped);
      expect(t.hasInlineTrees).toBe(true);
      expect(t.lookup(stripped.entries[0] + 0x1an).map((f) => f.functionName)).toEqual(['main.inner', 'main.middle', 'main.hot']);
    });
  });

  it('without a moduledata (Go 1.18+) names the physical function with the leaf file:line, as go tool addr2line does', () => {
    for (const format of ['go1.18', 'go1.20'] as const) {
      const img = writeSynthGoBinary({ format, ...sampleFuncs(), moduledata: false });
      const t = tableOf(img);
      expect(t.hasInlineTrees).toBe(false);
      expect(t.lookup(img.entries[0] + 0x1an)).toEqual([frame('main.hot', '/src/util.go', 5, false)]);
    }
  });

  it('reports the Go 1.2-1.15 layout as unsupported and other files as none', () => {
    const img = writeSynthGoBinary({ format: 'go1.2', ...sampleFuncs() });
    expect(openGoSymbols(img.elf, bufferSource(img.bytes))).toEqual({ kind: 'unsupported', reason: expect.stringContaining('1.2-1.15') });
    const notGo = { ...img.elf, goBuildId: undefined, sections: img.elf.sections.filter((s) => s.name !== '.gopclntab') };
    expect(openGoSymbols(notGo, bufferSource(img.bytes))).toEqual({ kind: 'none' });
  });

  it('on mutated and truncated tables throws only FirnError invalid_argument, and terminates', () => {
    const seeds = FORMATS.flatMap((format) => [
      writeSynthGoBinary({ format, ...sampleFuncs() }),
      writeSynthGoBinary({ format, ...sampleFuncs(), sections: false, ptrSize: 4, littleEndian: false }),
    ]);
    const probe = (img: SynthImage, bytes: Uint8Array, addrs: bigint[]): void => {
      try {
        const r = openGoSymbols(img.elf, bufferSource(bytes));
        if (r.kind !== 'table') return;
        for (const a of addrs) {
          try {
            const frames = r.table.lookup(a);
            expect(frames.length).toBeLessThanOrEqual(101);
          } catch (err) {
            if (!isFirnError(err, 'invalid_argument')) throw err;
          }
        }
      } catch (err) {
        if (!isFirnError(err, 'invalid_argument')) throw err;
      }
    };
    fc.assert(
      fc.property(
        fc.nat({ max: seeds.length - 1 }),
        fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { minLength: 1, maxLength: 16 }),
        fc.option(fc.nat(), { nil: undefined }),
        fc.array(fc.nat({ max: 0x100 }), { minLength: 1, maxLength: 8 }),
        (seed, edits, cut, offsets) => {
          const img = seeds[seed];
          const bytes = Uint8Array.from(img.bytes);
          // Hit the table (where parsing happens) most of the time, anywhere else sometimes.
          const table = img.elf.sections.find((s) => s.name === '.gopclntab');
          const lo = table ? Number(table.offset) : 0;
          const span = table ? Number(table.size) : bytes.length;
          for (const [at, v] of edits) bytes[(lo + (at % span)) % bytes.length] = v;
          const input = cut === undefined ? bytes : bytes.subarray(0, cut % (bytes.length + 1));
          probe(
            img,
            input,
            offsets.map((o) => img.entries[0] + BigInt(o)),
          );
        },
      ),
      { numRuns: 1500 },
    );
  });
});
