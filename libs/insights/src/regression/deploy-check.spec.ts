import { describe, expect, it } from 'vitest';
import { labelSightings, latestDeploy, parseDeployChecks } from './deploy-check';

const seg = (minMs: number, maxMs: number, versions: string[], truncated = false) => ({ minMs, maxMs, labels: [{ name: 'version', values: versions, truncated }] });

describe(latestDeploy.name, () => {
  const H = 3600_000;

  it('compares the newest value with the one before it once it has settled', () => {
    const s = labelSightings([seg(0, H, ['1.0']), seg(H, 2 * H, ['1.0', '1.1']), seg(2 * H, 3 * H, ['1.1']), seg(0, 3 * H, ['9'], true)], 'version');
    expect([...s.keys()].sort()).toEqual(['1.0', '1.1']);
    const c = { windowMs: 30 * 60_000, settleMs: 10 * 60_000 };
    expect(latestDeploy(s, H + 5 * 60_000, c)).toBeUndefined();
    // 1.1 first seen at 1 h; 1.0 ran until 2 h (rolling deploy): the baseline ends where 1.1 began.
    expect(latestDeploy(s, H + 20 * 60_000, c)).toEqual({
      baseline: { value: '1.0', startMs: H - 30 * 60_000, endMs: H },
      target: { value: '1.1', startMs: H, endMs: H + 20 * 60_000 },
    });
    expect(latestDeploy(s, 5 * H, c)?.target.endMs).toBe(H + 30 * 60_000);
    expect(latestDeploy(labelSightings([seg(0, H, ['1.0'])], 'version'), 5 * H, c)).toBeUndefined();
  });

  it('parses a checks file and names a bad key', () => {
    const checks = parseDeployChecks('checks:\n  - {tenant: acme, name: api, query: "cpu:samples:count:cpu:nanoseconds{service=\\"api\\"}", label: version, webhook: "http://hooks/x", window: 1h}\n', 'x.yaml');
    expect(checks).toEqual([{ tenant: 'acme', name: 'api', query: 'cpu:samples:count:cpu:nanoseconds{service="api"}', label: 'version', webhook: 'http://hooks/x', windowMs: 3600_000, settleMs: 600_000 }]);
    expect(() => parseDeployChecks('checks:\n  - {tenant: acme, name: api, query: q, label: v, webhook: nope}\n', 'x.yaml')).toThrow(/checks\.0\.webhook/);
    expect(() => parseDeployChecks('checks:\n  - {tenant: acme, name: api, query: q, label: v, webhook: "http://h", window: soon}\n', 'x.yaml')).toThrow(/checks\.0\.window/);
  });
});
