import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { create } from '@bufbuild/protobuf';
import type { HandlerContext } from '@connectrpc/connect';
import type { Bus } from '@firn/bus';
import { DebuginfoStore, DebuginfodCache, DebuginfodClient, normalizeBuildId, publishUploaded, type DebuginfoKind } from '@firn/debuginfo';
import { ErrorCode, FirnError } from '@firn/errors';
import type { Logger, Registry } from '@firn/observability';
import { BUS, OBJECT_STORE, TOKEN_STORE } from '@firn/platform';
import { debuginfoV1alpha1 } from '@firn/proto';
import { LOGGER, METRICS, RpcRegistry } from '@firn/server-runtime';
import type { ObjectStore } from '@firn/storage';
import { Scope, authInterceptor, principalOf, type TenantId, type TokenStore } from '@firn/tenancy';
import { DEBUGINFO_OPTIONS, type DebuginfoOptions } from './debuginfo.options';
import { DebuginfoMetrics } from './debuginfo.metrics';

const { DebuginfoService, DebuginfoType, UploadInstructions_UploadStrategy: UploadStrategy } = debuginfoV1alpha1;

const KIND_OF_TYPE: Record<number, DebuginfoKind> = {
  [DebuginfoType.DEBUGINFO_UNSPECIFIED]: 'debuginfo',
  [DebuginfoType.EXECUTABLE]: 'executable',
  [DebuginfoType.SOURCES]: 'sources',
  [DebuginfoType.SOURCE_MAP]: 'source-map',
};

function kindOf(type: number): DebuginfoKind {
  const kind = KIND_OF_TYPE[type];
  if (!kind) throw FirnError.invalidArgument(`unknown debuginfo type ${type}`);
  return kind;
}

/**
 * Parca's DebuginfoService: agents ask whether a build id's debug info is wanted, reserve an
 * upload, stream it (UPLOAD_STRATEGY_GRPC only: no signed URLs), and mark it finished. Files are
 * stored per tenant, the tenant taken from the token (scope write:debuginfo). A finished upload
 * tells the symbolizer to retry that build id's unresolved addresses.
 */
@Injectable()
export class DebuginfoRpc implements OnModuleInit {
  private readonly uploads: DebuginfoStore;
  private readonly debuginfod: DebuginfodCache;
  private readonly metrics: DebuginfoMetrics;

  constructor(
    private readonly rpc: RpcRegistry,
    @Inject(OBJECT_STORE) store: ObjectStore,
    @Inject(BUS) private readonly bus: Bus,
    @Inject(TOKEN_STORE) private readonly tokens: TokenStore,
    @Inject(DEBUGINFO_OPTIONS) opts: DebuginfoOptions,
    @Inject(LOGGER) private readonly log: Logger,
    @Inject(METRICS) registry: Registry,
  ) {
    this.uploads = new DebuginfoStore({ store, maxUploadBytes: opts.maxUploadBytes, staleUploadMs: opts.staleUploadMs });
    this.debuginfod = new DebuginfodCache(store, opts.debuginfod.servers.length > 0 ? new DebuginfodClient(opts.debuginfod) : undefined);
    this.metrics = new DebuginfoMetrics(registry);
  }

  onModuleInit(): void {
    this.rpc.add(
      DebuginfoService,
      {
        shouldInitiateUpload: (req, ctx) => this.counted('should_initiate_upload', () => this.shouldInitiateUpload(req, ctx)),
        initiateUpload: (req, ctx) => this.counted('initiate_upload', () => this.initiateUpload(req, ctx)),
        upload: (reqs, ctx) => this.counted('upload', () => this.upload(reqs, ctx)),
        markUploadFinished: (req, ctx) => this.counted('mark_upload_finished', () => this.markUploadFinished(req, ctx)),
      },
      { interceptors: [authInterceptor(this.tokens)] },
    );
  }

  async shouldInitiateUpload(req: debuginfoV1alpha1.ShouldInitiateUploadRequest, ctx: HandlerContext): Promise<debuginfoV1alpha1.ShouldInitiateUploadResponse> {
    const { tenant } = principalOf(ctx, Scope.WriteDebuginfo);
    const buildId = normalizeBuildId(req.buildId);
    const answer = await this.uploads.shouldUpload(tenant, { buildId, kind: kindOf(req.type), hash: req.hash, force: req.force }, () =>
      this.inDebuginfod(buildId),
    );
    this.metrics.calls.inc({ method: 'should_initiate_upload', outcome: answer.should ? 'should_upload' : 'no_upload' });
    return create(debuginfoV1alpha1.ShouldInitiateUploadResponseSchema, { shouldInitiateUpload: answer.should, reason: answer.reason });
  }

