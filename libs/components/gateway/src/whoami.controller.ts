import { Controller, Get, UseGuards } from '@nestjs/common';
import { AuthPrincipal, RequireScope, TokenAuthGuard } from '@firn/platform';
import type { Principal, TenantId } from '@firn/tenancy';

/**
 * `GET /api/v1/whoami`: which tenant and scopes a token carries. The first thing a new user runs
 * with the token the all-in-one printed, and what agents' health checks call.
 */
@Controller('api/v1')
@UseGuards(TokenAuthGuard)
export class WhoAmIController {
  @Get('whoami')
  @RequireScope(undefined)
  whoami(@AuthPrincipal() p: Principal): { tenant: TenantId; scopes: readonly string[]; token_id: string } {
    return { tenant: p.tenant, scopes: p.scopes, token_id: p.tokenId };
  }
}
