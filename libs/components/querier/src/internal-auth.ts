import { createHash, timingSafeEqual } from 'node:crypto';
import { createContextKey, type HandlerContext, type Interceptor } from '@connectrpc/connect';
import { ErrorCode, FirnError } from '@firn/errors';
import { currentRequestContext } from '@firn/observability';
import { tenantFromTrustedSource, type TenantId } from '@firn/tenancy';

/** Metadata only peer queriers set: the shared internal token and the (already authenticated) tenant. */
export const INTERNAL_TOKEN_HEADER = 'x-firn-internal-token';
export const INTERNAL_TENANT_HEADER = 'x-firn-tenant';

const tenantKey = createContextKey<TenantId | undefined>(undefined, { description: 'internal tenant' });

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
    const tenant = tenantFromTrustedSource(req.header.get(INTERNAL_TENANT_HEADER) ?? '');
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
