import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { create } from '@bufbuild/protobuf';
import type { HandlerContext } from '@connectrpc/connect';
import { FirnError } from '@firn/errors';
import { TOKEN_STORE } from '@firn/platform';
import { checkGunzipSize, concatBatches, samplesFromArrow, samplesFromPprof, type SampleBatch } from '@firn/profiles';
import { profilestoreV1alpha1 } from '@firn/proto';
import { RpcRegistry } from '@firn/server-runtime';
import type { TenantLimits } from '@firn/limits';
import { Scope, authInterceptor, principalOf, type TokenStore } from '@firn/tenancy';
import { GATEWAY_OPTIONS, type GatewayOptions } from '../gateway.options';
import { IngestLimits } from './ingest-limits';
import { IngestService } from './ingest.service';

const { ProfileStoreService, WriteRawResponseSchema, WriteArrowResponseSchema } = profilestoreV1alpha1;

/**
 * Parca's ProfileStoreService: WriteRaw (pprof per series, as the Parca agent's older protocol and
 * Parca-compatible SDKs send) and WriteArrow (Firn's agent format, firn.samples.v1). The tenant
 * comes from the token; the request's deprecated `tenant` field is ignored.
 */
@Injectable()
export class ProfileStoreRpc implements OnModuleInit {
  constructor(
    private readonly rpc: RpcRegistry,
    private readonly ingest: IngestService,
    @Inject(TOKEN_STORE) private readonly tokens: TokenStore,
    @Inject(GATEWAY_OPTIONS) private readonly opts: GatewayOptions,
    private readonly limits: IngestLimits,
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
    let batch: SampleBatch;
    try {
      const bytes = req.series.reduce((n, s) => n + s.samples.reduce((m, x) => m + x.rawProfile.length, 0), 0);
      const l = this.limits.admit(tenant, bytes, req.series.length);
      for (const series of req.series) for (const sample of series.samples) await checkGunzipSize(sample.rawProfile, l.maxDecompressedBytes, 'pprof');
      batch = this.parseWriteRaw(req, l);
      this.limits.checkBatch(tenant, batch, l);
    } catch (err) {
      this.ingest.countRejected('pprof', err);
      this.limits.countRejection(tenant, err);
      throw err;
    }
    await this.ingest.ingest(tenant, batch, 'pprof');
    return create(WriteRawResponseSchema, {});
  }

  async writeArrow(req: profilestoreV1alpha1.WriteArrowRequest, ctx: HandlerContext): Promise<profilestoreV1alpha1.WriteArrowResponse> {
    const { tenant } = principalOf(ctx, Scope.WriteProfiles);
    let batch: ReturnType<typeof samplesFromArrow>;
    try {
      const l = this.limits.admit(tenant, req.ipcBuffer.length);
      batch = samplesFromArrow(req.ipcBuffer, {
        maxRows: l.maxSamplesPerProfile,
        maxStackDepth: l.maxStackDepth,
        maxBytes: Math.min(this.opts.maxRequestBytes, l.maxProfileBytes),
      });
      this.limits.checkBatch(tenant, batch, l);
    } catch (err) {
      this.ingest.countRejected('arrow', err);
      this.limits.countRejection(tenant, err);
      throw err;
    }
    await this.ingest.ingest(tenant, batch, 'arrow', batch.truncatedStacks === 0 ? req.ipcBuffer : undefined);
    return create(WriteArrowResponseSchema, {});
  }

  /** Every series' `__name__` label names its profiles; every pprof sample type becomes a profile type. */
  private parseWriteRaw(req: profilestoreV1alpha1.WriteRawRequest, l: TenantLimits): SampleBatch {
    const batches: SampleBatch[] = [];
    const nowMs = Date.now();
    req.series.forEach((series, i) => {
      const labels = (series.labels?.labels ?? []).map((l) => [l.name, l.value] as [string, string]);
      const name = labels.find(([n]) => n === '__name__')?.[1];
      if (!name) throw FirnError.invalidArgument(`series[${i}]: labels must include __name__ (the profile name, e.g. parca_agent)`);
      const seriesLabels = labels.filter(([n]) => n !== '__name__');
      series.samples.forEach((sample, j) => {
        try {
          batches.push(
            samplesFromPprof(sample.rawProfile, {
              name,
              seriesLabels,
              nowMs,
              limits: this.limits.parserLimits(l),
            }),
          );
        } catch (err) {
          if (err instanceof FirnError) throw new FirnError(err.code, `series[${i}].samples[${j}]: ${err.message}`, { details: err.details });
          throw err;
        }
      });
    });
    return concatBatches(batches);
  }
}
