export { AdminModule } from './admin.module';
export { adminOptionsFrom, adminSettings, type AdminOptions } from './admin.options';
export { AuditLog, type AuditEntry } from './audit-log';
export { AdminUsageModule } from './usage.module';
