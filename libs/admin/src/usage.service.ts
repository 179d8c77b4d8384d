import { Inject, Injectable } from '@nestjs/common';
import { USAGE_SOURCE, type UsageReport, type UsageSource } from '@firn/insights';
import type { Logger } from '@firn/observability';
import { TOKEN_STORE } from '@firn/platform';
import { LOGGER } from '@firn/server-runtime';
import { authenticateAdmin, type Principal, type TokenStore } from '@firn/tenancy';
import { FirnError } from '@firn/errors';
import { ADMIN_OPTIONS, type AdminOptions } from './admin.options';
import { AuditLog } from './audit-log';

const TENANT_ID = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/**
 * The usage half of the admin API: authenticates the admin caller (admin-scoped token or the
 * bootstrap secret), reads usage from the process's UsageSource (the querier's metering) and
 * audits the read. Served where the usage lives: the queriers and the all-in-one.
 */
@Injectable()
export class UsageAdminService {
  private readonly audit: AuditLog;

  constructor(
    @Inject(TOKEN_STORE) private readonly tokens: TokenStore,
    @Inject(ADMIN_OPTIONS) private readonly opts: AdminOptions,
    @Inject(USAGE_SOURCE) private readonly source: UsageSource,
    @Inject(LOGGER) log: Logger,
  ) {
    this.audit = new AuditLog(log, opts.auditLogFile);
  }

  authorize(authorization: string | null | undefined): Promise<Principal> {
    return authenticateAdmin(this.tokens, this.opts.adminToken, authorization);
  }

  async usage(who: Principal, tenants: readonly string[]): Promise<UsageReport> {
    try {
      for (const t of tenants) if (!TENANT_ID.test(t)) throw FirnError.invalidArgument(`tenant ${JSON.stringify(t)} is not a tenant id`);
      const r = await this.source.usage(tenants);
      await this.audit.record({ who: who.tokenId, what: 'usage.read', tenant: tenants.length === 1 ? tenants[0] : undefined, outcome: 'ok' });
      return r;
    } catch (err) {
      await this.audit.record({ who: who.tokenId, what: 'usage.read', outcome: 'error', error: err instanceof FirnError ? err.code : 'internal' });
      throw err;
    }
  }
}
