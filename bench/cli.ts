// Small helpers every benchmark script shares: integer flags and the bearer token on Connect clients.
import type { Interceptor } from '@connectrpc/connect';

/** `--name`'s value as an integer ≥ min, or an error naming the flag. */
export function intArg(name: string, v: string | undefined, min: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}, got ${v}`);
  return n;
}

/** Sends `Authorization: Bearer <token>` on every call. */
export function bearer(token: string): Interceptor {
  return (next) => (req) => {
    req.header.set('authorization', `Bearer ${token}`);
    return next(req);
  };
}
