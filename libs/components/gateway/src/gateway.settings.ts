import { positiveInt, setting } from '@firn/config';
import { limitsSettings } from '@firn/limits';
import { DEFAULT_GATEWAY_OPTIONS, type GatewayOptions } from './gateway.options';
import { webUiSettings } from './web-ui/web-ui.settings';

/** Gateway limit settings, shared by the gateway and the all-in-one. */
export function gatewaySettings() {
  const d = DEFAULT_GATEWAY_OPTIONS;
  return {
    maxRequestBytes: setting({ env: 'FIRN_MAX_REQUEST_BYTES', flag: 'max-request-bytes', schema: positiveInt, default: String(d.maxRequestBytes), description: 'Largest accepted request body or RPC message (bytes); larger → 413 / RESOURCE_EXHAUSTED.' }),
    maxDecompressedBytes: setting({ env: 'FIRN_MAX_DECOMPRESSED_BYTES', flag: 'max-decompressed-bytes', schema: positiveInt, default: String(d.maxDecompressedBytes), description: 'Cap on a decompressed profile (gzip bombs stop here).' }),
    maxSamplesPerProfile: setting({ env: 'FIRN_MAX_SAMPLES_PER_PROFILE', flag: 'max-samples-per-profile', schema: positiveInt, default: String(d.maxSamplesPerProfile), description: 'Most samples (rows) in one profile or Arrow batch.' }),
    maxStackDepth: setting({ env: 'FIRN_MAX_STACK_DEPTH', flag: 'max-stack-depth', schema: positiveInt, default: String(d.maxStackDepth), description: 'Deeper stacks are truncated (and counted).' }),
    ...limitsSettings(),
    ...webUiSettings(),
  };
}

export function gatewayOptionsFrom(c: GatewayOptions): GatewayOptions {
  return { maxRequestBytes: c.maxRequestBytes, maxDecompressedBytes: c.maxDecompressedBytes, maxSamplesPerProfile: c.maxSamplesPerProfile, maxStackDepth: c.maxStackDepth, uiDir: c.uiDir };
}
