import { Inject, Injectable } from '@nestjs/common';
import { ErrorCode, FirnError } from '@firn/errors';
import type { Logger } from '@firn/observability';
import { TENANT_DIRECTORY, TOKEN_STORE } from '@firn/platform';
import { LOGGER } from '@firn/server-runtime';
import {
  authenticateAdmin,
  tenantFromTrustedSource,
  type CreateTokenInput,
  type IssuedToken,
  type Principal,
  type TenantDirectory,
  type TenantId,
  type TenantRecord,
  type TokenRecord,
  type TokenStore,
} from '@firn/tenancy';
import { ADMIN_OPTIONS, type AdminOptions } from './admin.options';
import { AuditLog } from './audit-log';

/** What an admin action was about, as far as it got. */
interface About {
  tenant?: TenantId;
  tokenId?: string;
}

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
    return this.run(who, 'tenant.create', (d, about) => {
      about.tenant = tenantFromTrustedSource(id);
      return d.createTenant(about.tenant, displayName);
    });
  }

  listTenants(who: Principal): Promise<TenantRecord[]> {
    return this.run(who, 'tenant.list', (d) => d.listTenants());
  }

  createToken(who: Principal, input: CreateTokenInput): Promise<IssuedToken> {
    return this.run(who, 'token.create', async (d, about) => {
      about.tenant = tenantFromTrustedSource(input.tenant);
      const t = await d.createToken({ ...input, tenant: about.tenant });
      about.tokenId = t.record.id;
      return t;
    });
  }

  /** Every tenant's tokens, or one tenant's (an empty `tenant` means every tenant's). */
  listTokens(who: Principal, tenant?: string): Promise<TokenRecord[]> {
    return this.run(who, 'token.list', (d, about) => {
      if (tenant) about.tenant = tenantFromTrustedSource(tenant);
      return d.listTokens(about.tenant);
    });
  }

  revokeToken(who: Principal, id: string): Promise<TokenRecord> {
    return this.run(who, 'token.revoke', async (d, about) => {
      about.tokenId = id;
      const rec = await d.revokeToken(id);
      about.tenant = rec.tenant;
      return rec;
    });
  }

  /** Runs `fn` and audits it with what it learnt about the tenant and token (an invalid tenant id is not recorded). */
  private async run<T>(who: Principal, what: string, fn: (d: TenantDirectory, about: About) => Promise<T>): Promise<T> {
    const about: About = {};
    try {
      if (!this.directory) {
        throw new FirnError(
          ErrorCode.FailedPrecondition,
          'tenants and tokens come from a read-only file (FIRN_TOKEN_STORE=file); use FIRN_TOKEN_STORE=nats to manage them through the admin API',
        );
      }
      const out = await fn(this.directory, about);
      await this.audit.record({ who: who.tokenId, what, ...about, outcome: 'ok' });
      return out;
    } catch (err) {
      await this.audit.record({ who: who.tokenId, what, ...about, outcome: 'error', error: err instanceof FirnError ? err.code : 'internal' });
      throw err;
    }
  }
}
