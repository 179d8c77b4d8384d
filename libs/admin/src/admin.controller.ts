import { Controller, Delete, Get, Headers, HttpCode, Param, Post, Query, Req } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { create, fromJson, toJson, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import type { JsonValue } from '@bufbuild/protobuf';
import { ErrorCode, FirnError } from '@firn/errors';
import { firnAdminV1 } from '@firn/proto';
import { tenantMsg, tokenMsg } from './admin.convert';
import { AdminService } from './admin.service';

const A = firnAdminV1;
const MAX_BODY = 64 * 1024;

/**
 * The admin API as plain HTTP JSON (curl-friendly), same operations and JSON shapes as
 * firn.admin.v1.AdminService in Connect's JSON (lowerCamel fields; snake_case accepted):
 *   GET  /api/v1/admin/tenants             POST /api/v1/admin/tenants {id, displayName}
 *   GET  /api/v1/admin/tokens?tenant=      POST /api/v1/admin/tokens {tenant, scopes, ttlSeconds, description}
 *   POST /api/v1/admin/tokens/:id/revoke   DELETE /api/v1/admin/tokens/:id
 */
@Controller('api/v1/admin')
export class AdminController {
  constructor(private readonly admin: AdminService) {}

  @Get('tenants')
  async listTenants(@Headers('authorization') auth?: string): Promise<JsonValue> {
    const who = await this.admin.authorize(auth);
    return toJson(A.ListTenantsResponseSchema, create(A.ListTenantsResponseSchema, { tenants: (await this.admin.listTenants(who)).map(tenantMsg) }));
  }

  @Post('tenants')
  @HttpCode(201)
  async createTenant(@Req() req: IncomingMessage, @Headers('authorization') auth?: string): Promise<JsonValue> {
    const who = await this.admin.authorize(auth);
    const body = await jsonBody(req, A.CreateTenantRequestSchema);
    const t = await this.admin.createTenant(who, body.id, body.displayName);
    return toJson(A.CreateTenantResponseSchema, create(A.CreateTenantResponseSchema, { tenant: tenantMsg(t) }));
  }

  @Get('tokens')
  async listTokens(@Query('tenant') tenant: unknown, @Headers('authorization') auth?: string): Promise<JsonValue> {
    const who = await this.admin.authorize(auth);
    if (tenant !== undefined && typeof tenant !== 'string') throw FirnError.invalidArgument('query parameter "tenant" given more than once');
    return toJson(A.ListTokensResponseSchema, create(A.ListTokensResponseSchema, { tokens: (await this.admin.listTokens(who, tenant)).map(tokenMsg) }));
  }

  @Post('tokens')
  @HttpCode(201)
  async createToken(@Req() req: IncomingMessage, @Headers('authorization') auth?: string): Promise<JsonValue> {
    const who = await this.admin.authorize(auth);
    const body = await jsonBody(req, A.CreateTokenRequestSchema);
    const t = await this.admin.createToken(who, {
      tenant: body.tenant,
      scopes: body.scopes,
      ttlSeconds: Number(body.ttlSeconds),
      description: body.description,
    });
    return toJson(A.CreateTokenResponseSchema, create(A.CreateTokenResponseSchema, { token: tokenMsg(t.record), secretToken: t.token }));
  }

  @Post('tokens/:id/revoke')
  @HttpCode(200)
  revokePost(@Param('id') id: string, @Headers('authorization') auth?: string): Promise<JsonValue> {
    return this.revoke(id, auth);
  }

  @Delete('tokens/:id')
  revokeDelete(@Param('id') id: string, @Headers('authorization') auth?: string): Promise<JsonValue> {
    return this.revoke(id, auth);
  }

  private async revoke(id: string, auth: string | undefined): Promise<JsonValue> {
    const who = await this.admin.authorize(auth);
    return toJson(A.RevokeTokenResponseSchema, create(A.RevokeTokenResponseSchema, { token: tokenMsg(await this.admin.revokeToken(who, id)) }));
  }
}

async function jsonBody<D extends DescMessage>(req: IncomingMessage, schema: D): Promise<MessageShape<D>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new FirnError(ErrorCode.ResourceExhausted, `request body larger than ${MAX_BODY} bytes`, { httpStatus: 413 });
    chunks.push(c as Buffer);
  }
  let raw: JsonValue;
  try {
    raw = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as JsonValue;
  } catch (err) {
    throw FirnError.invalidArgument(`request body is not JSON: ${(err as Error).message}`);
  }
  try {
    return fromJson(schema, raw);
  } catch (err) {
    throw FirnError.invalidArgument(`invalid request body: ${(err as Error).message}`);
  }
}
