import { existsSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { isFirnError } from '@firn/errors';
import { parseElf } from '@firn/elf';
import { parseEhFrameHdr } from './eh-frame-hdr';
import { encodeKernelTable, kernelRuleSet } from './kernel-table';
import { buildUnwindRows } from './table';
import { CFA, DRAP_EXPR, EhFrameBuilder, PLT_EXPR, X86_CIE } from './testing/eh-frame-builder';

const BASE = 0x401000;

/** A section exercising every opcode family the parser knows. */
function richSeed(): Uint8Array {
  const b = new EhFrameBuilder(BASE);
  const cie = b.cie({ instructions: X86_CIE });
  const cie2 = b.cie({ augmentation: 'zPLR', augData: [0x03, 1, 2, 3, 4, 0x1b, 0x1b], instructions: [...X86_CIE, ...CFA.nop()] });
  b.fde(cie, 0x1000, 0x40, [
    ...CFA.advance(1),
    ...CFA.defCfaOffset(16),
    ...CFA.offset(6, 2),
    ...CFA.advance(3),
    ...CFA.defCfaRegister(6),
    ...CFA.remember(),
    ...CFA.advance(9),
    ...CFA.defCfa(7, 8),
    ...CFA.restoreState(),
  ]);
  b.fde(cie, 0x1040, 0x30, [...CFA.defCfaExpression(PLT_EXPR), ...CFA.advance(4), ...CFA.argsSize(16)]);
  b.fde(cie2, 0x1080, 0x100, [
    ...CFA.advance(7),
    ...CFA.defCfaExpression(DRAP_EXPR),
    ...CFA.expression(6, [0x76, 0]),
    ...CFA.advance(70),
    ...CFA.register(6, 3),
    ...CFA.undefined(16),
    ...CFA.restore(6),
  ]);
  b.fde(cie, 0x2000, 0x10, [...CFA.defCfa(10, 0), 0x02, 200, 0x03, 1, 0, 0x04, 1, 0, 0, 0]);
  return b.build();
}

function hdrSeed(): Uint8Array {
  const rel = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
  return Uint8Array.from([
    1,
    0x1b,
    0x03,
    0x3b,
    ...rel(0x100),
    ...rel(3),
    ...rel(0x10),
    ...rel(0x200),
    ...rel(0x20),
    ...rel(0x210),
    ...rel(0x30),
    ...rel(0x220),
  ]);
}

/** The .eh_frame of a real binary on this machine, when there is one. */
function realSeed(): { bytes: Uint8Array; address: number } | undefined {
  for (const path of ['/bin/true', '/usr/bin/true', '/bin/ls']) {
    if (!existsSync(path)) continue;
    const file = readFileSync(path);
    const s = parseElf(file).sections.find((x) => x.name === '.eh_frame');
    if (s) return { bytes: file.subarray(Number(s.offset), Number(s.offset + s.size)), address: Number(s.addr) };
  }
  return undefined;
}

/** Byte flips, overwrites with extreme values, truncation and random insertions. */
function mutated(seed: Uint8Array) {
  return fc
    .record({
      edits: fc.array(fc.record({ at: fc.nat(), value: fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0, 0xff, 0x7f, 0x80, 0x40, 0xc0)) }), {
        minLength: 1,
        maxLength: 8,
      }),
      cut: fc.option(fc.nat(), { nil: undefined }),
      insert: fc.option(fc.record({ at: fc.nat(), bytes: fc.uint8Array({ maxLength: 16 }) }), { nil: undefined }),
    })
    .map(({ edits, cut, insert }) => {
      let out = Uint8Array.from(seed);
      for (const e of edits) out[e.at % out.length] = e.value;
      if (insert) {
        const at = insert.at % (out.length + 1);
        out = Uint8Array.from([...out.subarray(0, at), ...insert.bytes, ...out.subarray(at)]);
      }
      if (cut !== undefined) out = out.subarray(0, cut % (out.length + 1));
      return out;
    });
}

/** Runs the whole user-space path; only a typed invalid_argument may escape. */
function buildAll(bytes: Uint8Array, address: number): void {
  for (const arch of ['x86_64', 'aarch64'] as const) {
    try {
      const { rows } = buildUnwindRows({ bytes, address }, arch);
      const set = kernelRuleSet();
      encodeKernelTable(rows, (r) => set.idOf(r));
    } catch (err) {
      if (!isFirnError(err, 'invalid_argument')) throw err;
    }
  }
}

describe('unwind table fuzzing', () => {
  let real: { bytes: Uint8Array; address: number } | undefined;
  beforeAll(() => {
    real = realSeed();
  });

  it('survives 4 000 mutations of a synthetic .eh_frame', () => {
    const seed = richSeed();
    expect(buildUnwindRows({ bytes: seed, address: BASE }, 'x86_64').stats.fdes).toBe(4);
    fc.assert(
      fc.property(mutated(seed), (bytes) => buildAll(bytes, BASE)),
      { numRuns: 4000 },
    );
  });

  it("survives 3 000 mutations of a real binary's .eh_frame", () => {
    const seed = real ?? { bytes: richSeed(), address: BASE };
    fc.assert(
      fc.property(mutated(seed.bytes), (bytes) => buildAll(bytes, seed.address)),
      { numRuns: 3000 },
    );
  });

  it('survives 2 000 random byte strings, including 64-bit lengths and CIE pointers', () => {
    const prefix = fc.constantFrom([], [0xff, 0xff, 0xff, 0xff], [0x0c, 0, 0, 0, 0, 0, 0, 0], [0x14, 0, 0, 0, 0x10, 0, 0, 0]);
    fc.assert(
      fc.property(prefix, fc.uint8Array({ maxLength: 512 }), fc.integer({ min: 0, max: 2 ** 47 }), (p, rest, address) =>
        buildAll(Uint8Array.from([...p, ...rest]), address),
      ),
      { numRuns: 2000 },
    );
  });

  it('survives 2 000 mutated and random .eh_frame_hdr sections', () => {
    const check = (bytes: Uint8Array) => {
      try {
        parseEhFrameHdr(bytes, 0x8000);
      } catch (err) {
        if (!isFirnError(err, 'invalid_argument')) throw err;
      }
    };
    fc.assert(fc.property(mutated(hdrSeed()), check), { numRuns: 1500 });
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), check), { numRuns: 500 });
  });
});
