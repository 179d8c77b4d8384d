import { describe, expect, it } from 'vitest';
import { expectInvalid } from './expect-invalid';
import { sanitizeLabelName, sanitizeLabelNames } from './labels';
import { parseSampleTypeConfig, pyroscopeProfileName, pyroscopeSeriesLabels } from './pyroscope-ingest';

describe(sanitizeLabelName.name, () => {
  it("turns dots into underscores like Pyroscope's legacy rule, and other characters too", () => {
    expect(sanitizeLabelName('otel.scope.name')).toBe('otel_scope_name');
    expect(sanitizeLabelName('process.runtime.version')).toBe('process_runtime_version');
    expect(sanitizeLabelName('http-route')).toBe('http_route');
    expect(sanitizeLabelName('1st')).toBe('_1st');
    expect(sanitizeLabelName('ok_name')).toBe('ok_name');
  });
});

describe(sanitizeLabelNames.name, () => {
  it('merges names that collide with equal values and rejects them with different values', () => {
    expect(
      sanitizeLabelNames([
        ['a.b', '1'],
        ['a_b', '1'],
        ['c', '2'],
      ]),
    ).toEqual([
      ['a_b', '1'],
      ['c', '2'],
    ]);
    expectInvalid(
      () =>
        sanitizeLabelNames([
          ['a.b', '1'],
          ['a_b', '2'],
        ]),
      /"a\.b" and "a_b" both become "a_b"/,
    );
    expectInvalid(() => sanitizeLabelNames([['', 'x']]), /empty label name/);
  });
});

describe(pyroscopeSeriesLabels.name, () => {
  // What @pyroscope/nodejs 0.6 sends, verbatim.
  const nodeName =
    'my-app{otel.scope.name=com.grafana.pyroscope/nodejs,otel.scope.version=0.6.4,process.runtime.name=nodejs,process.runtime.version=v20.20.2,env=dev}';

  it("keeps the Node SDK's tags under sanitized names, with service_name and pyroscope_spy", () => {
    const s = pyroscopeSeriesLabels({ name: nodeName, format: 'pprof', spyName: 'nodespy' });
    expect(Object.fromEntries(s.labels)).toEqual({
      otel_scope_name: 'com.grafana.pyroscope/nodejs',
      otel_scope_version: '0.6.4',
      process_runtime_name: 'nodejs',
      process_runtime_version: 'v20.20.2',
      env: 'dev',
      service_name: 'my-app',
      pyroscope_spy: 'nodespy',
    });
  });

  it('names the service like Pyroscope: whole name for pprof, kind suffix cut for folded, a service_name tag wins', () => {
    const svc = (name: string, format: 'pprof' | 'folded') => Object.fromEntries(pyroscopeSeriesLabels({ name, format }).labels);
    expect(svc('shop.cpu', 'pprof')).toMatchObject({ service_name: 'shop.cpu', pyroscope_spy: 'unknown' });
    expect(svc('shop.cpu', 'folded')).toMatchObject({ service_name: 'shop' });
    expect(pyroscopeSeriesLabels({ name: 'shop.alloc_space', format: 'folded' }).sampleType).toBe('alloc_space');
    expect(svc('shop.cpu{service_name=other}', 'folded')).toMatchObject({ service_name: 'other', app_name: 'shop' });
    expect(svc('shop{service_name=other}', 'pprof')).toEqual({ service_name: 'other', pyroscope_spy: 'unknown' });
  });

  it('drops private tags except __session_id__', () => {
    const s = Object.fromEntries(pyroscopeSeriesLabels({ name: 'a{__name__=x,__session_id__=abc,__delta__=false}', format: 'pprof' }).labels);
    expect(s).toEqual({ __session_id__: 'abc', service_name: 'a', pyroscope_spy: 'unknown' });
  });
});

describe(pyroscopeProfileName.name, () => {
  it('derives the name from sample types as Pyroscope does', () => {
    expect(pyroscopeProfileName(['samples', 'wall'])).toBe('wall'); // Node.js wall profiler
    expect(pyroscopeProfileName(['samples', 'wall', 'cpu'])).toBe('wall'); // ... with CPU time
    expect(pyroscopeProfileName(['inuse_objects', 'inuse_space'])).toBe('memory'); // Node.js heap
    expect(pyroscopeProfileName(['objects', 'space'])).toBe('memory');
    expect(pyroscopeProfileName(['samples', 'cpu'])).toBe('process_cpu'); // Go CPU
    expect(pyroscopeProfileName(['alloc_objects', 'alloc_space', 'inuse_objects', 'inuse_space'])).toBe('memory');
    expect(pyroscopeProfileName(['goroutine'])).toBe('goroutines');
    expect(pyroscopeProfileName(['contentions', 'delay'])).toBe('mutex');
    expect(pyroscopeProfileName(['exceptions'])).toBe('exceptions');
  });

  it("uses a sample_type_config's display names instead of the defaults", () => {
    const block = parseSampleTypeConfig('{"contentions":{"display-name":"block_count","units":"lock_samples"},"delay":{"display-name":"block_duration"}}');
    expect(pyroscopeProfileName(['contentions', 'delay'], block)).toBe('block');
    expectInvalid(() => parseSampleTypeConfig('[1]'), /JSON object/);
    expectInvalid(() => parseSampleTypeConfig('{"a":{"display-name":3}}'), /display-name/);
  });
});
