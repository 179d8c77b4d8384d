import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { create } from '@bufbuild/protobuf';
import type { HandlerContext } from '@connectrpc/connect';
import { TOKEN_STORE } from '@firn/platform';
import { profilestoreV1alpha1 } from '@firn/proto';
import { RpcRegistry } from '@firn/server-runtime';
import { Scope, authInterceptor, principalOf, type TokenStore } from '@firn/tenancy';
import { ArrowDecoder } from './decoders/arrow.decoder';
import { PprofSeriesDecoder } from './decoders/pprof-series.decoder';
import type { IngestPart } from './ingest-decoder';
import { IngestPipeline } from './ingest-pipeline';
import { IDEMPOTENCY_KEY_HEADER } from './request-identity';

const { ProfileStoreService, WriteRawResponseSchema, WriteArrowResponseSchema } = profilestoreV1alpha1;

/**
 * Parca's ProfileStoreService: WriteRaw (pprof per series, as the Parca agent's older protocol and
 * Parca-compatible SDKs send) and WriteArrow (Firn's agent format, firn.samples.v1). The tenant
 * comes from the token; the request's deprecated `tenant` field is ignored. A retried request is
 * recognised (same bytes, or the same `idempotency-key` metadata) and stored once.
 */
@Injectable()
export class ProfileStoreRpc implements OnModuleInit {
  constructor(
    private readonly rpc: RpcRegistry,
    private readonly pipeline: IngestPipeline,
    @Inject(TOKEN_STORE) private readonly tokens: TokenStore,
  ) {}

  onModuleInit(): void {
    this.rpc.add(
      ProfileStoreService,
      {
        writeRaw: (req, ctx) => this.writeRaw(req, ctx),
        writeArrow: (req, ctx) => this.writeArrow(req, ctx),
      },
      { interceptors: [authInterceptor(this.tokens, Scope.WriteProfiles)] },
    );
  }

  async writeRaw(req: profilestoreV1alpha1.WriteRawRequest, ctx: HandlerContext): Promise<profilestoreV1alpha1.WriteRawResponse> {
    const { tenant } = principalOf(ctx, Scope.WriteProfiles);
    const parts: IngestPart[] = [];
    req.series.forEach((series, i) => {
      const labels = (series.labels?.labels ?? []).map((l) => [l.name, l.value] as const);
      series.samples.forEach((sample, j) => parts.push({ what: `series[${i}].samples[${j}]`, bytes: sample.rawProfile, labels }));
    });
    await this.pipeline.accept({
      tenant,
      api: 'parca.WriteRaw',
      parts,
      series: req.series.length,
      decoder: new PprofSeriesDecoder(),
      idempotencyKey: ctx.requestHeader.get(IDEMPOTENCY_KEY_HEADER),
    });
    return create(WriteRawResponseSchema, {});
  }

  async writeArrow(req: profilestoreV1alpha1.WriteArrowRequest, ctx: HandlerContext): Promise<profilestoreV1alpha1.WriteArrowResponse> {
    const { tenant } = principalOf(ctx, Scope.WriteProfiles);
    await this.pipeline.accept({
      tenant,
      api: 'parca.WriteArrow',
      parts: [{ what: 'ipc_buffer', bytes: req.ipcBuffer }],
      decoder: new ArrowDecoder(),
      idempotencyKey: ctx.requestHeader.get(IDEMPOTENCY_KEY_HEADER),
    });
    return create(WriteArrowResponseSchema, {});
  }
}
