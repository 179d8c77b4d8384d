import { describe, expect, it, vi } from 'vitest';
import type { Frame } from '@firn/profiles';
import { internStacks } from '@firn/reports';
import { tenantFromTrustedSource } from '@firn/tenancy';
import type { Demangler } from '@firn/demangle';
import { rememberFrameNumbers, StackCatalog } from './stack-catalog';
import { demangleProfile, NO_SYMBOLS, symbolize, type SymbolResolver } from './symbols';

const raw = (addr: bigint): Frame => ({ buildId: 'b1', mappingFile: '/bin/app', address: addr, functionName: '', fileName: '', line: 0, inlined: false });
const named: Frame = { buildId: 'b1', mappingFile: '/bin/app', address: 1n, functionName: 'main', fileName: 'm.c', line: 3, inlined: false };

/** A resolver naming the frames `asked` picks as `leaf` inlined into `caller`, and no others. */
const inlining = (asked: (f: Frame) => boolean): SymbolResolver => ({
  resolve: async (_t, frames) =>
    frames.map((f) =>
      asked(f)
        ? [
            { ...f, functionName: 'leaf', inlined: true },
            { ...f, functionName: 'caller' },
          ]
        : undefined,
    ),
});

describe(symbolize.name, () => {
  it('resolves every distinct unsymbolized frame in one batched call and expands inlines', async () => {
    const a = raw(0x10n);
    const b = raw(0x20n);
    const p = {
      profileType: 't',
      stacks: [
        [a, named],
        [a, b, named],
      ],
      values: Float64Array.from([1, 2]),
      total: 3,
    };
    const resolver: SymbolResolver = {
      resolve: vi.fn(async (_t, frames: readonly Frame[]) =>
        frames.map((f) =>
          f.address === 0x10n
            ? [
                { ...f, functionName: 'inner', inlined: true },
                { ...f, functionName: 'outer' },
              ]
            : undefined,
        ),
      ),
    };
    const out = await symbolize(tenantFromTrustedSource('acme'), p, resolver);
    expect(resolver.resolve).toHaveBeenCalledTimes(1);
    expect((resolver.resolve as ReturnType<typeof vi.fn>).mock.calls[0][1]).toEqual([a, b]);
    expect(out.stacks[0].map((f) => f.functionName)).toEqual(['inner', 'outer', 'main']);
    expect(out.stacks[1].map((f) => f.functionName || `0x${f.address.toString(16)}`)).toEqual(['inner', 'outer', '0x20', 'main']);
    expect(out.total).toBe(3);
  });

  it('says why each frame left unnamed has no name, keeping frames shared between stacks', async () => {
    const a = raw(0x10n);
    const b = raw(0x20n);
    const kernel: Frame = { ...raw(0x30n), buildId: '', mappingFile: '[kernel.kallsyms]' };
    const jit: Frame = { ...raw(0x40n), buildId: '', mappingFile: '[anon]' };
    const lost: Frame = { ...raw(0x50n), buildId: '', mappingFile: '' };
    const vdso: Frame = { ...raw(0x60n), buildId: '', mappingFile: '[vdso]' };
    const p = {
      profileType: 't',
      stacks: [
        [a, kernel, named],
        [b, jit, lost, vdso, named],
        [a, named],
      ],
      values: Float64Array.from([1, 2, 3]),
      total: 6,
    };
    // The cache knows a's negative entry and nothing about b.
    const resolver: SymbolResolver = {
      resolve: async (_t, frames) => frames.map((f) => (f === a ? [{ ...f, unnamedReason: 'no_debuginfo' as const }] : undefined)),
    };
    const out = await symbolize(tenantFromTrustedSource('acme'), p, resolver);
    expect(out.stacks.map((st) => st.map((f) => f.unnamedReason ?? f.functionName))).toEqual([
      ['no_debuginfo', 'kallsyms_restricted', 'main'],
      ['not_symbolized', 'no_perf_map', 'no_mapping', 'no_build_id', 'main'],
      ['no_debuginfo', 'main'],
    ]);
    expect(out.stacks[2][0]).toBe(out.stacks[0][0]);
    expect(out.stacks[0][2]).toBe(named);
    // The next query over the same frame objects gets the same explained copies, not new ones.
    const again = await symbolize(tenantFromTrustedSource('acme'), p, NO_SYMBOLS);
    expect(again.stacks[1].slice(0, 4)).toEqual(out.stacks[1].slice(0, 4));
    again.stacks[1].slice(0, 4).forEach((f, i) => expect(f).toBe(out.stacks[1][i]));
    expect(again.stacks[0][1]).toBe(out.stacks[0][1]);
  });

  it('keeps the array of a stack with nothing to replace, and the frames before the first replaced one', async () => {
    const a = raw(0x10n);
    const other: Frame = { ...named, functionName: 'other' };
    const p = {
      profileType: 't',
      stacks: [[named, other], [named, other, a, named], [a]],
      values: Float64Array.from([1, 2, 3]),
      total: 6,
    };
    const resolver: SymbolResolver = {
      resolve: async (_t, frames) =>
        frames.map((f) => [
          { ...f, functionName: 'leaf' },
          { ...f, functionName: 'caller', inlined: true },
        ]),
    };
    const out = await symbolize(tenantFromTrustedSource('acme'), p, resolver);
    expect(out.stacks[0]).toBe(p.stacks[0]);
    expect(out.stacks[1]).not.toBe(p.stacks[1]);
    expect(out.stacks.map((st) => st.map((f) => f.functionName))).toEqual([
      ['main', 'other'],
      ['main', 'other', 'leaf', 'caller', 'main'],
      ['leaf', 'caller'],
    ]);
    expect(out.stacks[1][0]).toBe(named);
    expect(out.stacks[2][0]).toBe(out.stacks[1][2]);
    expect(p.stacks[1]).toEqual([named, other, a, named]);
  });

  it("reuses a stack's replaced array while its frames' replacements are the same objects, and only then", async () => {
    const a = raw(0x10n);
    const b = raw(0x20n);
    const stacks = [[named, a], [b, a], [a]];
    const p = { profileType: 't', stacks, values: Float64Array.from([1, 2, 3]), total: 6 };
    // Answers kept per frame, as CachedSymbolResolver keeps them; `b` inlines two frames.
    const answers = new Map<Frame, Frame[]>([
      [a, [{ ...a, functionName: 'fa' }]],
      [
        b,
        [
          { ...b, functionName: 'leaf', inlined: true },
          { ...b, functionName: 'caller' },
        ],
      ],
    ]);
    const resolver: SymbolResolver = { resolve: async (_t, frames) => frames.map((f) => answers.get(f)) };
    const tenant = tenantFromTrustedSource('acme');
    const first = await symbolize(tenant, p, resolver);
    const again = await symbolize(tenant, { ...p, stacks: [...stacks] }, resolver);
    expect(again.stacks).not.toBe(first.stacks);
    again.stacks.forEach((st, s) => expect(st).toBe(first.stacks[s]));
    // A changed answer for `a` (the symbolizer named it since): new arrays wherever `a` is.
    answers.set(a, [{ ...a, functionName: 'fa2' }]);
    const renamed = await symbolize(tenant, p, resolver);
    expect(renamed.stacks.map((st) => st.map((f) => f.functionName))).toEqual([['main', 'fa2'], ['leaf', 'caller', 'fa2'], ['fa2']]);
    renamed.stacks.forEach((st, s) => expect(st).not.toBe(first.stacks[s]));
    expect(first.stacks.map((st) => st.map((f) => f.functionName))).toEqual([['main', 'fa'], ['leaf', 'caller', 'fa'], ['fa']]);
    // An answer of another length for `b`: the stack is rebuilt, not matched by its old length.
    answers.set(b, [{ ...b, functionName: 'only' }]);
    expect((await symbolize(tenant, p, resolver)).stacks[1].map((f) => f.functionName)).toEqual(['only', 'fa2']);
  });

  it('sees a changed answer for a frame of a stack that was not in the queries between', async () => {
    const a = raw(0x10n);
    const b = raw(0x20n);
    const onlyA = [a];
    const onlyB = [b];
    const withB = [b, named];
    const answers = new Map<Frame, Frame[]>([
      [a, [{ ...a, functionName: 'fa' }]],
      [b, [{ ...b, functionName: 'fb' }]],
    ]);
    const resolver: SymbolResolver = { resolve: async (_t, frames) => frames.map((f) => answers.get(f)) };
    const tenant = tenantFromTrustedSource('acme');
    const profile = (stacks: Frame[][]) => ({ profileType: 't', stacks, values: new Float64Array(stacks.length).fill(1), total: stacks.length });
    const names = (p: { stacks: Frame[][] }) => p.stacks.map((st) => st.map((f) => f.functionName));
    const first = await symbolize(tenant, profile([onlyA, onlyB, withB]), resolver);
    // `b` renamed while only `a` is queried: nothing there tells of `b`.
    answers.set(b, [{ ...b, functionName: 'fb2' }]);
    const between = await symbolize(tenant, profile([onlyA]), resolver);
    expect(between.stacks[0]).toBe(first.stacks[0]);
    const later = await symbolize(tenant, profile([onlyB, onlyA, withB]), resolver);
    expect(names(later)).toEqual([['fb2'], ['fa'], ['fb2', 'main']]);
    expect(later.stacks[1]).toBe(first.stacks[0]);
    // `a` renamed: the stacks without `a` keep their arrays (checked, not rebuilt).
    answers.set(a, [{ ...a, functionName: 'fa2' }]);
    const renamed = await symbolize(tenant, profile([onlyB, onlyA, withB]), resolver);
    expect(names(renamed)).toEqual([['fb2'], ['fa2'], ['fb2', 'main']]);
    expect(renamed.stacks[0]).toBe(later.stacks[0]);
    expect(renamed.stacks[2]).toBe(later.stacks[2]);
    expect(renamed.stacks[1]).not.toBe(later.stacks[1]);
  });

  it('demangles a frame into the same copy query after query', async () => {
    const mangled: Frame = { ...named, functionName: '_Z3foov' };
    const stacks = [[mangled, named]];
    const demangler: Demangler = {
      demangleAll: async (names) => names.map((n) => (n === '_Z3foov' ? 'foo()' : n)),
      stats: () => ({ cacheHits: 0, demangled: 0, failed: 0, starts: 0 }),
      close: () => undefined,
    };
    const tenant = tenantFromTrustedSource('acme');
    const first = await symbolize(tenant, { profileType: 't', stacks, values: Float64Array.from([1]), total: 1 }, NO_SYMBOLS, demangler);
    const again = await symbolize(tenant, { profileType: 't', stacks: [...stacks], values: Float64Array.from([1]), total: 1 }, NO_SYMBOLS, demangler);
    expect(first.stacks[0][0]).toMatchObject({ functionName: 'foo()', systemName: '_Z3foov' });
    expect(again.stacks[0]).toBe(first.stacks[0]);
  });

  it('hands the reports the interned frames they would compute themselves', async () => {
    const a = raw(0x10n);
    const b = raw(0x20n);
    const twin: Frame = { ...named }; // equal content, another object
    const p = {
      profileType: 't',
      stacks: [[b, named], [a, b, twin], [named], [a]],
      values: Float64Array.from([1, 2, 3, 4]),
      total: 10,
    };
    const resolver = inlining((f) => f === a);
    for (const r of [resolver, NO_SYMBOLS]) {
      const out = await symbolize(tenantFromTrustedSource('acme'), p, r);
      const remembered = internStacks(out);
      expect(internStacks(out)).toBe(remembered); // told by symbolize, not computed again
      expect(remembered).toEqual(internStacks({ ...out, stacks: [...out.stacks] }));
      expect(remembered.frames).toHaveLength(r === resolver ? 4 : 3);
    }
    const named2 = { profileType: 't', stacks: [[named, twin], [twin]], values: Float64Array.from([1, 2]), total: 3 };
    const same = await symbolize(tenantFromTrustedSource('acme'), named2, NO_SYMBOLS);
    expect(same).toBe(named2);
    expect(internStacks(same)).toEqual({ frames: [named], stacks: [Int32Array.from([0, 0]), Int32Array.from([0])] });
  });

  it('answers the same for stacks the catalog numbered as for the same stacks unnumbered', async () => {
    const catalog = new StackCatalog();
    const stackFrames = [[raw(0x10n), named], [raw(0x20n), raw(0x10n), named], [named], [raw(0x30n)]];
    const ids = stackFrames.map((fs, i) => {
      const id = catalog.intern(`k${i}`);
      catalog.setFrames(id, fs);
      return id;
    });
    const order = [2, 0, 3, 1].map((i) => ids[i]);
    const stacks = order.map((id) => catalog.frames[id]!);
    rememberFrameNumbers(stacks, catalog.framesNumbered(order));
    const p = { profileType: 't', stacks, values: Float64Array.from([1, 2, 3, 4]), total: 10 };
    const resolver = inlining((f) => f.address === 0x10n);
    for (const r of [resolver, NO_SYMBOLS]) {
      const numbered = await symbolize(tenantFromTrustedSource('acme'), p, r);
      const plain = await symbolize(tenantFromTrustedSource('acme'), { ...p, stacks: [...stacks] }, r);
      expect(numbered.stacks).toEqual(plain.stacks);
      expect(internStacks(numbered)).toEqual(internStacks(plain));
    }
  });

  it('says not_symbolized without a symbol source, and leaves a fully named profile untouched', async () => {
    const p = { profileType: 't', stacks: [[raw(1n)]], values: Float64Array.from([1]), total: 1 };
    expect((await symbolize(tenantFromTrustedSource('acme'), p, NO_SYMBOLS)).stacks[0][0]).toMatchObject({ functionName: '', unnamedReason: 'not_symbolized' });
    const q = { profileType: 't', stacks: [[named]], values: Float64Array.from([1]), total: 1 };
    expect(await symbolize(tenantFromTrustedSource('acme'), q, NO_SYMBOLS)).toBe(q);
  });
});

