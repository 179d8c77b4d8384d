import { Injectable, type OnModuleInit } from '@nestjs/common';
import { firnAdminUsageV1 } from '@firn/proto';
import { RpcRegistry } from '@firn/server-runtime';
import { usageResponse } from './usage.convert';
import { UsageAdminService } from './usage.service';

/** firn.admin.v1.UsageService over gRPC, gRPC-web and Connect (admin credentials). */
@Injectable()
export class UsageRpc implements OnModuleInit {
  constructor(
    private readonly rpc: RpcRegistry,
    private readonly usage: UsageAdminService,
  ) {}

  onModuleInit(): void {
    this.rpc.add(firnAdminUsageV1.UsageService, {
      getUsage: async (req, ctx) => {
        const who = await this.usage.authorize(ctx.requestHeader.get('authorization'));
        return usageResponse(await this.usage.usage(who, req.tenants));
      },
    });
  }
}
