import { Module, type DynamicModule } from '@nestjs/common';
import { ADMIN_OPTIONS, type AdminOptions } from './admin.options';
import { AdminController } from './admin.controller';
import { AdminRpc } from './admin.rpc';
import { AdminService } from './admin.service';

/**
 * Tenant and token management (firn.admin.v1.AdminService + /api/v1/admin HTTP JSON), served by
 * the gateway and the all-in-one. Needs: TOKEN_STORE and TENANT_DIRECTORY (nats token store).
 */
@Module({})
export class AdminModule {
  static forRoot(opts: AdminOptions): DynamicModule {
    return {
      module: AdminModule,
      controllers: [AdminController],
      providers: [{ provide: ADMIN_OPTIONS, useValue: opts }, AdminService, AdminRpc],
    };
  }
}
