import { describe, expect, it } from 'vitest';
import { isFirnError } from '@firn/errors';
import { tenantFromTrustedSource } from '@firn/tenancy';
import { newSegmentId, segmentDay, segmentIdTimeMs, segmentKeys } from './segment-keys';

const acme = tenantFromTrustedSource('acme');

function expectInvalid(fn: () => unknown, message: RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(isFirnError(err, 'invalid_argument'), String(err)).toBe(true);
  expect((err as Error).message).toMatch(message);
}

describe(segmentKeys.name, () => {
  it('builds the object keys under the tenant prefix', () => {
    expect(segmentKeys(acme, 0, '018bcfe56800a1b2c3d4e5f60718', '2023-11-14')).toEqual({
      samples: 'tenants/acme/segments/L0/2023-11-14/018bcfe56800a1b2c3d4e5f60718/samples.parquet',
      stacks: 'tenants/acme/segments/L0/2023-11-14/018bcfe56800a1b2c3d4e5f60718/stacks.parquet',
      series: 'tenants/acme/segments/L0/2023-11-14/018bcfe56800a1b2c3d4e5f60718/series.arrow.gz',
    });
  });

  it('rejects bad inputs, naming them', () => {
    const id = newSegmentId(1);
    // A tenant that could escape its prefix is refused before it is a TenantId.
    expectInvalid(() => segmentKeys(tenantFromTrustedSource('a/b'), 0, id, '2023-11-14'), /tenant id/);
    expectInvalid(() => segmentKeys(acme, -1, id, '2023-11-14'), /level/);
    expectInvalid(() => segmentKeys(acme, 1.5, id, '2023-11-14'), /level/);
    expectInvalid(() => segmentKeys(acme, 0, '../x', '2023-11-14'), /segment id/);
    expectInvalid(() => segmentKeys(acme, 0, 'a/b', '2023-11-14'), /segment id/);
    expectInvalid(() => segmentKeys(acme, 0, id, '2023-02-30'), /yyyy-mm-dd/);
    expectInvalid(() => segmentKeys(acme, 0, id, '20231114'), /yyyy-mm-dd/);
  });
});

describe(newSegmentId.name, () => {
  it('is time-sortable, unique, and encodes its creation time', () => {
    const ids = [newSegmentId(1_700_000_000_000), newSegmentId(1_700_000_000_000), newSegmentId(1_700_000_000_001)];
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{28}$/);
    expect(new Set(ids).size).toBe(3);
    expect(ids[2] > ids[0] && ids[2] > ids[1]).toBe(true);
    expect(segmentIdTimeMs(ids[2])).toBe(1_700_000_000_001);
    expect(newSegmentId(255, (n) => new Uint8Array(n).fill(1))).toBe('0000000000ff0101010101010101');
  });

  it('rejects times outside [0, 2^48)', () => {
    expectInvalid(() => newSegmentId(-1), /2\^48/);
    expectInvalid(() => newSegmentId(2 ** 48), /2\^48/);
    expectInvalid(() => newSegmentId(1.5), /2\^48/);
  });
});

describe(segmentDay.name, () => {
  it('gives the UTC day', () => {
    expect(segmentDay(Date.UTC(2024, 1, 29, 23, 59, 59, 999))).toBe('2024-02-29');
  });
});
