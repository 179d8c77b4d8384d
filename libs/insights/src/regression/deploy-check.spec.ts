import { describe, expect, it } from 'vitest';
import { knownAfterReport, labelSightings, latestDeploy, MAX_KNOWN_VALUES, parseDeployChecks, shouldClaim, type DeployClaim } from './deploy-check';

const H = 3600_000;
const M = 60_000;
const seg = (minMs: number, maxMs: number, versions: string[], truncated = false) => ({
  minMs,
  maxMs,
  labels: [{ name: 'version', values: versions, truncated }],
});
const c = { windowMs: 30 * M, settleMs: 10 * M };

describe(labelSightings.name, () => {
  it('gives each value its first and last time over the segments that hold it', () => {
    const s = labelSightings([seg(2 * H, 3 * H, ['b']), seg(0, H, ['a']), seg(H, 2 * H, ['a', 'b'])], 'version');
    expect(Object.fromEntries(s)).toEqual({ a: { firstMs: 0, lastMs: 2 * H }, b: { firstMs: H, lastMs: 3 * H } });
  });

  it('skips segments whose summary is truncated or lacks the label', () => {
    const other = { minMs: 0, maxMs: H, labels: [{ name: 'pod', values: ['p'], truncated: false }] };
    const s = labelSightings([seg(0, 5 * H, ['x'], true), other, seg(H, 2 * H, ['a'])], 'version');
    expect(Object.fromEntries(s)).toEqual({ a: { firstMs: H, lastMs: 2 * H } });
  });
});

describe(latestDeploy.name, () => {
  it('compares the newest value with the one before it once it has settled', () => {
    const s = labelSightings([seg(0, H, ['1.0']), seg(H, 2 * H, ['1.0', '1.1']), seg(2 * H, 3 * H, ['1.1']), seg(0, 3 * H, ['9'], true)], 'version');
    expect([...s.keys()].sort()).toEqual(['1.0', '1.1']);
    expect(latestDeploy(s, H + 5 * M, c)).toBeUndefined();
    // 1.1 first seen at 1 h; 1.0 ran until 2 h (rolling deploy): the baseline ends where 1.1 began.
    expect(latestDeploy(s, H + 20 * M, c)).toEqual({
      baseline: { value: '1.0', startMs: H - 30 * M, endMs: H },
      target: { value: '1.1', startMs: H, endMs: H + 20 * M },
    });
    expect(latestDeploy(s, 5 * H, c)?.target.endMs).toBe(H + 30 * M);
  });

  it('does nothing with a single value, or none', () => {
    expect(latestDeploy(labelSightings([seg(0, H, ['1.0'])], 'version'), 5 * H, c)).toBeUndefined();
    expect(latestDeploy(new Map(), 5 * H, c)).toBeUndefined();
  });

  it('takes the last two of several deploys, the baseline clipped to where the previous value began', () => {
    const s = new Map([
      ['1.0', { firstMs: 0, lastMs: 2 * H }],
      ['1.2', { firstMs: 2 * H + 10 * M, lastMs: 4 * H }],
      ['1.1', { firstMs: 2 * H, lastMs: 2 * H + 10 * M }],
    ]);
    expect(latestDeploy(s, 4 * H, c)).toEqual({
      baseline: { value: '1.1', startMs: 2 * H, endMs: 2 * H + 10 * M },
      target: { value: '1.2', startMs: 2 * H + 10 * M, endMs: 2 * H + 40 * M },
    });
  });

  it('uses the previous value last window when it stopped before the new one started', () => {
    const s = new Map([
      ['a', { firstMs: 0, lastMs: H }],
      ['b', { firstMs: 3 * H, lastMs: 4 * H }],
    ]);
    expect(latestDeploy(s, 4 * H, c)?.baseline).toEqual({ value: 'a', startMs: H + 1 - 30 * M, endMs: H + 1 });
  });

  it('does not report a value already known, and ranks a known value older than an unknown one first seen at the same time', () => {
    const sightings = new Map([
      ['1.0', { firstMs: 0, lastMs: 2 * H }],
      ['1.1', { firstMs: H, lastMs: 3 * H }],
    ]);
    expect(latestDeploy(sightings, 3 * H, c, new Set(['1.0', '1.1']))).toBeUndefined();
    // Compaction merged both versions' first segments into one block: equal first times.
    // Lexically "v10" < "v9"; the known value still counts as the older one.
    const tied = new Map([
      ['v9', { firstMs: 0, lastMs: H }],
      ['v10', { firstMs: 0, lastMs: H }],
    ]);
    expect(latestDeploy(tied, 2 * H, c, new Set(['v9', 'v10']))).toBeUndefined();
    expect(latestDeploy(tied, 2 * H, c, new Set(['v9']))?.target.value).toBe('v10');
    expect(latestDeploy(tied, 2 * H, c, new Set(['v10']))?.target.value).toBe('v9');
  });

  it('never compares against an empty baseline: equal first times compare the last windows', () => {
    const tied = new Map([
      ['1.0', { firstMs: 0, lastMs: H }],
      ['1.1', { firstMs: 0, lastMs: 2 * H }],
    ]);
    expect(latestDeploy(tied, 2 * H, c, new Set(['1.0']))).toEqual({
      baseline: { value: '1.0', startMs: H + 1 - 30 * M, endMs: H + 1 },
      target: { value: '1.1', startMs: 0, endMs: 30 * M },
    });
    // With no settle time, a value that appeared this instant has no target range yet.
    const now = new Map([
      ['1.0', { firstMs: 0, lastMs: H }],
      ['1.1', { firstMs: H, lastMs: H }],
    ]);
    expect(latestDeploy(now, H, { windowMs: 30 * M, settleMs: 0 })).toBeUndefined();
    expect(latestDeploy(now, H + 1, { windowMs: 30 * M, settleMs: 0 })?.target).toEqual({ value: '1.1', startMs: H, endMs: H + 1 });
  });
});

