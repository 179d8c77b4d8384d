import { Controller, Headers, HttpCode, Post, Query, Req, UseGuards } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { AuthPrincipal, RequireScope, TokenAuthGuard } from '@firn/platform';
import { Scope, type Principal } from '@firn/tenancy';
import { PyroscopeIngestDecoder } from './decoders/pyroscope.decoder';
import { readBody } from './http-body';
import { IngestPipeline } from './ingest-pipeline';
import { IDEMPOTENCY_KEY_HEADER } from './request-identity';

/**
 * Pyroscope's push endpoint, so Pyroscope SDKs and `curl --data-binary @x.folded` work:
 * `POST /ingest?name=app{k=v}&from=&until=&format=folded|pprof&sampleRate=`.
 * pprof may come raw (any content type) or as multipart/form-data with a `profile` part. A
 * retried upload is recognised (same parameters and body, or the same `Idempotency-Key`) and
 * stored once.
 */
@Controller()
@UseGuards(TokenAuthGuard)
export class PyroscopeIngestController {
  constructor(private readonly pipeline: IngestPipeline) {}

  @Post('ingest')
  @HttpCode(200)
  @RequireScope(Scope.WriteProfiles)
  async push(
    @AuthPrincipal() principal: Principal,
    @Req() req: IncomingMessage,
    @Query() q: Record<string, string | string[] | undefined>,
    @Headers('content-type') contentType?: string,
    @Headers('content-encoding') contentEncoding?: string,
    @Headers(IDEMPOTENCY_KEY_HEADER) idempotencyKey?: string,
  ): Promise<Record<string, never>> {
    const { tenant } = principal;
    const decoder = new PyroscopeIngestDecoder(PyroscopeIngestDecoder.formatOf(q, contentType), req.url);
    const bytes = await readBody(req, this.pipeline.maxBodyBytes(tenant));
    await this.pipeline.accept({
      tenant,
      api: 'pyroscope.ingest',
      params: q,
      decoder,
      parts: [{ what: 'request body', bytes, contentType, contentEncoding }],
      idempotencyKey,
    });
    return {};
  }
}
