import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { FirnError } from '@firn/errors';
import { ALL_SCOPES, tenantFromTrustedSource, tenantIdSchema, type Principal, type Scope } from './tenant';

/** Resolves a presented bearer token to who it belongs to. Implementations never store secrets. */
export interface TokenStore {
  authenticate(token: string): Promise<Principal | undefined>;
}

const TOKEN_PREFIX = 'firn_';

export interface IssuedToken {
  /** Shown once; only its hash is stored. */
  readonly token: string;
  readonly record: TokenRecord;
}

const tokenRecordSchema = z.object({
  id: z.string().min(1),
  tenant: tenantIdSchema,
  scopes: z.array(z.enum(ALL_SCOPES as [Scope, ...Scope[]])).min(1),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  createdAt: z.string(),
  expiresAt: z.string().optional(),
  revoked: z.boolean().optional(),
  revokedAt: z.string().optional(),
  description: z.string().max(256).optional(),
});
export type TokenRecord = z.infer<typeof tokenRecordSchema>;
export { tokenRecordSchema };
const tokenFileSchema = z.object({ version: z.literal(1), tokens: z.array(tokenRecordSchema) });

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** `firn_<id>_<secret>`: the id part lets us find the record without scanning or timing leaks. */
export function issueToken(tenant: string, scopes: readonly Scope[], now = new Date(), extra: { expiresAt?: Date; description?: string } = {}): IssuedToken {
  const id = randomBytes(6).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  const token = `${TOKEN_PREFIX}${id}_${secret}`;
  const record: TokenRecord = {
    id,
    tenant: tenantFromTrustedSource(tenant),
    scopes: [...scopes],
    sha256: sha256(token).toString('hex'),
    createdAt: now.toISOString(),
  };
  if (extra.expiresAt) record.expiresAt = extra.expiresAt.toISOString();
  if (extra.description) record.description = extra.description;
  return { token, record };
}

const TOKEN_RE = /^firn_([0-9a-f]{12})_[A-Za-z0-9_-]{43}$/;

/** The public id of a well-formed token, or undefined. Never looks at the secret. */
export function tokenIdOf(token: string): string | undefined {
  return TOKEN_RE.exec(token)?.[1];
}

/**
 * The one rule for a presented token against its record: same hash (constant time), not
 * revoked, not expired.
 */
export function principalFor(token: string, rec: TokenRecord | undefined, now: Date): Principal | undefined {
  if (!rec || rec.revoked) return undefined;
  if (!timingSafeEqual(sha256(token), Buffer.from(rec.sha256, 'hex'))) return undefined;
  if (rec.expiresAt && Date.parse(rec.expiresAt) <= now.getTime()) return undefined;
  return { tenant: rec.tenant, scopes: rec.scopes, tokenId: rec.id };
}

/** In-memory store over token records (from config or a file). Constant-time hash comparison. */
export class StaticTokenStore implements TokenStore {
  private readonly byId: Map<string, TokenRecord>;

  constructor(
    records: readonly TokenRecord[],
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.byId = new Map(records.map((r) => [r.id, r]));
  }

  async authenticate(token: string): Promise<Principal | undefined> {
    const id = tokenIdOf(token);
    return id === undefined ? undefined : principalFor(token, this.byId.get(id), this.clock());
  }
}

export async function readTokenFile(path: string): Promise<TokenRecord[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const parsed = tokenFileSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw FirnError.invalidArgument(`token file ${path} is invalid: ${parsed.error.issues[0]?.message}`);
  return parsed.data.tokens;
}

export async function writeTokenFile(path: string, tokens: readonly TokenRecord[]): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify({ version: 1, tokens }, null, 2), { mode: 0o600 });
  await rename(tmp, path);
}