describe(demangleProfile.name, () => {
  const fake = (): Demangler & { calls: string[][] } => {
    const calls: string[][] = [];
    return {
      calls,
      demangleAll: async (names) => {
        calls.push([...names]);
        return names.map((n) => (n === '_ZN1a1bEv' ? 'a::b()' : n === '_Zjunk' ? '_Zjunk' : n));
      },
      stats: () => ({ cacheHits: 0, demangled: 0, failed: 0, starts: 0 }),
      close: () => undefined,
    };
  };

  it('demangles each distinct mangled frame once, keeping the raw name as systemName and frames shared', async () => {
    const m: Frame = { ...named, functionName: '_ZN1a1bEv' };
    const junk: Frame = { ...named, functionName: '_Zjunk' };
    const p = {
      profileType: 't',
      stacks: [
        [m, named],
        [m, junk],
      ],
      values: Float64Array.from([1, 2]),
      total: 3,
    };
    const d = fake();
    const out = await demangleProfile(p, d);
    expect(d.calls).toEqual([['_ZN1a1bEv', '_Zjunk']]);
    expect(out.stacks[0][0]).toMatchObject({ functionName: 'a::b()', systemName: '_ZN1a1bEv' });
    expect(out.stacks[1][0]).toBe(out.stacks[0][0]);
    expect(out.stacks[0][1]).toBe(named);
    expect(out.stacks[1][1]).toBe(junk); // unreadable: raw, no systemName
  });

  it('names a compiler-made clone as the function it was made from (name and systemName, as DWARF does)', async () => {
    const clone: Frame = { ...named, functionName: '_ZN1a1bEv.isra.0' };
    const cold: Frame = { ...named, functionName: '_ZN1a1bEv.cold' };
    const p = { profileType: 't', stacks: [[clone, cold]], values: Float64Array.from([1]), total: 1 };
    const out = await demangleProfile(p, fake());
    expect(out.stacks[0].map((f) => [f.functionName, f.systemName])).toEqual([
      ['a::b()', '_ZN1a1bEv'],
      ['a::b()', '_ZN1a1bEv'],
    ]);
  });

  it('asks nothing when no name is mangled', async () => {
    const p = { profileType: 't', stacks: [[named, raw(1n)]], values: Float64Array.from([1]), total: 1 };
    const d = fake();
    expect(await demangleProfile(p, d)).toBe(p);
    expect(d.calls).toEqual([]);
  });
});
