import { Module, type DynamicModule } from '@nestjs/common';
import { DEFAULT_GATEWAY_OPTIONS, GATEWAY_OPTIONS, type GatewayOptions } from './gateway.options';
import { IngestService } from './ingest/ingest.service';
import { ProfileStoreRpc } from './ingest/profilestore.rpc';
import { PyroscopeIngestController } from './ingest/pyroscope-ingest.controller';
import { WhoAmIController } from './whoami.controller';

/**
 * The public edge: authentication (bearer token → tenant) and the ingest APIs (Parca
 * ProfileStoreService WriteRaw/WriteArrow, Pyroscope /ingest). Needs: token store, NATS,
 * object storage (claim checks).
 */
@Module({})
export class GatewayModule {
  static forRoot(opts: Partial<GatewayOptions> = {}): DynamicModule {
    return {
      module: GatewayModule,
      controllers: [WhoAmIController, PyroscopeIngestController],
      providers: [{ provide: GATEWAY_OPTIONS, useValue: { ...DEFAULT_GATEWAY_OPTIONS, ...opts } }, IngestService, ProfileStoreRpc],
    };
  }
}
