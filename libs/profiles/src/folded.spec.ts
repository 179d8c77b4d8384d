import { FirnError } from '@firn/errors';
import { describe, expect, it } from 'vitest';
import { parsePyroscopeName, pyroscopeProfileType, samplesFromFolded } from './folded';
import { batchTotal } from './sample-batch';

const base = { seriesLabels: [['service_name', 'app']] as Array<[string, string]>, fromMs: 1_700_000_000_000, untilMs: 1_700_000_010_000 };

describe(samplesFromFolded.name, () => {
  it('parses root-first lines into leaf-first stacks, scaling cpu counts by the period', () => {
    const b = samplesFromFolded('main;work;leaf 3\nmain;work;leaf 2\r\n\nmain;idle 1\n', base);
    expect(b.profileTypes).toEqual(['process_cpu:cpu:nanoseconds:cpu:nanoseconds:delta']);
    expect(b.stacks.map((s) => s.map((f) => f.functionName))).toEqual([
      ['leaf', 'work', 'main'],
      ['idle', 'main'],
    ]);
    expect([...b.value]).toEqual([5 * 10_000_000, 10_000_000]);
    expect([...new Set(b.timestampMs)]).toEqual([base.fromMs]);
    expect([...new Set(b.durationNs)]).toEqual([10e9]);
    expect([...new Set(b.periodNs)]).toEqual([10_000_000]);
    expect(b.series).toEqual([[['service_name', 'app']]]);
  });

  it('keeps raw values for non-timed types and honours sampleRate', () => {
    const heap = samplesFromFolded('a;b 100\n', { ...base, sampleType: 'inuse_space' });
    expect(heap.profileTypes).toEqual(['memory:inuse_space:bytes::']);
    expect(batchTotal(heap)).toBe(100);
    const cpu = samplesFromFolded('a 2\n', { ...base, sampleRate: 19 });
    expect(batchTotal(cpu)).toBe(2 * 52_631_578);
  });

  it('truncates to maxStackDepth keeping leaf frames', () => {
    const b = samplesFromFolded('r;m;l 1\n', { ...base, limits: { maxStackDepth: 2 } });
    expect(b.stacks[0].map((f) => f.functionName)).toEqual(['l', 'm']);
    expect(b.truncatedStacks).toBe(1);
  });

  it('rejects bad lines naming the line number', () => {
    for (const [text, re] of [
      ['a;b 1\nnospace\n', /folded line 2/],
      ['a;b 1\na;b x\n', /line 2: count "x"/],
      ['a;b -1\n', /line 1: count "-1"/],
      [`a ${'9'.repeat(30)}\n`, /line 1: count .* too large/],
    ] as const) {
      expect(() => samplesFromFolded(text, base)).toThrow(re);
    }
    expect(() => samplesFromFolded('a 1\nb 1\nc 1\n', { ...base, limits: { maxSamples: 2 } })).toThrow(FirnError);
    expect(() => samplesFromFolded('a 1\n', { ...base, sampleType: 'nope' })).toThrow(/unknown Pyroscope profile type "nope"/);
  });
});

describe(parsePyroscopeName.name, () => {
  it('splits app, kind and labels', () => {
    expect(parsePyroscopeName('my.app.cpu{env=prod, region=eu}')).toEqual({
      appName: 'my.app',
      sampleType: 'cpu',
      labels: [
        ['env', 'prod'],
        ['region', 'eu'],
      ],
    });
    expect(parsePyroscopeName('svc.alloc_space')).toEqual({ appName: 'svc', sampleType: 'alloc_space', labels: [] });
    expect(parsePyroscopeName('svc.v2{}')).toEqual({ appName: 'svc.v2', sampleType: 'cpu', labels: [] });
    expect(() => parsePyroscopeName('svc{a}')).toThrow(/not key=value/);
    expect(() => parsePyroscopeName('{a=b}')).toThrow(/empty application name/);
  });

  it('maps kinds like Pyroscope does', () => {
    expect(pyroscopeProfileType('mutex_duration', 100).profileType).toMatchObject({
      name: 'mutex',
      sampleType: 'delay',
      sampleUnit: 'nanoseconds',
      delta: true,
    });
    expect(pyroscopeProfileType('goroutines', 100).profileType.delta).toBe(false);
  });
});
