import { Controller, Headers, Post, Req, Res, UseGuards } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { toBinary, toJsonString } from '@bufbuild/protobuf';
import { ErrorCode, FirnError } from '@firn/errors';
import { AuthPrincipal, RequireScope, TokenAuthGuard } from '@firn/platform';
import { otlpCollectorProfilesV1development as collector } from '@firn/proto';
import { Scope, type Principal } from '@firn/tenancy';
import { OtlpDecoder, type OtlpEncoding } from './decoders/otlp.decoder';
import { readBody } from './http-body';
import { IngestPipeline } from './ingest-pipeline';
import { otlpResponse } from './otlp.rpc';
import { IDEMPOTENCY_KEY_HEADER } from './request-identity';

/**
 * OTLP/HTTP for profiles: `POST /v1development/profiles` with an ExportProfilesServiceRequest as
 * `application/x-protobuf` (or `application/protobuf`) or `application/json` (OTLP/JSON), gzip
 * allowed; the answer is an ExportProfilesServiceResponse in the request's encoding. Errors
 * carry OTLP's status semantics (400 never retried, 429/503 retried after `Retry-After`).
 */
@Controller()
@UseGuards(TokenAuthGuard)
export class OtlpHttpController {
  constructor(private readonly pipeline: IngestPipeline) {}

  @Post('v1development/profiles')
  @RequireScope(Scope.WriteProfiles)
  async export(
    @AuthPrincipal() principal: Principal,
    @Req() req: IncomingMessage,
    @Res() res: ServerResponse,
    @Headers('content-type') contentType?: string,
    @Headers('content-encoding') contentEncoding?: string,
    @Headers(IDEMPOTENCY_KEY_HEADER) idempotencyKey?: string,
  ): Promise<void> {
    const encoding = encodingOf(contentType);
    const { tenant } = principal;
    const bytes = await readBody(req, this.pipeline.maxBodyBytes(tenant));
    const result = await this.pipeline.accept({
      tenant,
      api: 'otlp.Export',
      parts: [{ what: 'request body', bytes, contentType, contentEncoding }],
      decoder: new OtlpDecoder(encoding),
      idempotencyKey,
    });
    const answer = otlpResponse(result);
    if (encoding === 'json') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(toJsonString(collector.ExportProfilesServiceResponseSchema, answer));
    } else {
      res.writeHead(200, { 'content-type': 'application/x-protobuf' });
      res.end(toBinary(collector.ExportProfilesServiceResponseSchema, answer));
    }
  }
}

function encodingOf(contentType: string | undefined): OtlpEncoding {
  const t = (contentType ?? '').split(';')[0].trim().toLowerCase();
  if (t === 'application/x-protobuf' || t === 'application/protobuf') return 'protobuf';
  if (t === 'application/json') return 'json';
  throw new FirnError(
    ErrorCode.InvalidArgument,
    `unsupported Content-Type ${JSON.stringify(contentType ?? '')}: OTLP/HTTP takes application/x-protobuf or application/json`,
    { httpStatus: 415 },
  );
}
