import { Inject, Injectable } from '@nestjs/common';
import { ErrorCode, FirnError } from '@firn/errors';
import type { Logger } from '@firn/observability';
import { TENANT_DIRECTORY, TOKEN_STORE } from '@firn/platform';
import { LOGGER } from '@firn/server-runtime';
import { authenticateAdmin, type CreateTokenInput, type IssuedToken, type Principal, type TenantDirectory, type TenantRecord, type TokenRecord, type TokenStore } from '@firn/tenancy';
import { ADMIN_OPTIONS, type AdminOptions } from './admin.options';
import { AuditLog } from './audit-log';

/**
 * The admin API's one implementation, shared by the Connect service and the HTTP routes:
 * authenticates the admin caller, runs the directory operation, writes the audit entry.
 */
@Injectable()
export class AdminService {
  private readonly audit: AuditLog;

  constructor(
    @Inject(TOKEN_STORE) private readonly tokens: TokenStore,
    @Inject(TENANT_DIRECTORY) private readonly directory: TenantDirectory | null,
    @Inject(ADMIN_OPTIONS) private readonly opts: AdminOptions,
    @Inject(LOGGER) log: Logger,
  ) {
    this.audit = new AuditLog(log, opts.auditLogFile);
  }

  authorize(authorization: string | null | undefined): Promise<Principal> {
    return authenticateAdmin(this.tokens, this.opts.adminToken, authorization);
  }

  createTenant(who: Principal, id: string, displayName?: string): Promise<TenantRecord> {
    return this.run(who, 'tenant.create', { tenant: id }, (d) => d.createTenant(id, displayName));
  }

  listTenants(who: Principal): Promise<TenantRecord[]> {
    return this.run(who, 'tenant.list', {}, (d) => d.listTenants());
  }

  async createToken(who: Principal, input: CreateTokenInput): Promise<IssuedToken> {
    const ctx: { tenant: string; tokenId?: string } = { tenant: input.tenant };
    return this.run(who, 'token.create', ctx, async (d) => {
      const t = await d.createToken(input);
      ctx.tokenId = t.record.id;
      return t;
    });
  }

  listTokens(who: Principal, tenant?: string): Promise<TokenRecord[]> {
    return this.run(who, 'token.list', { tenant: tenant || undefined }, (d) => d.listTokens(tenant));
  }

  async revokeToken(who: Principal, id: string): Promise<TokenRecord> {
    const ctx: { tenant?: string; tokenId: string } = { tokenId: id };
    return this.run(who, 'token.revoke', ctx, async (d) => {
      const rec = await d.revokeToken(id);
      ctx.tenant = rec.tenant;
      return rec;
    });
  }

  private async run<T>(who: Principal, what: string, about: { tenant?: string; tokenId?: string }, fn: (d: TenantDirectory) => Promise<T>): Promise<T> {
    try {
      if (!this.directory) {
        throw new FirnError(ErrorCode.FailedPrecondition, 'tenants and tokens come from a read-only file (FIRN_TOKEN_STORE=file); use FIRN_TOKEN_STORE=nats to manage them through the admin API');
      }
      const out = await fn(this.directory);
      await this.audit.record({ who: who.tokenId, what, ...about, outcome: 'ok' });
      return out;
    } catch (err) {
      await this.audit.record({ who: who.tokenId, what, ...about, outcome: 'error', error: err instanceof FirnError ? err.code : 'internal' });
      throw err;
    }
  }
}
