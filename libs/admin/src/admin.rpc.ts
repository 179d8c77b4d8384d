import { Injectable, type OnModuleInit } from '@nestjs/common';
import { create } from '@bufbuild/protobuf';
import type { HandlerContext } from '@connectrpc/connect';
import { firnAdminV1 } from '@firn/proto';
import { RpcRegistry } from '@firn/server-runtime';
import type { Principal } from '@firn/tenancy';
import { tenantMsg, tokenMsg } from './admin.convert';
import { AdminService } from './admin.service';

const A = firnAdminV1;

/** firn.admin.v1.AdminService over gRPC, gRPC-web and Connect. */
@Injectable()
export class AdminRpc implements OnModuleInit {
  constructor(
    private readonly rpc: RpcRegistry,
    private readonly admin: AdminService,
  ) {}

  onModuleInit(): void {
    this.rpc.add(A.AdminService, {
      createTenant: async (req, ctx) => {
        const t = await this.admin.createTenant(await this.who(ctx), req.id, req.displayName);
        return create(A.CreateTenantResponseSchema, { tenant: tenantMsg(t) });
      },
      listTenants: async (_req, ctx) => create(A.ListTenantsResponseSchema, { tenants: (await this.admin.listTenants(await this.who(ctx))).map(tenantMsg) }),
      createToken: async (req, ctx) => {
        const t = await this.admin.createToken(await this.who(ctx), {
          tenant: req.tenant,
          scopes: req.scopes,
          ttlSeconds: Number(req.ttlSeconds),
          description: req.description,
        });
        return create(A.CreateTokenResponseSchema, { token: tokenMsg(t.record), secretToken: t.token });
      },
      listTokens: async (req, ctx) =>
        create(A.ListTokensResponseSchema, { tokens: (await this.admin.listTokens(await this.who(ctx), req.tenant)).map(tokenMsg) }),
      revokeToken: async (req, ctx) => create(A.RevokeTokenResponseSchema, { token: tokenMsg(await this.admin.revokeToken(await this.who(ctx), req.id)) }),
    });
  }

  private who(ctx: HandlerContext): Promise<Principal> {
    return this.admin.authorize(ctx.requestHeader.get('authorization'));
  }
}
