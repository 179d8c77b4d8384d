import type { Frame } from '@firn/profiles';
import { frameContent } from '@firn/profiles';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameIds, keyIds } from './profile-input';

const frame = (name: string, address = 0x10n): Frame => ({
  buildId: 'ab',
  mappingFile: '/bin/x',
  address,
  functionName: name,
  fileName: 'x.go',
  line: 1,
  inlined: false,
});

/** What FrameIds answers, by one map of contents per instance. */
class ReferenceIds {
  readonly frames: Frame[] = [];
  private readonly byContent = new Map<string, number>();
  idOf(f: Frame): number {
    const c = frameContent(f);
    let id = this.byContent.get(c);
    if (id === undefined) this.byContent.set(c, (id = this.frames.push(f) - 1));
    return id;
  }
}

describe('FrameIds', () => {
  it('gives equal contents one id, in order of first sight, keeping the first object', () => {
    const a = frame('a');
    const b = frame('b');
    const ids = new FrameIds();
    expect([a, b, frame('a'), b, frame('c'), a].map((f) => ids.idOf(f))).toEqual([0, 1, 0, 1, 2, 0]);
    expect(ids.frames.map((f) => f.functionName)).toEqual(['a', 'b', 'c']);
    expect(ids.frames[0]).toBe(a);
  });

  it('answers as one content map per instance, whatever other instances do in between', () => {
    const names = ['a', 'b', 'c', 'd', 'e', 'f'];
    const step = fc.record({ who: fc.nat(2), name: fc.constantFrom(...names), address: fc.constantFrom(0x10n, 0x20n), fresh: fc.boolean() });
    fc.assert(
      fc.property(fc.array(step, { maxLength: 80 }), (steps) => {
        const shared = new Map<string, Frame>();
        const ours = [new FrameIds(), new FrameIds(), new FrameIds()];
        const refs = [new ReferenceIds(), new ReferenceIds(), new ReferenceIds()];
        for (const s of steps) {
          const key = `${s.name}@${s.address}`;
          // The same object again, or a new object of the same content.
          const f = s.fresh || !shared.has(key) ? frame(s.name, s.address) : shared.get(key)!;
          shared.set(key, f);
          expect(ours[s.who].idOf(f)).toBe(refs[s.who].idOf(f));
        }
        ours.forEach((o, i) => expect(o.frames).toEqual(refs[i].frames));
      }),
      { numRuns: 300 },
    );
  });
});

describe('keyIds', () => {
  const byName = (f: Frame): string => f.functionName;
  const byAddress = (f: Frame): string => `addr ${f.address}`;

  it('numbered per frame (cacheAs) answers what it answers without, call after call over shared and new frames (property)', () => {
    // Names that collide with an unnamed frame's key: named and unnamed keys stay apart.
    const names = ['', '', 'a', 'b', 'addr 16', 'addr 32'];
    const step = fc.record({ name: fc.constantFrom(...names), address: fc.constantFrom(0x10n, 0x20n, 0x30n), fresh: fc.boolean() });
    const cacheAs = `spec-${Math.random()}`;
    fc.assert(
      fc.property(fc.array(fc.array(step, { maxLength: 40 }), { maxLength: 6 }), (calls) => {
        const shared = new Map<string, Frame>();
        for (const steps of calls) {
          const frames = steps.map((s) => {
            const key = `${s.name}@${s.address}`;
            const f = s.fresh || !shared.has(key) ? frame(s.name, s.address) : shared.get(key)!;
            shared.set(key, f);
            return f;
          });
          expect(keyIds(frames, byName, byAddress, cacheAs)).toEqual(keyIds(frames, byName, byAddress));
          expect(keyIds(frames, byName, undefined, `${cacheAs}-names`)).toEqual(keyIds(frames, byName));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('keeps its dense ids when the numbering outgrows its first scratch', () => {
    const frames = Array.from({ length: 3000 }, (_, i) => frame(`f${i % 2500}`));
    const cacheAs = `spec-big-${Math.random()}`;
    expect(keyIds(frames, byName, undefined, cacheAs)).toEqual(keyIds(frames, byName));
    expect(keyIds([...frames].reverse(), byName, undefined, cacheAs)).toEqual(keyIds([...frames].reverse(), byName));
  });
});
