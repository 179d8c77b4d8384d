import { Module, type DynamicModule } from '@nestjs/common';
import { DEBUGINFO_OPTIONS, DEFAULT_DEBUGINFO_OPTIONS, type DebuginfoOptions } from './debuginfo/debuginfo.options';
import { DebuginfoRpc } from './debuginfo/debuginfo.rpc';
import { DEFAULT_GATEWAY_OPTIONS, GATEWAY_OPTIONS, type GatewayOptions } from './gateway.options';
import { IngestLimits } from './ingest/ingest-limits';
import { IngestService } from './ingest/ingest.service';
import { ProfileStoreRpc } from './ingest/profilestore.rpc';
import { PyroscopeIngestController } from './ingest/pyroscope-ingest.controller';
import { QUERY_PROXY_OPTIONS, type QueryProxyOptions } from './query-proxy/query-proxy.options';
import { QueryProxy } from './query-proxy/query-proxy.service';
import { WebUiModule } from './web-ui/web-ui.module';
import { WhoAmIController } from './whoami.controller';

/**
 * The public edge: authentication (bearer token → tenant) and the ingest APIs (Parca
 * ProfileStoreService WriteRaw/WriteArrow, Pyroscope /ingest) and Parca's DebuginfoService
 * (uploads per tenant), and the web UI at `/`. Needs: token store, NATS,
 * object storage (claim checks).
 */
@Module({})
export class GatewayModule {
  /** `queryProxy`: forward the public query APIs to these queriers (the gateway process; never the all-in-one, which serves them itself). */
  static forRoot(opts: Partial<GatewayOptions> = {}, debuginfo: Partial<DebuginfoOptions> = {}, queryProxy?: QueryProxyOptions): DynamicModule {
    return {
      module: GatewayModule,
      imports: [WebUiModule.forRoot({ uiDir: opts.uiDir ?? DEFAULT_GATEWAY_OPTIONS.uiDir })],
      controllers: [WhoAmIController, PyroscopeIngestController],
      providers: [
        { provide: GATEWAY_OPTIONS, useValue: { ...DEFAULT_GATEWAY_OPTIONS, ...opts } },
        { provide: DEBUGINFO_OPTIONS, useValue: { ...DEFAULT_DEBUGINFO_OPTIONS, debuginfod: { servers: [] }, ...debuginfo } },
        IngestLimits,
        IngestService,
        ProfileStoreRpc,
        DebuginfoRpc,
        ...(queryProxy ? [{ provide: QUERY_PROXY_OPTIONS, useValue: queryProxy }, QueryProxy] : []),
      ],
    };
  }
}
