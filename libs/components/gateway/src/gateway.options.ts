/** Gateway limits and behaviour, from its config (per-tenant overrides: @firn/limits). */
export interface GatewayOptions {
  /** Largest accepted request body / RPC message, bytes. */
  maxRequestBytes: number;
  /** Cap on decompressed pprof size (gzip bombs stop here). */
  maxDecompressedBytes: number;
  /** Samples (rows) per profile/batch. */
  maxSamplesPerProfile: number;
  /** Deeper stacks are truncated (and counted). */
  maxStackDepth: number;
  /** How long a retry of an ingest request is recognised and not stored again (JetStream duplicate window). */
  dedupeWindowMs: number;
  /** Bytes (as received plus inflated) all ingest requests of this replica may hold at once; beyond: 503 + Retry-After. */
  maxInflightBytes: number;
  /** `FIRN_UI_DIR`: the built web UI (empty = this installation's dist/web; `off` = none). */
  uiDir: string;
}

export const GATEWAY_OPTIONS = Symbol('firn.gateway-options');

export const DEFAULT_GATEWAY_OPTIONS: GatewayOptions = {
  maxRequestBytes: 64 * 1024 * 1024,
  // With the count limits in @firn/limits, these keep one request's decoding under ~64 MiB of
  // memory whatever its shape (docs/architecture.md, "Memory per request").
  maxDecompressedBytes: 32 * 1024 * 1024,
  maxSamplesPerProfile: 262_144,
  maxStackDepth: 1024,
  dedupeWindowMs: 15 * 60_000,
  maxInflightBytes: 512 * 1024 * 1024,
  uiDir: '',
};
