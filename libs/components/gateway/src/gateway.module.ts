import { Module, type DynamicModule } from '@nestjs/common';
import { TokenAuthGuard } from '@firn/platform';
import { DEBUGINFO_OPTIONS, DEFAULT_DEBUGINFO_OPTIONS, type DebuginfoOptions } from './debuginfo/debuginfo.options';
import { DebuginfoRpc } from './debuginfo/debuginfo.rpc';
import { DEFAULT_GATEWAY_OPTIONS, GATEWAY_OPTIONS, type GatewayOptions } from './gateway.options';
import { IngestLimits } from './ingest/ingest-limits';
import { IngestPipeline } from './ingest/ingest-pipeline';
import { OtlpHttpController } from './ingest/otlp-http.controller';
import { OtlpRpc } from './ingest/otlp.rpc';
import { ProfileStoreRpc } from './ingest/profilestore.rpc';
import { PushRpc } from './ingest/push.rpc';
import { PyroscopeIngestController } from './ingest/pyroscope-ingest.controller';
import { QUERY_PROXY_OPTIONS, type QueryProxyOptions } from './query-proxy/query-proxy.options';
import { QueryProxy } from './query-proxy/query-proxy.service';
import { WebUiModule } from './web-ui/web-ui.module';
import { ScrapeController } from './scrape/scrape.controller';
import { DEFAULT_SCRAPE_OPTIONS, SCRAPE_OPTIONS, type ScrapeOptions } from './scrape/scrape.options';
import { ScrapeService } from './scrape/scrape.service';
import { WhoAmIController } from './whoami.controller';

/**
 * The public edge: authentication (bearer token → tenant) and the ingest APIs (Parca
 * ProfileStoreService WriteRaw/WriteArrow, Pyroscope /ingest and PusherService/Push, OTLP
 * profiles over gRPC and OTLP/HTTP, pull-mode scraping of Go pprof endpoints) and Parca's
 * DebuginfoService (uploads per tenant), and the web UI at `/`. Needs: token store, NATS,
 * object storage (claim checks).
 */
@Module({})
export class GatewayModule {
  /** `queryProxy`: forward the public query APIs to these queriers (the gateway process; never the all-in-one, which serves them itself). */
  static forRoot(
    opts: Partial<GatewayOptions> = {},
    debuginfo: Partial<DebuginfoOptions> = {},
    scrape: Partial<ScrapeOptions> = {},
    queryProxy?: QueryProxyOptions,
  ): DynamicModule {
    return {
      module: GatewayModule,
      imports: [WebUiModule.forRoot({ uiDir: opts.uiDir ?? DEFAULT_GATEWAY_OPTIONS.uiDir })],
      controllers: [WhoAmIController, PyroscopeIngestController, OtlpHttpController, ScrapeController],
      providers: [
        { provide: GATEWAY_OPTIONS, useValue: { ...DEFAULT_GATEWAY_OPTIONS, ...opts } },
        { provide: SCRAPE_OPTIONS, useValue: { ...DEFAULT_SCRAPE_OPTIONS, ...scrape } },
        { provide: DEBUGINFO_OPTIONS, useValue: { ...DEFAULT_DEBUGINFO_OPTIONS, debuginfod: { servers: [] }, ...debuginfo } },
        IngestLimits,
        TokenAuthGuard,
        IngestPipeline,
        ProfileStoreRpc,
        PushRpc,
        OtlpRpc,
        ScrapeService,
        DebuginfoRpc,
        ...(queryProxy ? [{ provide: QUERY_PROXY_OPTIONS, useValue: queryProxy }, QueryProxy] : []),
      ],
    };
  }
}
