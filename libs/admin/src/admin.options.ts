import { z } from 'zod';
import { ConfigError, setting } from '@firn/config';

export interface AdminOptions {
  /** Bootstrap admin secret; '' = only tokens with the `admin` scope are accepted. */
  adminToken: string;
  /** JSON-lines audit log of admin actions; '' = structured log only. */
  auditLogFile: string;
}

export const ADMIN_OPTIONS = Symbol('firn.admin-options');

/** Admin API settings of the processes that serve it (gateway, all-in-one). */
export function adminSettings() {
  return {
    adminToken: setting({
      env: 'FIRN_ADMIN_TOKEN',
      flag: 'admin-token',
      schema: z.string(),
      default: '',
      description:
        'Bootstrap admin secret (≥ 32 characters) accepted by the admin API (/api/v1/admin, firn.admin.v1.AdminService) besides tokens with the admin scope. Empty = admin-scoped tokens only.',
      secret: true,
    }),
    auditLogFile: setting({
      env: 'FIRN_AUDIT_LOG_FILE',
      flag: 'audit-log-file',
      schema: z.string(),
      default: '',
      description: 'File the admin audit log (JSON lines: who, what, when, tenant) is appended to; it always goes to the structured log too.',
    }),
  };
}

export function adminOptionsFrom(c: AdminOptions): AdminOptions {
  if (c.adminToken !== '' && c.adminToken.length < 32) throw new ConfigError('adminToken', 'FIRN_ADMIN_TOKEN (--admin-token) must be at least 32 characters');
  return { adminToken: c.adminToken, auditLogFile: c.auditLogFile };
}
