import { create } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import type { Frame } from '@firn/profiles';
import { queryV1alpha1 as Q } from '@firn/proto';
import { applyFilters } from './stack-filters';

const fr = (fn: string, bin = '/usr/bin/app'): Frame => ({
  buildId: 'b',
  mappingFile: bin,
  address: 1n,
  functionName: fn,
  fileName: 'x.c',
  line: 1,
  inlined: false,
});
const profile = {
  profileType: 'parca_agent:samples:count:cpu:nanoseconds:delta',
  stacks: [
    [fr('hash'), fr('work'), fr('main')],
    [fr('memcpy', '/lib/libc.so.6'), fr('work'), fr('main')],
    [fr('sleep'), fr('main')],
  ],
  values: Float64Array.from([5, 3, 2]),
  total: 10,
};

const stackFilter = (fn: string, exclude = false) =>
  create(Q.FilterSchema, {
    filter: {
      case: 'stackFilter',
      value: create(Q.StackFilterSchema, {
        filter: { case: 'functionNameStackFilter', value: create(Q.FunctionNameStackFilterSchema, { functionToFilter: fn, exclude }) },
      }),
    },
  });

describe(applyFilters.name, () => {
  it('keeps or excludes whole stacks by function name', () => {
    expect(applyFilters(profile, [stackFilter('WORK')]).profile.total).toBe(8);
    const ex = applyFilters(profile, [stackFilter('work', true)]);
    expect(ex.profile.total).toBe(2);
    expect(ex.filteredOut).toBe(8);
  });

  it('keeps only frames of the chosen binaries and ANDs filters', () => {
    const binOnly = create(Q.FilterSchema, {
      filter: {
        case: 'frameFilter',
        value: create(Q.FrameFilterSchema, {
          filter: { case: 'binaryFrameFilter', value: create(Q.BinaryFrameFilterSchema, { includeBinaries: ['libc.so.6'] }) },
        }),
      },
    });
    const r = applyFilters(profile, [binOnly]);
    expect(r.profile.stacks.map((s) => s.map((f) => f.functionName))).toEqual([['memcpy']]);
    expect(r.profile.total).toBe(3);
    expect(applyFilters(profile, [stackFilter('main'), stackFilter('sleep', true)]).profile.total).toBe(8);
  });
});
