import { durationMs, positiveInt, setting } from '@firn/config';
import { z } from 'zod';
import { limitsSettings } from '@firn/limits';
import { DEFAULT_GATEWAY_OPTIONS, type GatewayOptions } from './gateway.options';
import { webUiSettings } from './web-ui/web-ui.settings';

/** Gateway limit settings, shared by the gateway and the all-in-one. */
export function gatewaySettings() {
  const d = DEFAULT_GATEWAY_OPTIONS;
  return {
    maxRequestBytes: setting({
      env: 'FIRN_MAX_REQUEST_BYTES',
      flag: 'max-request-bytes',
      schema: positiveInt,
      default: String(d.maxRequestBytes),
      description: 'Largest accepted request body or RPC message (bytes); larger → 413 / RESOURCE_EXHAUSTED.',
    }),
    maxDecompressedBytes: setting({
      env: 'FIRN_MAX_DECOMPRESSED_BYTES',
      flag: 'max-decompressed-bytes',
      schema: positiveInt,
      default: String(d.maxDecompressedBytes),
      description: 'Cap on a decompressed profile (gzip bombs stop here).',
    }),
    maxSamplesPerProfile: setting({
      env: 'FIRN_MAX_SAMPLES_PER_PROFILE',
      flag: 'max-samples-per-profile',
      schema: positiveInt,
      default: String(d.maxSamplesPerProfile),
      description: 'Most samples (rows) in one profile or Arrow batch.',
    }),
    maxStackDepth: setting({
      env: 'FIRN_MAX_STACK_DEPTH',
      flag: 'max-stack-depth',
      schema: positiveInt,
      default: String(d.maxStackDepth),
      description: 'Deeper stacks are truncated (and counted).',
    }),
    dedupeWindowMs: setting({
      env: 'FIRN_INGEST_DEDUPE_WINDOW_MS',
      flag: 'ingest-dedupe-window-ms',
      schema: durationMs.pipe(z.number().max(DEDUPE_WINDOW_MAX_MS, 'at most 86400000 (24 h, the ingest log retention)')),
      default: String(d.dedupeWindowMs),
      description:
        'How long a retried ingest request (same tenant, API, bytes and time parameters, or same Idempotency-Key) is recognised and not stored again, ms. Set the same value on every gateway. See docs/architecture.md "Idempotent ingest".',
    }),
    maxInflightBytes: setting({
      env: 'FIRN_INGEST_MAX_INFLIGHT_BYTES',
      flag: 'ingest-max-inflight-bytes',
      schema: positiveInt,
      default: String(d.maxInflightBytes),
      description:
        'Bytes (as received plus inflated) the ingest requests of this gateway may hold at once; more → 503 with Retry-After (one request is always let through).',
    }),
    ...limitsSettings(),
    ...webUiSettings(),
  };
}

/** JetStream keeps a duplicate window no longer than the stream's max age (24 h). */
const DEDUPE_WINDOW_MAX_MS = 24 * 3600_000;

export function gatewayOptionsFrom(c: GatewayOptions): GatewayOptions {
  return {
    maxRequestBytes: c.maxRequestBytes,
    maxDecompressedBytes: c.maxDecompressedBytes,
    maxSamplesPerProfile: c.maxSamplesPerProfile,
    maxStackDepth: c.maxStackDepth,
    dedupeWindowMs: c.dedupeWindowMs,
    maxInflightBytes: c.maxInflightBytes,
    uiDir: c.uiDir,
  };
}
