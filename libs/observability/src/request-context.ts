import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

/**
 * Per-request context carried through async calls: the request id (from `x-request-id` or
 * generated) and, once authentication has run, the tenant. Logs pick both up automatically.
 */
export interface RequestContext {
  readonly requestId: string;
  tenant?: string;
  /** The public operation, e.g. `parca.query.v1alpha1.QueryService/Query` or `POST /ingest`. */
  operation?: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

export function runWithRequestContext<T>(ctx: RequestContext, fn: () => T): T {
  return storage.run(ctx, fn);
}

export function currentRequestContext(): RequestContext | undefined {
  return storage.getStore();
}

export function newRequestId(incoming?: string | null): string {
  // Accept a caller's id only if it is short and printable, so logs can't be polluted.
  if (incoming && /^[\w.:-]{1,128}$/.test(incoming)) return incoming;
  return randomUUID();
}
