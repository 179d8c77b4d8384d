/** Gateway limits and behaviour, from its config (the per-tenant overrides come with the tenancy issue). */
export interface GatewayOptions {
  /** Largest accepted request body / RPC message, bytes. */
  maxRequestBytes: number;
  /** Cap on decompressed pprof size (gzip bombs stop here). */
  maxDecompressedBytes: number;
  /** Samples (rows) per profile/batch. */
  maxSamplesPerProfile: number;
  /** Deeper stacks are truncated (and counted). */
  maxStackDepth: number;
  /** `FIRN_UI_DIR`: the built web UI (empty = this installation's dist/web; `off` = none). */
  uiDir: string;
}

export const GATEWAY_OPTIONS = Symbol('firn.gateway-options');

export const DEFAULT_GATEWAY_OPTIONS: GatewayOptions = {
  maxRequestBytes: 64 * 1024 * 1024,
  maxDecompressedBytes: 256 * 1024 * 1024,
  maxSamplesPerProfile: 1_000_000,
  maxStackDepth: 1024,
  uiDir: '',
};