describe(shouldClaim.name, () => {
  const claim = (state: DeployClaim['state'], atMs: number): DeployClaim => ({ target: '1.1', state, atMs, owner: 'q1' });
  const stale = 5 * M;

  it('claims a deploy nobody reported, and a newer one than the last reported', () => {
    expect(shouldClaim(undefined, '1.1', H, stale)).toBe(true);
    expect(shouldClaim(claim('sent', 0), '1.2', H, stale)).toBe(true);
  });

  it('never reports the same deploy twice, nor while another querier sends it', () => {
    expect(shouldClaim(claim('sent', 0), '1.1', 100 * H, stale)).toBe(false);
    expect(shouldClaim(claim('sending', H), '1.1', H + stale - 1, stale)).toBe(false);
  });

  it('takes over a stale claim (a crashed querier) and retries a failed one at once', () => {
    expect(shouldClaim(claim('sending', H), '1.1', H + stale, stale)).toBe(true);
    expect(shouldClaim(claim('failed', H), '1.1', H + 1, stale)).toBe(true);
  });
});

describe(knownAfterReport.name, () => {
  it('records the reported values and every older one, newest last, bounded', () => {
    const sightings = new Map([
      ['1.1', { firstMs: H, lastMs: 3 * H }],
      ['1.0', { firstMs: 0, lastMs: 2 * H }],
      ['0.9', { firstMs: -H, lastMs: 0 }],
    ]);
    const d = { baseline: { value: '1.0', startMs: 0, endMs: H }, target: { value: '1.1', startMs: H, endMs: 2 * H } };
    expect(knownAfterReport(undefined, sightings, d)).toEqual(['0.9', '1.0', '1.1']);
    const prev: DeployClaim = { target: '0.9', state: 'sent', atMs: 0, owner: 'q', known: ['0.8', '0.9'] };
    expect(knownAfterReport(prev, sightings, d)).toEqual(['0.8', '0.9', '1.0', '1.1']);
    const many: DeployClaim = { ...prev, known: Array.from({ length: MAX_KNOWN_VALUES + 10 }, (_, i) => `old-${i}`) };
    const k = knownAfterReport(many, sightings, d);
    expect(k).toHaveLength(MAX_KNOWN_VALUES);
    expect(k.slice(-3)).toEqual(['0.9', '1.0', '1.1']);
  });
});

describe(parseDeployChecks.name, () => {
  it('parses a checks file with defaults for window and settle', () => {
    const checks = parseDeployChecks(
      'checks:\n  - {tenant: acme, name: api, query: "cpu:samples:count:cpu:nanoseconds{service=\\"api\\"}", label: version, webhook: "http://hooks/x", window: 1h}\n',
      'x.yaml',
    );
    expect(checks).toEqual([
      {
        tenant: 'acme',
        name: 'api',
        query: 'cpu:samples:count:cpu:nanoseconds{service="api"}',
        label: 'version',
        webhook: 'http://hooks/x',
        windowMs: 3600_000,
        settleMs: 600_000,
      },
    ]);
    expect(parseDeployChecks('', 'empty.yaml')).toEqual([]);
    expect(
      parseDeployChecks(
        '{"checks": [{"tenant": "t", "name": "n", "query": "q", "label": "v", "webhook": "https://h/x", "window": "45s", "settle": "2d"}]}',
        'x.json',
      )[0],
    ).toMatchObject({ windowMs: 45_000, settleMs: 2 * 86_400_000 });
    expect(
      parseDeployChecks(
        '{"checks": [{"tenant": "t", "name": "n", "query": "q", "label": "v", "webhook": "https://h/x", "window": "1h30m", "settle": "500ms"}]}',
        'x.json',
      )[0],
    ).toMatchObject({ windowMs: 5_400_000, settleMs: 500 });
  });

  it('names the bad key of an invalid file', () => {
    const one = (fields: string) => () =>
      parseDeployChecks(`checks:\n  - {tenant: acme, name: api, query: q, label: v, webhook: "http://h", ${fields}}\n`, 'x.yaml');
    expect(() => parseDeployChecks('checks:\n  - {tenant: acme, name: api, query: q, label: v, webhook: nope}\n', 'x.yaml')).toThrow(/checks\.0\.webhook/);
    expect(one('window: soon')).toThrow(/checks\.0\.window.*"soon" is not a duration/);
    expect(one('settle: 10')).toThrow(/checks\.0\.settle/);
    expect(one('colour: red')).toThrow(/x\.yaml: checks\.0.*colour/);
    expect(() => parseDeployChecks('checks:\n  - {tenant: "Acme!", name: api, query: q, label: v, webhook: "http://h"}\n', 'x.yaml')).toThrow(
      /checks\.0\.tenant: a tenant id/,
    );
    expect(() => parseDeployChecks('checks:\n  - {tenant: acme, name: api, query: q, label: v}\n', 'x.yaml')).toThrow(/checks\.0\.webhook/);
    expect(() => parseDeployChecks('checks: [ {', 'x.yaml')).toThrow(/x\.yaml is not valid YAML\/JSON/);
    const twice =
      'checks:\n  - {tenant: acme, name: api, query: q, label: v, webhook: "http://h"}\n  - {tenant: acme, name: api, query: q2, label: v, webhook: "http://h"}\n';
    expect(() => parseDeployChecks(twice, 'x.yaml')).toThrow(/checks\.1: tenant acme has two checks named api/);
  });
});
