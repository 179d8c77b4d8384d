// Against the real binutils c++filt (scripts/install-system-deps.sh installs binutils).
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createDemangler, isMangled, withoutCloneSuffix } from './demangle';

describe(createDemangler.name, () => {
  const d = createDemangler();
  const dir = mkdtempSync(join(tmpdir(), 'firn-demangle-'));
  afterAll(() => {
    d.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('demangles C++ as GNU tools print it, and Rust without hashes or crate disambiguators', async () => {
    const got = await d.demangleAll([
      '_ZNK4firn6detail11AccumulatorIlE3mixEi',
      '_ZN4firn4workIlEET_S1_',
      '_ZN2v88internal7Isolate4InitEPNS0_12SnapshotDataEb',
      '_ZN3foo3barEv.cold',
      '_ZN4prog7compute17h0123456789abcdefE',
      '_RNvNtCs9ltgdHTiPiY_4core3fmt5write',
    ]);
    expect(got).toEqual([
      'firn::detail::Accumulator<long>::mix(int) const',
      'long firn::work<long>(long)',
      'v8::internal::Isolate::Init(v8::internal::SnapshotData*, bool)',
      'foo::bar() [clone .cold]',
      'prog::compute',
      'core::fmt::write',
    ]);
  });

  it('strips GCC and LLVM clone suffixes from mangled names only', () => {
    expect(
      [
        '_ZNK9firnnames5MixerIlE4spinEl.isra.0',
        '_ZN1a1fEv.constprop.0.isra.0',
        '_ZN1a1fEv.part.0',
        '_ZN1a1fEv.cold',
        '_ZN1a1fEv.llvm.8123',
        'main.isra.0',
        '_ZN1a1fEv',
      ].map(withoutCloneSuffix),
    ).toEqual(['_ZNK9firnnames5MixerIlE4spinEl', '_ZN1a1fEv', '_ZN1a1fEv', '_ZN1a1fEv', '_ZN1a1fEv', 'main.isra.0', '_ZN1a1fEv']);
  });

  it('leaves names that are not mangled alone without asking c++filt', async () => {
    const fresh = createDemangler();
    const names = ['main', 'main.(*acc).mix', 'do_sys_poll', 'LazyCompile:*hot /app/x.js:3', '', 'runtime.mallocgc', '_start'];
    expect(await fresh.demangleAll(names)).toEqual(names);
    expect(fresh.stats().starts).toBe(0);
    fresh.close();
  });

  it('keeps order and duplicates, answers repeats from the cache, and returns unreadable names as they are', async () => {
    const fresh = createDemangler();
    const names = ['_ZN1a1bEv', '_Zjunk', 'main', '_ZN1a1bEv'];
    expect(await fresh.demangleAll(names)).toEqual(['a::b()', '_Zjunk', 'main', 'a::b()']);
    expect(await fresh.demangleAll(['_ZN1a1bEv'])).toEqual(['a::b()']);
    expect(fresh.stats()).toMatchObject({ demangled: 2, cacheHits: 1, starts: 1 });
    fresh.close();
  });

  it('handles large batches in one process', async () => {
    const names = Array.from({ length: 20_000 }, (_, i) => `_ZN2ns${String(i).length + 1}f${i}Ei`);
    const got = await d.demangleAll(names);
    expect(got[0]).toBe('ns::f0(int)');
    expect(got[19_999]).toBe('ns::f19999(int)');
    expect(got.every((g) => !isMangled(g))).toBe(true);
  });

  it('gives names back unchanged when c++filt is missing, and does not retry at once', async () => {
    const missing = createDemangler({ command: join(dir, 'no-such-c++filt') });
    expect(await missing.demangleAll(['_ZN1a1bEv'])).toEqual(['_ZN1a1bEv']);
    expect(await missing.demangleAll(['_ZN1a1cEv'])).toEqual(['_ZN1a1cEv']);
    expect(missing.stats()).toMatchObject({ failed: 2, demangled: 0 });
    missing.close();
  });

  it('kills a c++filt that does not answer by the deadline and starts a new one next time', async () => {
    const stuck = join(dir, 'stuck.sh');
    writeFileSync(stuck, '#!/bin/sh\nexec sleep 30\n');
    chmodSync(stuck, 0o755);
    const slow = createDemangler({ command: stuck, timeoutMs: 300 });
    const t0 = Date.now();
    expect(await slow.demangleAll(['_ZN1a1bEv'])).toEqual(['_ZN1a1bEv']);
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(await slow.demangleAll(['_ZN1a1cEv'])).toEqual(['_ZN1a1cEv']);
    expect(slow.stats()).toMatchObject({ failed: 2, starts: 2 });
    slow.close();
  });
});
