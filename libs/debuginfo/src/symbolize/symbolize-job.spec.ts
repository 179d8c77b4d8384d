import { describe, expect, it } from 'vitest';
import { FirnError } from '@firn/errors';
import { tenantFromTrustedSource } from '@firn/tenancy';
import { decodeJob, encodeJob, tenantOfSubject, symbolizeSubject } from './symbolize-job';

describe(decodeJob.name, () => {
  it('round-trips jobs and rejects malformed ones with invalid_argument', () => {
    const job = { kind: 'addresses' as const, buildId: 'abcd', addresses: [0n, 0x1234n, 0xffff_ffff_ffff_ffffn] };
    expect(decodeJob(encodeJob(job))).toEqual(job);
    expect(decodeJob(encodeJob({ kind: 'uploaded', buildId: 'h-0a0b' }))).toEqual({ kind: 'uploaded', buildId: 'h-0a0b' });
    for (const bad of [
      'nope',
      '{"v":2,"kind":"uploaded","buildId":"ab"}',
      '{"v":1,"kind":"addresses","buildId":"ab","addresses":["xyz"]}',
      '{"v":1,"kind":"uploaded","buildId":"../x"}',
    ]) {
      expect(() => decodeJob(Buffer.from(bad))).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
    }
  });

  it('carries the tenant in the subject', () => {
    const t = tenantFromTrustedSource('team-a');
    expect(tenantOfSubject(symbolizeSubject(t))).toBe(t);
    expect(() => tenantOfSubject('firn.ingest.x')).toThrow(FirnError);
  });
});
