export { AdminModule } from './admin.module';
export { adminOptionsFrom, adminSettings } from './admin.options';
export { AdminUsageModule } from './usage.module';
