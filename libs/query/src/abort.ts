import { FirnError } from '@firn/errors';

/** Throws FirnError canceled (not the DOMException of signal.throwIfAborted) when `signal` fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (!signal?.aborted) return;
  const reason: unknown = signal.reason;
  const why = reason instanceof Error ? reason.message : reason === undefined ? '' : String(reason);
  throw new FirnError('canceled', why ? `query canceled: ${why}` : 'query canceled', { cause: reason });
}
