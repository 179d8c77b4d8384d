import { Inject, Injectable } from '@nestjs/common';
import { USAGE_SOURCE, type UsageReport, type UsageSource } from '@firn/insights';
import type { Logger } from '@firn/observability';
import { TOKEN_STORE } from '@firn/platform';
import { LOGGER } from '@firn/server-runtime';
import { authenticateAdmin, tenantFromTrustedSource, type Principal, type TokenStore } from '@firn/tenancy';
import { FirnError } from '@firn/errors';
import { ADMIN_OPTIONS, type AdminOptions } from './admin.options';
import { AuditLog } from './audit-log';

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
      const ids = tenants.map((t) => tenantFromTrustedSource(t));
      const r = await this.source.usage(ids);
      await this.audit.record({ who: who.tokenId, what: 'usage.read', tenant: ids.length === 1 ? ids[0] : undefined, outcome: 'ok' });
      return r;
    } catch (err) {
      await this.audit.record({ who: who.tokenId, what: 'usage.read', outcome: 'error', error: err instanceof FirnError ? err.code : 'internal' });
      throw err;
    }
  }
}
