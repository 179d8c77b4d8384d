import { Controller, Get, Headers, Inject } from '@nestjs/common';
import { authenticate, type TokenStore } from '@firn/tenancy';
import { TOKEN_STORE } from '@firn/platform';

/**
 * `GET /api/v1/whoami`: which tenant and scopes a token carries. The first thing a new user runs
 * with the token the all-in-one printed, and what agents' health checks call.
 */
@Controller('api/v1')
export class WhoAmIController {
  constructor(@Inject(TOKEN_STORE) private readonly tokens: TokenStore) {}

  @Get('whoami')
  async whoami(@Headers('authorization') authorization?: string): Promise<{ tenant: string; scopes: readonly string[]; token_id: string }> {
    const p = await authenticate(this.tokens, authorization);
    return { tenant: p.tenant, scopes: p.scopes, token_id: p.tokenId };
  }
}
