import { createContextKey, type HandlerContext, type Interceptor } from '@connectrpc/connect';
import { ErrorCode, FirnError } from '@firn/errors';
import { currentRequestContext } from '@firn/observability';
import { requireScope, type Principal, type Scope } from './tenant';
import type { TokenStore } from './tokens';

export const principalKey = createContextKey<Principal | undefined>(undefined, { description: 'authenticated principal' });

export function bearerToken(authorization: string | null | undefined): string | undefined {
  if (!authorization) return undefined;
  const m = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
  return m?.[1];
}

/** Authenticates a raw Authorization header; the single rule for both RPC and HTTP edges. */
export async function authenticate(store: TokenStore, authorization: string | null | undefined): Promise<Principal> {
  const token = bearerToken(authorization);
  if (!token) throw new FirnError(ErrorCode.Unauthenticated, 'missing bearer token (Authorization: Bearer <token>)');
  const principal = await store.authenticate(token);
  if (!principal) throw new FirnError(ErrorCode.Unauthenticated, 'invalid, expired or revoked token');
  const ctx = currentRequestContext();
  if (ctx) ctx.tenant = principal.tenant;
  return principal;
}

/** Connect interceptor for public services: every call must carry a valid token. */
export function authInterceptor(store: TokenStore): Interceptor {
  return (next) => async (req) => {
    const principal = await authenticate(store, req.header.get('authorization'));
    req.contextValues.set(principalKey, principal);
    return next(req);
  };
}

/** In an RPC implementation: the caller's principal, checked for `scope`. */
export function principalOf(ctx: HandlerContext, scope: Scope): Principal {
  const p = ctx.values.get(principalKey);
  if (!p) throw new FirnError(ErrorCode.Unauthenticated, 'unauthenticated');
  requireScope(p, scope);
  return p;
}
