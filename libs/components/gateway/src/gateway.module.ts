import { Module, type DynamicModule } from '@nestjs/common';
import { WhoAmIController } from './whoami.controller';

/**
 * The public edge: authentication (bearer token → tenant), and, as the write and read paths land,
 * the ingest and query APIs. Needs: token store, NATS, object storage.
 */
@Module({})
export class GatewayModule {
  static forRoot(): DynamicModule {
    return { module: GatewayModule, controllers: [WhoAmIController] };
  }
}
