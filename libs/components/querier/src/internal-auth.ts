import { createHash, timingSafeEqual } from 'node:crypto';
import { createContextKey, type HandlerContext, type Interceptor } from '@connectrpc/connect';
import { ErrorCode, FirnError } from '@firn/errors';
import { currentRequestContext } from '@firn/observability';
import { INTERNAL_TENANT_HEADER, INTERNAL_TOKEN_HEADER } from '@firn/platform';
import { Scope, authInterceptor, principalKey, tenantFromTrustedSource, type TenantId, type TokenStore } from '@firn/tenancy';

export { INTERNAL_TENANT_HEADER, INTERNAL_TOKEN_HEADER };

/**
 * Set by the querier's own warm-up calls before ready (with the internal token): the call is
 * served as any forwarded query but not metered as the tenant's usage.
 */
export const WARM_UP_HEADER = 'x-firn-warm-up';
/** The principal's token id of a warm-up call. */
export const WARM_UP_TOKEN_ID = 'warm-up';

const tenantKey = createContextKey<TenantId | undefined>(undefined, { description: 'internal tenant' });

/** The tenant a caller holding the internal token named in metadata; a call without one is refused. */
function metadataTenant(header: Headers): TenantId {
  const tenant = header.get(INTERNAL_TENANT_HEADER);
  if (tenant === null) throw FirnError.invalidArgument(`internal call without the ${INTERNAL_TENANT_HEADER} header`);
  return tenantFromTrustedSource(tenant);
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/**
 * Guards internal services: only callers with the shared token may name a tenant in metadata.
 * With no token configured, internal services refuse every call.
 */
export function internalAuthInterceptor(token: string): Interceptor {
  const want = digest(token);
  return (next) => async (req) => {
    const got = req.header.get(INTERNAL_TOKEN_HEADER);
    if (!token || !got || !timingSafeEqual(digest(got), want)) {
      throw new FirnError(ErrorCode.PermissionDenied, 'internal service: missing or wrong internal token');
    }
    const tenant = metadataTenant(req.header);
    const ctx = currentRequestContext();
    if (ctx) ctx.tenant = tenant;
    req.contextValues.set(tenantKey, tenant);
    return next(req);
  };
}

export function internalTenantOf(ctx: HandlerContext): TenantId {
  const t = ctx.values.get(tenantKey);
  if (!t) throw new FirnError(ErrorCode.PermissionDenied, 'internal call without a tenant');
  return t;
}

/**
 * Auth of the public query services. A call the gateway forwards carries the internal token and
 * the tenant it authenticated once at the edge (with the scope checked there); it is trusted only
 * with a valid token, and so is the querier's own warm-up call (`WARM_UP_HEADER`). Any other call
 * needs a bearer token with `scope`, as before, so a querier Service stays usable on its own.
 */
export function queryAuthInterceptor(tokens: TokenStore, scope: Scope, internalToken: string): Interceptor {
  const bearer = authInterceptor(tokens, scope);
  const want = internalToken ? digest(internalToken) : undefined;
  return (next) => async (req) => {
    const got = req.header.get(INTERNAL_TOKEN_HEADER);
    if (got === null) return bearer(next)(req);
    if (!want || !timingSafeEqual(digest(got), want)) {
      throw new FirnError(ErrorCode.PermissionDenied, 'forwarded query: missing or wrong internal token');
    }
    const tenant = metadataTenant(req.header);
    const ctx = currentRequestContext();
    if (ctx) ctx.tenant = tenant;
    const tokenId = req.header.get(WARM_UP_HEADER) === null ? 'gateway' : WARM_UP_TOKEN_ID;
    req.contextValues.set(principalKey, { tenant, scopes: [scope], tokenId });
    return next(req);
  };
}
