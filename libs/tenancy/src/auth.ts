import { createContextKey, type HandlerContext, type Interceptor } from '@connectrpc/connect';
import { ErrorCode, FirnError } from '@firn/errors';
import { currentRequestContext } from '@firn/observability';
import { createHash, timingSafeEqual } from 'node:crypto';
import { Scope, requireScope, tenantFromTrustedSource, type Principal } from './tenant';
import type { TokenStore } from './tokens';

export const principalKey = createContextKey<Principal | undefined>(undefined, { description: 'authenticated principal' });

export function bearerToken(authorization: string | null | undefined): string | undefined {
  if (!authorization) return undefined;
  const m = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
  return m?.[1];
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * The API token of an `Authorization: Basic` header: the password, as Grafana's data sources and
 * the Pyroscope SDKs send it in the Grafana Cloud style (user = tenant or stack id, password =
 * token). The user part never selects a tenant: the tenant is always the token's, so the user is
 * ignored (it may name the tenant, or be anything a client requires there). A token given as
 * the user with an empty password is accepted too. Undefined when the header is not Basic.
 */
export function basicToken(authorization: string | null | undefined): string | undefined {
  const m = /^Basic\s+(\S+)$/i.exec(authorization?.trim() ?? '');
  if (!m) return undefined;
  const raw = m[1];
  if (!BASE64.test(raw) || raw.length % 4 === 1) throw new FirnError(ErrorCode.Unauthenticated, 'malformed Basic credentials: not base64');
  const decoded = Buffer.from(raw, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw new FirnError(ErrorCode.Unauthenticated, 'malformed Basic credentials: want base64("<user>:<token>")');
  const user = decoded.slice(0, colon);
  const password = decoded.slice(colon + 1);
  if (password !== '') return password;
  if (user.startsWith('firn_')) return user;
  throw new FirnError(ErrorCode.Unauthenticated, 'Basic credentials without a password: the password must be a Firn API token');
}

/**
 * Authenticates a raw Authorization header (`Bearer <token>`, or `Basic` with the token as the
 * password); the single rule for both RPC and HTTP edges.
 */
export async function authenticate(store: TokenStore, authorization: string | null | undefined): Promise<Principal> {
  const token = bearerToken(authorization) ?? basicToken(authorization);
  if (!token) throw new FirnError(ErrorCode.Unauthenticated, 'missing credentials (Authorization: Bearer <token>, or Basic with the token as the password)');
  const principal = await store.authenticate(token);
  if (!principal) throw new FirnError(ErrorCode.Unauthenticated, 'invalid, expired or revoked token');
  const ctx = currentRequestContext();
  if (ctx) ctx.tenant = principal.tenant;
  return principal;
}

/**
 * Connect interceptor for public services: every call must carry a valid token and, when
 * `scope` is given, that scope, so every method of the service (even an unimplemented one)
 * answers PERMISSION_DENIED to a token without it. Handlers still call principalOf.
 */
export function authInterceptor(store: TokenStore, scope?: Scope): Interceptor {
  return (next) => async (req) => {
    const principal = await authenticate(store, req.header.get('authorization'));
    if (scope) requireScope(principal, scope);
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

/** Token id of the bootstrap admin secret in audit logs. */
export const BOOTSTRAP_ADMIN_ID = 'bootstrap';

/**
 * Authenticates a caller of the admin API: either the bootstrap admin secret (from config; for
 * creating the first tenants and admin tokens) or a token with the `admin` scope. The bootstrap
 * secret is accepted nowhere else.
 */
export async function authenticateAdmin(store: TokenStore, bootstrapSecret: string, authorization: string | null | undefined): Promise<Principal> {
  const token = bearerToken(authorization);
  if (token && bootstrapSecret && timingSafeEqual(digest(token), digest(bootstrapSecret))) {
    const ctx = currentRequestContext();
    if (ctx) ctx.tenant = ADMIN_TENANT;
    return { tenant: tenantFromTrustedSource(ADMIN_TENANT), scopes: [Scope.Admin], tokenId: BOOTSTRAP_ADMIN_ID };
  }
  const p = await authenticate(store, authorization);
  if (!p.scopes.includes(Scope.Admin)) throw new FirnError(ErrorCode.PermissionDenied, `token ${p.tokenId} lacks scope admin`);
  return p;
}

const ADMIN_TENANT = 'firn-admin';

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
