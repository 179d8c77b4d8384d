import { z } from 'zod';
import { FirnError } from '@firn/errors';
import { ALL_SCOPES, tenantIdSchema, type Scope } from './tenant';
import type { IssuedToken, TokenRecord } from './tokens';

const tenantRecordSchema = z.object({
  id: tenantIdSchema,
  displayName: z.string().max(256).optional(),
  createdAt: z.string(),
});
export type TenantRecord = z.infer<typeof tenantRecordSchema>;
export { tenantRecordSchema };

export interface CreateTokenInput {
  tenant: string;
  scopes: readonly string[];
  /** 0 or undefined: no expiry. */
  ttlSeconds?: number;
  description?: string;
}

/**
 * Management of tenants and tokens (the admin API's backend). Implementations store only token
 * hashes; `createToken` returns the secret once.
 */
export interface TenantDirectory {
  createTenant(id: string, displayName?: string): Promise<TenantRecord>;
  listTenants(): Promise<TenantRecord[]>;
  createToken(input: CreateTokenInput): Promise<IssuedToken>;
  listTokens(tenant?: string): Promise<TokenRecord[]>;
  revokeToken(id: string): Promise<TokenRecord>;
}

/** Scopes from a request, checked against the known set (unknown → invalid_argument naming it). */
export function parseScopes(raw: readonly string[]): Scope[] {
  if (raw.length === 0) throw FirnError.invalidArgument(`a token needs at least one scope (${ALL_SCOPES.join(', ')})`);
  const out = new Set<Scope>();
  for (const s of raw) {
    if (!(ALL_SCOPES as readonly string[]).includes(s)) throw FirnError.invalidArgument(`unknown scope ${JSON.stringify(s)}; known: ${ALL_SCOPES.join(', ')}`);
    out.add(s as Scope);
  }
  return [...out];
}

/** 0 = none; otherwise between one minute and ten years. */
export function expiryOf(ttlSeconds: number | undefined, now: Date): Date | undefined {
  if (!ttlSeconds) return undefined;
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 60 || ttlSeconds > 10 * 365 * 86400) {
    throw FirnError.invalidArgument(`ttl_seconds must be 0 (no expiry) or between 60 and ${10 * 365 * 86400} (got ${ttlSeconds})`);
  }
  return new Date(now.getTime() + ttlSeconds * 1000);
}
