import { z } from 'zod';
import { durationMs, positiveInt, setting } from '@firn/config';
import type { InsightsOptions } from './querier.options';

/** Settings of the InsightsService and usage metering (querier and all-in-one). */
export function insightsSettings() {
  return {
    costCurrency: setting({
      env: 'FIRN_COST_CURRENCY',
      flag: 'cost-currency',
      schema: z.string().regex(/^[A-Za-z]{1,10}$/, 'a currency code such as USD'),
      default: 'USD',
      description:
        'Currency of cost reports; the price per core-hour is `price_per_core_hour` in the per-tenant overrides file (per tenant or in `defaults:`).',
    }),
    llvmSymbolizer: setting({
      env: 'FIRN_LLVM_SYMBOLIZER',
      flag: 'llvm-symbolizer',
      schema: z.string().min(1),
      default: 'llvm-symbolizer',
      description: 'llvm-symbolizer binary the PGO export runs on debug files (Debian package llvm).',
    }),
    pgoCacheDir: setting({
      env: 'FIRN_PGO_CACHE_DIR',
      flag: 'pgo-cache-dir',
      schema: z.string(),
      default: '',
      description: 'Directory for local copies of debug files used by PGO exports; empty = a directory under the OS temp dir.',
    }),
    pgoCacheBytes: setting({
      env: 'FIRN_PGO_CACHE_BYTES',
      flag: 'pgo-cache-bytes',
      schema: positiveInt,
      default: String(2 * 1024 ** 3),
      description: 'Size bound of the PGO debug file cache, bytes.',
    }),
    deployChecksFile: setting({
      env: 'FIRN_DEPLOY_CHECKS_FILE',
      flag: 'deploy-checks-file',
      schema: z.string(),
      default: '',
      description:
        'YAML/JSON list of scheduled deploy checks (`checks: [{tenant, name, query, label, webhook, window, settle}]`): when a new value of `label` appears, its regression report against the previous value is POSTed to `webhook`. Empty = none.',
    }),
    deployCheckIntervalMs: setting({
      env: 'FIRN_DEPLOY_CHECK_INTERVAL_MS',
      flag: 'deploy-check-interval-ms',
      schema: durationMs,
      default: '60000',
      description: 'How often the deploy checks look for a new label value, ms.',
    }),
    usageFlushMs: setting({
      env: 'FIRN_USAGE_FLUSH_MS',
      flag: 'usage-flush-ms',
      schema: durationMs,
      default: '10000',
      description: 'How often per-tenant query counts and query CPU are written to NATS KV (and on shutdown); a crash loses at most this much.',
    }),
  };
}

export function insightsOptionsFrom(c: {
  costCurrency: string;
  llvmSymbolizer: string;
  pgoCacheDir: string;
  pgoCacheBytes: number;
  usageFlushMs: number;
  deployChecksFile: string;
  deployCheckIntervalMs: number;
}): InsightsOptions {
  return {
    currency: c.costCurrency.toUpperCase(),
    llvmSymbolizer: c.llvmSymbolizer,
    pgoCacheDir: c.pgoCacheDir,
    pgoCacheBytes: c.pgoCacheBytes,
    usageFlushMs: c.usageFlushMs,
    deployChecksFile: c.deployChecksFile,
    deployCheckIntervalMs: c.deployCheckIntervalMs,
  };
}
