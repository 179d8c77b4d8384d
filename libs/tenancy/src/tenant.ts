import { FirnError } from '@firn/errors';

declare const tenantBrand: unique symbol;

/**
 * A tenant id that came from authentication. Only `tenantFromTrustedSource` makes one, so a
 * string from a request body can't be passed where a TenantId is required.
 */
export type TenantId = string & { readonly [tenantBrand]: true };

const TENANT_RE = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** For the auth layer, internal metadata set by trusted callers, and tests. */
export function tenantFromTrustedSource(id: string): TenantId {
  if (!TENANT_RE.test(id)) {
    throw FirnError.invalidArgument(`invalid tenant id ${JSON.stringify(id)}: lowercase letters, digits, '-', '_', 1-63 chars`);
  }
  return id as TenantId;
}

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

/** Object-storage prefix of a tenant: every key a component writes for it starts here. */
export function tenantPrefix(t: TenantId): string {
  return `tenants/${t}/`;
}
