import { Controller, Get, UseGuards } from '@nestjs/common';
import { AuthPrincipal, RequireScope, TokenAuthGuard } from '@firn/platform';
import type { DroppedTarget, TargetStatus } from '@firn/scrape';
import { Scope, type Principal } from '@firn/tenancy';
import { ScrapeService } from './scrape.service';

/** `GET /api/v1/scrape/targets`: the caller's tenant's scrape targets, their health and the dropped ones. */
@Controller('api/v1/scrape')
@UseGuards(TokenAuthGuard)
export class ScrapeController {
  constructor(private readonly scrape: ScrapeService) {}

  @Get('targets')
  @RequireScope(Scope.ReadProfiles)
  targets(@AuthPrincipal() principal: Principal): Promise<{ enabled: boolean; active: TargetStatus[]; dropped: DroppedTarget[] }> {
    return this.scrape.targets(principal.tenant);
  }
}
