import type { EndpointSpec } from '@firn/platform';

/** Where the gateway forwards the public query APIs (see QueryProxy). */
export interface QueryProxyOptions {
  /** The queriers: base URLs or dns+http://<headless service>:<port>. */
  queriers: EndpointSpec[];
  /** How often DNS-named queriers are resolved again. */
  refreshMs: number;
  /** Shared secret queriers accept forwarded (already authenticated) calls with. */
  internalToken: string;
  /** Other queriers tried when one is unavailable, per call. */
  retries: number;
}

export const QUERY_PROXY_OPTIONS = Symbol('firn.query-proxy-options');
