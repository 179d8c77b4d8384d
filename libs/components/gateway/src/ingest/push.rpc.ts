import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { create } from '@bufbuild/protobuf';
import type { HandlerContext } from '@connectrpc/connect';
import { TOKEN_STORE } from '@firn/platform';
import { pushV1 } from '@firn/proto';
import { RpcRegistry } from '@firn/server-runtime';
import { Scope, authInterceptor, principalOf, type TokenStore } from '@firn/tenancy';
import { PushDecoder } from './decoders/push.decoder';
import type { IngestPart } from './ingest-decoder';
import { IngestPipeline } from './ingest-pipeline';
import { IDEMPOTENCY_KEY_HEADER } from './request-identity';

const { PusherService, PushResponseSchema } = pushV1;

/**
 * Pyroscope's `push.v1.PusherService/Push` (Connect, gRPC and gRPC-web on one port), as Grafana
 * Alloy's `pyroscope.write` and Pyroscope-compatible agents send it: series of labels with gzip
 * pprof samples. Annotations are accepted and dropped (only a server sets them).
 */
@Injectable()
export class PushRpc implements OnModuleInit {
  constructor(
    private readonly rpc: RpcRegistry,
    private readonly pipeline: IngestPipeline,
    @Inject(TOKEN_STORE) private readonly tokens: TokenStore,
  ) {}

  onModuleInit(): void {
    this.rpc.add(PusherService, { push: (req, ctx) => this.push(req, ctx) }, { interceptors: [authInterceptor(this.tokens, Scope.WriteProfiles)] });
  }

  async push(req: pushV1.PushRequest, ctx: HandlerContext): Promise<pushV1.PushResponse> {
    const { tenant } = principalOf(ctx, Scope.WriteProfiles);
    const parts: IngestPart[] = [];
    req.series.forEach((series, i) => {
      const labels = series.labels.map((l) => [l.name, l.value] as const);
      series.samples.forEach((sample, j) => parts.push({ what: `series[${i}].samples[${j}]`, bytes: sample.rawProfile, labels }));
    });
    await this.pipeline.accept({
      tenant,
      api: 'pyroscope.Push',
      parts,
      series: req.series.length,
      decoder: new PushDecoder(),
      idempotencyKey: ctx.requestHeader.get(IDEMPOTENCY_KEY_HEADER),
    });
    return create(PushResponseSchema, {});
  }
}
