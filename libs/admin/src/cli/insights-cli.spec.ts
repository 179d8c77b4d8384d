import { describe, expect, it } from 'vitest';
import { runCli } from './cli';
import { withMatcher } from '@firn/profiles';
import { fakeCliIo } from '../testing/fake-cli-io';
import { INSIGHTS_COMMANDS, parseTime } from './insights-cli';

/** The CLI's io with a fetch that answers `body` (the wall clock as now: relative times). */
function io(body: unknown, status = 200) {
  return fakeCliIo(() => new Response(JSON.stringify(body), { status }), { nowMs: Date.now() });
}

const env = { FIRN_URL: 'http://q:4102', FIRN_TOKEN: 'firn_r_x' };

describe('firn cost | regression | pgo | usage', () => {
  it('prints --help for every command and exits 0', async () => {
    for (const c of INSIGHTS_COMMANDS) {
      const t = io({});
      expect(await runCli([c, '--help'], {}, t.io)).toBe(0);
      expect(t.out.join('\n')).toMatch(new RegExp(`^usage: firn ${c}`));
      expect(t.calls).toEqual([]);
    }
  });

  it('asks the InsightsService for a cost report grouped by labels and prints CSV as the server rendered it', async () => {
    const t = io({ groups: [], text: 'namespace,samples\nshop,19\n' });
    const code = await runCli(
      [
        'cost',
        '--query',
        'cpu:samples:count:cpu:nanoseconds{a="b"}',
        '--from',
        '2026-01-01T00:00:00Z',
        '--to',
        '2026-01-01T01:00:00Z',
        '--group-by',
        'namespace, pod',
        '--format',
        'csv',
      ],
      env,
      t.io,
    );
    expect(code).toBe(0);
    expect(t.calls[0].url).toBe('http://q:4102/firn.insights.v1.InsightsService/CostReport');
    expect((t.calls[0].init.headers as Record<string, string>)['authorization']).toBe('Bearer firn_r_x');
    expect(JSON.parse(String(t.calls[0].init.body))).toEqual({
      selection: { query: 'cpu:samples:count:cpu:nanoseconds{a="b"}', start: '2026-01-01T00:00:00.000Z', end: '2026-01-01T01:00:00.000Z' },
      groupBy: ['namespace', 'pod'],
      topFunctions: 0,
      format: 'COST_FORMAT_CSV',
      stepSeconds: 0,
    });
    expect(t.out).toEqual(['namespace,samples\nshop,19']);
  });

  it('compares two label values with the label matcher added to the query', async () => {
    const t = io({
      offenders: [
        { functionName: 'hash', metric: 'METRIC_SELF', self: { relativeChange: 0.1, adjustedPValue: 1e-9 }, impactCpuSeconds: 12, impactCores: 0.01 },
      ],
      improvements: [],
      method: 'm',
    });
    expect(
      await runCli(
        ['regression', '--query', 'cpu:samples:count:cpu:nanoseconds{service="api"}', '--label', 'version', '--baseline', '1.4', '--target', '1.5'],
        env,
        t.io,
      ),
    ).toBe(0);
    const body = JSON.parse(String(t.calls[0].init.body));
    expect(body.baseline.query).toBe('cpu:samples:count:cpu:nanoseconds{service="api", version="1.4"}');
    expect(body.target.query).toBe('cpu:samples:count:cpu:nanoseconds{service="api", version="1.5"}');
    expect(t.out[1]).toMatch(/^ {2}hash\tself \+10\.0%\t12\.00 CPU-s/);
  });

  it('writes the PGO profile the server returned to a file', async () => {
    const t = io({ profile: Buffer.from('main:10:1\n 1: 10\n').toString('base64'), fileName: 'app.prof', buildId: 'ab', functions: 1 });
    expect(await runCli(['pgo', '--query', 'cpu:samples:count:cpu:nanoseconds', '--executable', 'app', '--format', 'llvm'], env, t.io)).toBe(0);
    expect(Buffer.from(t.files.get('app.prof') ?? []).toString()).toBe('main:10:1\n 1: 10\n');
    expect(JSON.parse(String(t.calls[0].init.body))).toMatchObject({ executable: 'app', format: 'PGO_FORMAT_LLVM_SAMPLE_TEXT' });
  });

  it('reads usage with an admin credential', async () => {
    const t = io({ usage: [{ tenant: 'acme', ingestedSamples: '19', queries: '2', queryCpuSeconds: 0.5 }] });
    expect(await runCli(['usage', '--tenant', 'acme', '--tenant', 'globex'], { FIRN_URL: 'http://q', FIRN_ADMIN_TOKEN: 'adm' }, t.io)).toBe(0);
    expect(t.calls[0].url).toBe('http://q/api/v1/admin/usage?tenant=acme&tenant=globex');
    expect(t.calls[0].init.method).toBe('GET');
    expect(t.out[1]).toBe('acme\t19\t0\t0\t2\t0.500');
  });

  it('exits 2 on usage errors, naming what is wrong, and 1 on API errors', async () => {
    const t = io({ message: 'no debug info for build id ab' }, 400);
    expect(await runCli(['cost', '--query', 'x'], {}, t.io)).toBe(2);
    expect(t.err.at(-1)).toMatch(/^an API token with read:profiles is required/);
    expect(await runCli(['pgo', '--query', 'x', '--format', 'go'], env, t.io)).toBe(2);
    expect(t.err.at(-1)).toMatch(/^choose the binary/);
    expect(await runCli(['regression', '--query', 'x', '--from', 'yesterday'], env, t.io)).toBe(2);
    expect(await runCli(['cost', '--query', 'x', '--format', 'openmetrics'], env, t.io)).toBe(2);
    expect(await runCli(['pgo', '--query', 'x', '--format', 'go', '--build-id', 'ab'], env, t.io)).toBe(1);
    expect(t.err.at(-1)).toBe('error 400: no debug info for build id ab');
  });

  it('parses times and adds matchers', () => {
    const now = Date.UTC(2026, 0, 2);
    expect(parseTime('now-1h', now)).toBe(now - 3600_000);
    expect(parseTime('-7d', now)).toBe(now - 7 * 86_400_000);
    expect(parseTime('1767225600', now)).toBe(1_767_225_600_000);
    expect(withMatcher('cpu:a:b:c:d', 'v', '1')).toBe('cpu:a:b:c:d{v="1"}');
    expect(withMatcher('cpu:a:b:c:d{}', 'v', '1')).toBe('cpu:a:b:c:d{v="1"}');
  });
});
