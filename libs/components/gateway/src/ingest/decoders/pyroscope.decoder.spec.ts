import { describe, expect, it } from 'vitest';
import { FirnError } from '@firn/errors';
import { DEFAULT_TENANT_LIMITS } from '@firn/limits';
import type { DecodeContext } from '../ingest-decoder';
import { PyroscopeIngestDecoder } from './pyroscope.decoder';

const ctx = (params: Record<string, string>): DecodeContext => ({
  limits: DEFAULT_TENANT_LIMITS,
  parser: { maxDecompressedBytes: 1 << 20, maxSamples: 1000, maxStackDepth: 64 },
  maxBytes: 1 << 20,
  nowMs: Date.now(),
  params,
  gunzip: async (bytes) => bytes,
});

describe(PyroscopeIngestDecoder.name, () => {
  it.each(['jfr', 'speedscope', 'trie', 'lines'])('answers format=%s with 415 naming the formats Firn takes', async (format) => {
    const err = await new PyroscopeIngestDecoder(format, '/ingest?name=app.cpu')
      .decode([{ what: 'request body', bytes: new Uint8Array([1]) }], ctx({ name: 'app.cpu', format }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FirnError);
    expect((err as FirnError).httpStatus).toBe(415);
    expect((err as FirnError).message).toMatch(/format=folded .* format=pprof/);
  });

  it('names folded uploads like Pyroscope: sanitized tag names, service_name, pyroscope_spy', async () => {
    const name = 'shop.cpu{otel.scope.name=sdk,env=prod}';
    const q = { name, spyName: 'gospy' };
    const { batch } = await new PyroscopeIngestDecoder(PyroscopeIngestDecoder.formatOf(q), `/ingest?name=x`).decode(
      [{ what: 'request body', bytes: Buffer.from('main;work 3\n') }],
      ctx(q),
    );
    expect(batch?.profileTypes).toEqual(['process_cpu:cpu:nanoseconds:cpu:nanoseconds:delta']);
    expect(Object.fromEntries(batch?.series[0] ?? [])).toEqual({ env: 'prod', otel_scope_name: 'sdk', pyroscope_spy: 'gospy', service_name: 'shop' });
  });

  it('reads a multipart body without format as pprof, and refuses a prev_profile part', async () => {
    expect(PyroscopeIngestDecoder.formatOf({}, 'multipart/form-data; boundary=x')).toBe('pprof');
    expect(PyroscopeIngestDecoder.formatOf({}, 'application/octet-stream')).toBe('folded');
    expect(PyroscopeIngestDecoder.formatOf({ format: 'folded' }, 'multipart/form-data; boundary=x')).toBe('folded');
    const form = new FormData();
    form.append('profile', new Blob([new Uint8Array([1])]), 'profile.pprof');
    form.append('prev_profile', new Blob([new Uint8Array([1])]), 'profile.pprof');
    const req = new Request('http://x/', { method: 'POST', body: form });
    const part = { what: 'request body', bytes: new Uint8Array(await req.arrayBuffer()), contentType: req.headers.get('content-type') ?? '' };
    const err = await new PyroscopeIngestDecoder('pprof', '/ingest').decode([part], ctx({ name: 'go-app' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FirnError);
    expect((err as FirnError).message).toMatch(/prev_profile/);
  });
});
