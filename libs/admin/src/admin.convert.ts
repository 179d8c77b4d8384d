import { create } from '@bufbuild/protobuf';
import { firnAdminV1 } from '@firn/proto';
import type { TenantRecord, TokenRecord } from '@firn/tenancy';

const A = firnAdminV1;

export function tenantMsg(t: TenantRecord): firnAdminV1.Tenant {
  return create(A.TenantSchema, { id: t.id, displayName: t.displayName ?? '', createdAt: t.createdAt });
}

export function tokenMsg(t: TokenRecord): firnAdminV1.Token {
  return create(A.TokenSchema, {
    id: t.id,
    tenant: t.tenant,
    scopes: [...t.scopes],
    createdAt: t.createdAt,
    expiresAt: t.expiresAt ?? '',
    revoked: t.revoked ?? false,
    description: t.description ?? '',
  });
}
