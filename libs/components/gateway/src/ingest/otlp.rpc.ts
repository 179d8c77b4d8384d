import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { create, toBinary } from '@bufbuild/protobuf';
import type { HandlerContext, ServiceImpl } from '@connectrpc/connect';
import { TOKEN_STORE } from '@firn/platform';
import { firnIngestV1, otlpCollectorProfilesV1development as collector } from '@firn/proto';
import { RpcRegistry } from '@firn/server-runtime';
import { Scope, authInterceptor, principalOf, type TokenStore } from '@firn/tenancy';
import { OtlpDecoder } from './decoders/otlp.decoder';
import { IngestPipeline, type AcceptResult } from './ingest-pipeline';
import { withWireInput } from './wire-input';
import { IDEMPOTENCY_KEY_HEADER } from './request-identity';

const { ExportProfilesServiceResponseSchema } = collector;
/** The public service, with Export's request kept as bytes (`firn.ingest.v1.OtlpExportWire`). */
const ProfilesService = withWireInput(collector.ProfilesService, 'export', firnIngestV1.OtlpExportWireSchema);

/**
 * OTLP profiles over gRPC (and gRPC-web / Connect binary on the same port):
 * `opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export`, what the
 * OpenTelemetry eBPF profiler and the OpenTelemetry Collector's `otlp` exporter send. OTLP/HTTP
 * (protobuf and JSON) is `OtlpHttpController`.
 */
@Injectable()
export class OtlpRpc implements OnModuleInit {
  constructor(
    private readonly rpc: RpcRegistry,
    private readonly pipeline: IngestPipeline,
    @Inject(TOKEN_STORE) private readonly tokens: TokenStore,
  ) {}

  onModuleInit(): void {
    const impl = { export: (req: firnIngestV1.OtlpExportWire, ctx: HandlerContext) => this.export(req, ctx) } as unknown as Partial<
      ServiceImpl<typeof ProfilesService>
    >;
    this.rpc.add(ProfilesService, impl, { interceptors: [authInterceptor(this.tokens, Scope.WriteProfiles)] });
  }

  async export(req: firnIngestV1.OtlpExportWire, ctx: HandlerContext): Promise<collector.ExportProfilesServiceResponse> {
    const { tenant } = principalOf(ctx, Scope.WriteProfiles);
    const bytes = toBinary(firnIngestV1.OtlpExportWireSchema, req);
    const res = await this.pipeline.accept({
      tenant,
      api: 'otlp.Export',
      parts: [{ what: 'request', bytes }],
      decoder: new OtlpDecoder('protobuf'),
      idempotencyKey: ctx.requestHeader.get(IDEMPOTENCY_KEY_HEADER),
    });
    return otlpResponse(res);
  }
}

/** OTLP's answer: empty on full success, `partial_success` when some profiles were refused. */
export function otlpResponse(res: AcceptResult): collector.ExportProfilesServiceResponse {
  return create(
    ExportProfilesServiceResponseSchema,
    res.partial ? { partialSuccess: { rejectedProfiles: BigInt(res.partial.rejected), errorMessage: res.partial.message } } : {},
  );
}
