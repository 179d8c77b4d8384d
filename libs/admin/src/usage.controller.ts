import { Controller, Get, Headers, Query } from '@nestjs/common';
import { toJson, type JsonValue } from '@bufbuild/protobuf';
import { FirnError } from '@firn/errors';
import { firnAdminUsageV1 } from '@firn/proto';
import { usageResponse } from './usage.convert';
import { UsageAdminService } from './usage.service';

/**
 * Usage as plain HTTP JSON, the same shape as firn.admin.v1.UsageService's Connect JSON:
 *   GET /api/v1/admin/usage?tenant=a&tenant=b     (no tenant = every tenant)
 */
@Controller('api/v1/admin')
export class UsageController {
  constructor(private readonly usage: UsageAdminService) {}

  @Get('usage')
  async getUsage(@Query('tenant') tenant: unknown, @Headers('authorization') auth?: string): Promise<JsonValue> {
    const who = await this.usage.authorize(auth);
    const tenants = tenant === undefined ? [] : Array.isArray(tenant) ? tenant : [tenant];
    if (tenants.some((t) => typeof t !== 'string')) throw FirnError.invalidArgument('query parameter "tenant" must be a tenant id');
    return toJson(firnAdminUsageV1.GetUsageResponseSchema, usageResponse(await this.usage.usage(who, tenants as string[])));
  }
}