  async initiateUpload(req: debuginfoV1alpha1.InitiateUploadRequest, ctx: HandlerContext): Promise<debuginfoV1alpha1.InitiateUploadResponse> {
    const { tenant } = principalOf(ctx, Scope.WriteDebuginfo);
    const buildId = normalizeBuildId(req.buildId);
    const meta = await this.uploads.initiate(tenant, { buildId, kind: kindOf(req.type), hash: req.hash, force: req.force, size: Number(req.size) }, () =>
      this.inDebuginfod(buildId),
    );
    this.log.info({ tenant, buildId, uploadId: meta.uploadId, size: meta.size, kind: meta.kind }, 'debuginfo upload initiated');
    return create(debuginfoV1alpha1.InitiateUploadResponseSchema, {
      uploadInstructions: { buildId, uploadId: meta.uploadId, uploadStrategy: UploadStrategy.GRPC, signedUrl: '', type: req.type },
    });
  }

  async upload(reqs: AsyncIterable<debuginfoV1alpha1.UploadRequest>, ctx: HandlerContext): Promise<debuginfoV1alpha1.UploadResponse> {
    const { tenant } = principalOf(ctx, Scope.WriteDebuginfo);
    const it = reqs[Symbol.asyncIterator]();
    const first = await it.next();
    if (first.done || first.value.data.case !== 'info' || !first.value.data.value) {
      throw FirnError.invalidArgument('the first Upload message must carry info (build_id, upload_id, type)');
    }
    const info = first.value.data.value;
    const buildId = normalizeBuildId(info.buildId);
    const chunks = async function* (): AsyncIterable<Uint8Array> {
      for (;;) {
        const next = await it.next();
        if (next.done) return;
        if (next.value.data.case !== 'chunkData') throw FirnError.invalidArgument('only the first Upload message may carry info; later ones carry chunk_data');
        yield next.value.data.value;
      }
    };
    const { size } = await this.uploads.upload(tenant, { buildId, kind: kindOf(info.type), uploadId: info.uploadId }, chunks());
    this.metrics.uploadedBytes.inc(size);
    return create(debuginfoV1alpha1.UploadResponseSchema, { buildId, size: BigInt(size) });
  }

  async markUploadFinished(req: debuginfoV1alpha1.MarkUploadFinishedRequest, ctx: HandlerContext): Promise<debuginfoV1alpha1.MarkUploadFinishedResponse> {
    const { tenant } = principalOf(ctx, Scope.WriteDebuginfo);
    const buildId = normalizeBuildId(req.buildId);
    const meta = await this.uploads.markFinished(tenant, { buildId, kind: kindOf(req.type), uploadId: req.uploadId });
    this.log.info({ tenant, buildId, uploadId: meta.uploadId, bytes: meta.storedBytes, kind: meta.kind }, 'debuginfo upload finished');
    if (meta.kind === 'debuginfo' || meta.kind === 'executable') await this.notifySymbolizer(tenant, buildId);
    return create(debuginfoV1alpha1.MarkUploadFinishedResponseSchema, {});
  }

  /** Best effort: the upload is stored either way; without the notice, negatives expire by TTL. */
  private async notifySymbolizer(tenant: TenantId, buildId: string): Promise<void> {
    try {
      await publishUploaded(this.bus, tenant, buildId);
    } catch (err) {
      this.log.warn({ err, tenant, buildId }, 'could not tell the symbolizer about the upload');
    }
  }

  private async inDebuginfod(buildId: string): Promise<boolean> {
    try {
      return await this.debuginfod.has(buildId);
    } catch (err) {
      // Unknown is treated as "not there": an unneeded upload is better than a missing one.
      this.log.warn({ err, buildId }, 'could not ask debuginfod; asking for an upload');
      return false;
    }
  }

  private async counted<T>(method: string, fn: () => Promise<T>): Promise<T> {
    try {
      const r = await fn();
      if (method !== 'should_initiate_upload') this.metrics.calls.inc({ method, outcome: 'ok' });
      return r;
    } catch (err) {
      this.metrics.calls.inc({ method, outcome: err instanceof FirnError ? err.code : ErrorCode.Internal });
      throw err;
    }
  }
}
