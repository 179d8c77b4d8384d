import { z } from 'zod';
import { FirnError } from '@firn/errors';

declare const tenantBrand: unique symbol;

/**
 * A tenant id that came from authentication or from storage this system wrote. Only
 * `tenantFromTrustedSource` makes one, so a string from a request body can't be passed where a
 * TenantId is required, and every key built from one is confined to the tenant's prefix.
 */
export type TenantId = string & { readonly [tenantBrand]: true };

const TENANT_RE = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** Whether `id` is a well-formed tenant id (the check `tenantFromTrustedSource` makes). */
export function isTenantId(id: string): id is TenantId {
  return TENANT_RE.test(id);
}

/**
 * The one way a string becomes a TenantId: validates it and throws FirnError invalid_argument
 * otherwise. For the auth layer (token records, the bootstrap admin), internal metadata set by
 * trusted callers (the querier's internal tenant header), and what this system wrote and reads
 * back (ingest-log messages, manifest deltas and snapshots, object keys and stream subjects
 * from a listing, config files and admin CLI arguments). Tests use it too.
 */
export function tenantFromTrustedSource(id: string): TenantId {
  if (!isTenantId(id)) {
    throw FirnError.invalidArgument(`invalid tenant id ${JSON.stringify(id)}: lowercase letters, digits, '-', '_', 1-63 chars`);
  }
  return id;
}

/** `tenantFromTrustedSource` for config files and stored records parsed with zod. */
export const tenantIdSchema = z.string().transform((id, ctx): TenantId => {
  if (isTenantId(id)) return id;
  ctx.addIssue({ code: 'custom', message: "a tenant id: lowercase letters, digits, '-', '_', 1-63 chars" });
  return z.NEVER;
});

export const Scope = {
  WriteProfiles: 'write:profiles',
  WriteDebuginfo: 'write:debuginfo',
  ReadProfiles: 'read:profiles',
  Admin: 'admin',
} as const;
export type Scope = (typeof Scope)[keyof typeof Scope];
export const ALL_SCOPES: readonly Scope[] = Object.values(Scope);

export interface Principal {
  readonly tenant: TenantId;
  readonly scopes: readonly Scope[];
  /** Public id of the token (never the secret), for logs and audit. */
  readonly tokenId: string;
}

export function requireScope(p: Principal, scope: Scope): void {
  if (!p.scopes.includes(scope) && !p.scopes.includes(Scope.Admin)) {
    throw new FirnError('permission_denied', `token ${p.tokenId} lacks scope ${scope}`);
  }
}

/** Object-storage root of all tenants' keys: list it to walk every tenant's objects. */
export const TENANTS_KEY_ROOT = 'tenants/';

/**
 * Object-storage prefix of a tenant, `tenants/<tenant>/`: every key a component writes for it
 * starts here. The only place a tenant's key prefix is built.
 */
export function tenantPrefix(t: TenantId): string {
  return `${TENANTS_KEY_ROOT}${t}/`;
}

/**
 * The tenant owning an object key from a listing, and the key's rest after the tenant's prefix;
 * undefined for a key outside every tenant's prefix or naming an invalid tenant id.
 */
export function tenantOfKey(key: string): { tenant: TenantId; rest: string } | undefined {
  if (!key.startsWith(TENANTS_KEY_ROOT)) return undefined;
  const end = key.indexOf('/', TENANTS_KEY_ROOT.length);
  if (end < 0) return undefined;
  const id = key.slice(TENANTS_KEY_ROOT.length, end);
  return isTenantId(id) ? { tenant: id, rest: key.slice(end + 1) } : undefined;
}
