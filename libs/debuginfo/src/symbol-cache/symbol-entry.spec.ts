import { describe, expect, it } from 'vitest';
import { FirnError } from '@firn/errors';
import { tenantFromTrustedSource } from '@firn/tenancy';
import { decodeResolved, encodeNegative, encodeResolved, symbolKey } from './symbol-entry';
import { decodeJob, encodeJob, tenantOfSubject, symbolizeSubject } from '../symbolize/symbolize-job';
import { normalizeBuildId } from '../build-id';

describe('symbol cache entries', () => {
  it('round-trips an inline chain and marks only the outermost frame as not inlined', () => {
    const frames = [
      { functionName: 'inner', fileName: 'a.c', line: 3, inlined: true },
      { functionName: 'outer', fileName: 'a.c', line: 9, inlined: false },
    ];
    expect(decodeResolved(encodeResolved(frames))).toEqual(frames);
    expect(decodeResolved(encodeNegative())).toBeNull();
    expect(decodeResolved(encodeResolved([]))).toBeNull();
    expect(() => decodeResolved(Buffer.from('[["x"]]'))).toThrow(FirnError);
  });

  it('keys by tenant, build id and hex address', () => {
    expect(symbolKey(tenantFromTrustedSource('acme'), 'ab12', 0x1f0n)).toBe('sym:v1:acme:ab12:1f0');
  });
});

describe(decodeJob.name, () => {
  it('round-trips jobs and rejects malformed ones with invalid_argument', () => {
    const job = { kind: 'addresses' as const, buildId: 'abcd', addresses: [0n, 0x1234n, 0xffff_ffff_ffff_ffffn] };
    expect(decodeJob(encodeJob(job))).toEqual(job);
    expect(decodeJob(encodeJob({ kind: 'uploaded', buildId: 'h-0a0b' }))).toEqual({ kind: 'uploaded', buildId: 'h-0a0b' });
    for (const bad of ['nope', '{"v":2,"kind":"uploaded","buildId":"ab"}', '{"v":1,"kind":"addresses","buildId":"ab","addresses":["xyz"]}', '{"v":1,"kind":"uploaded","buildId":"../x"}']) {
      expect(() => decodeJob(Buffer.from(bad))).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
    }
  });

  it('carries the tenant in the subject', () => {
    const t = tenantFromTrustedSource('team-a');
    expect(tenantOfSubject(symbolizeSubject(t))).toBe(t);
    expect(() => tenantOfSubject('firn.ingest.x')).toThrow(FirnError);
  });

  it('normalizes build ids and refuses what could escape a key', () => {
    expect(normalizeBuildId(' ABCDEF ')).toBe('abcdef');
    expect(() => normalizeBuildId('ab/../cd')).toThrow(FirnError);
  });
});
