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
  checkGzip: async () => undefined,
});

describe(PyroscopeIngestDecoder.name, () => {
  it.each(['jfr', 'speedscope', 'trie', 'lines'])('answers format=%s with 415 naming the formats Firn takes', async (format) => {
    const err = await new PyroscopeIngestDecoder(format, '/ingest?name=app.cpu').decode([{ what: 'request body', bytes: new Uint8Array([1]) }], ctx({ name: 'app.cpu', format })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FirnError);
    expect((err as FirnError).httpStatus).toBe(415);
    expect((err as FirnError).message).toMatch(/format=folded .* format=pprof/);
  });
});
