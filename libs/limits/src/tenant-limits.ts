import { z } from 'zod';
import { duration } from '@firn/config';

/**
 * Every per-tenant setting: limits, retention, price. Defaults come from config; a tenant's
 * overrides (the overrides file) replace single fields. Rates and concurrency are enforced per
 * replica (see README).
 */
export interface TenantLimits {
  /** Sustained ingest rate, request bytes (as received) per second; 0 = unlimited. */
  ingestRateBytes: number;
  /** Bytes a tenant may send at once above the sustained rate (token bucket size). */
  ingestBurstBytes: number;
  /** Largest request body / message as received (compressed), bytes. */
  maxProfileBytes: number;
  /** Largest profile after decompression, bytes (decompression stops here). */
  maxDecompressedBytes: number;
  /** Samples (rows) per profile or Arrow batch. */
  maxSamplesPerProfile: number;
  /** Labels per series. */
  maxLabelNames: number;
  maxLabelNameLength: number;
  maxLabelValueLength: number;
  /** Distinct series in one write request. */
  maxSeriesPerRequest: number;
  /** Deeper stacks keep their leaf-most frames (counted, not rejected). */
  maxStackDepth: number;
  /** Entries in each symbol table of one profile (pprof strings, locations, functions, mappings; distinct folded names; an Arrow frame dictionary), counted while reading. */
  maxProfileSymbols: number;
  /** Frames over all distinct stacks of one request (after truncation to maxStackDepth), counted while decoding. */
  maxStackFramesPerRequest: number;
  /** Samples older than now minus this are rejected; 0 = no lower bound beyond year 2000. */
  ingestPastWindowMs: number;
  /** Samples newer than now plus this are rejected. */
  ingestFutureWindowMs: number;
  /** Longest range of a profile query. */
  maxQueryRangeMs: number;
  /** Cap on the nodes of one flame graph (a request asking for more gets this many). */
  maxFlameGraphNodes: number;
  /** Queries of one tenant running at once on one querier. */
  maxConcurrentQueries: number;
  /**
   * Price of one CPU core-hour of the tenant's workloads, for cost reports (currency: the
   * querier's FIRN_COST_CURRENCY); at most 6 decimals, so amounts are exact in micro-units.
   */
  pricePerCoreHour: number;
  /** Data older than this is deleted by the compactor and clipped from queries; 0 = keep forever. */
  retentionMs: number;
}

export type LimitName = keyof TenantLimits;

export const DEFAULT_TENANT_LIMITS: TenantLimits = {
  ingestRateBytes: 16 * 1024 * 1024,
  ingestBurstBytes: 128 * 1024 * 1024,
  maxProfileBytes: 64 * 1024 * 1024,
  maxDecompressedBytes: 32 * 1024 * 1024,
  maxSamplesPerProfile: 262_144,
  maxLabelNames: 64,
  maxLabelNameLength: 1024,
  maxLabelValueLength: 2048,
  maxSeriesPerRequest: 10_000,
  maxStackDepth: 1024,
  maxProfileSymbols: 262_144,
  maxStackFramesPerRequest: 1_048_576,
  ingestPastWindowMs: 0,
  ingestFutureWindowMs: 10 * 60_000,
  maxQueryRangeMs: 31 * 24 * 3600_000,
  maxFlameGraphNodes: 65_536,
  maxConcurrentQueries: 16,
  pricePerCoreHour: 0,
  retentionMs: 0,
};

/** snake_case, as written in the overrides file and shown in error messages and metrics. */
export function snakeName(n: LimitName): string {
  return n.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

const nonNegInt = z.number().int().nonnegative();
const positive = z.number().int().positive();
/** A price with at most 6 decimals (micro-units), so cost arithmetic stays exact. */
const price = z
  .number()
  .nonnegative()
  .refine((v) => Number.isSafeInteger(Math.round(v * 1e6)) && Math.abs(Math.round(v * 1e6) - v * 1e6) < 1e-6, 'a price has at most 6 decimals');

const window = duration();
const positiveWindow = duration({ positive: true });

/**
 * The overrides a file may set, snake_case keys; unknown keys are rejected (typos). Time settings
 * are durations (`30d`, `10m`; a bare number is ms, as the `_ms` names say).
 */
export const limitOverridesSchema = z
  .object({
    ingest_rate_bytes: nonNegInt,
    ingest_burst_bytes: nonNegInt,
    max_profile_bytes: positive,
    max_decompressed_bytes: positive,
    max_samples_per_profile: positive,
    max_label_names: positive,
    max_label_name_length: positive,
    max_label_value_length: positive,
    max_series_per_request: positive,
    max_stack_depth: positive,
    max_profile_symbols: positive,
    max_stack_frames_per_request: positive,
    ingest_past_window_ms: window,
    ingest_future_window_ms: window,
    max_query_range_ms: positiveWindow,
    max_flame_graph_nodes: positive,
    max_concurrent_queries: positive,
    price_per_core_hour: price,
    retention: window,
  })
  .partial()
  .strict();

export type LimitOverrides = Partial<TenantLimits>;

/** File keys whose field is not their camelCase spelling. */
const FIELD_OF: Record<string, LimitName> = { retention: 'retentionMs' };

export function fromSnake(o: z.infer<typeof limitOverridesSchema>): LimitOverrides {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[FIELD_OF[k] ?? k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())] = v;
  return out as LimitOverrides;
}
