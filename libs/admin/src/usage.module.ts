import { Module, type DynamicModule } from '@nestjs/common';
import { ADMIN_OPTIONS, type AdminOptions } from './admin.options';
import { UsageController } from './usage.controller';
import { UsageRpc } from './usage.rpc';
import { UsageAdminService } from './usage.service';

/**
 * The admin usage API (firn.admin.v1.UsageService + GET /api/v1/admin/usage). It reads the
 * global USAGE_SOURCE of the querier's usage metering, so it is wired where a querier runs (the
 * querier and the all-in-one, which follow the manifest), never in the gateway alone.
 */
@Module({})
export class AdminUsageModule {
  static forRoot(opts: AdminOptions): DynamicModule {
    return {
      module: AdminUsageModule,
      controllers: [UsageController],
      providers: [{ provide: ADMIN_OPTIONS, useValue: opts }, UsageAdminService, UsageRpc],
    };
  }
}
