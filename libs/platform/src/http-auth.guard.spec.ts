import { Reflector } from '@nestjs/core';
import type { ExecutionContext } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { isFirnError } from '@firn/errors';
import { Scope, StaticTokenStore, issueToken } from '@firn/tenancy';
import { RequireScope, TokenAuthGuard } from './http-auth.guard';

class Routes {
  @RequireScope(Scope.WriteProfiles)
  write(): void {}

  @RequireScope(undefined)
  any(): void {}

  undeclared(): void {}
}

function context(handler: keyof Routes, authorization?: string): { ctx: ExecutionContext; req: Record<string | symbol, unknown> } {
  const req: Record<string | symbol, unknown> = { headers: authorization ? { authorization } : {} };
  const ctx = {
    getHandler: () => Routes.prototype[handler],
    getClass: () => Routes,
    switchToHttp: () => ({ getRequest: () => req }),
  } as unknown as ExecutionContext;
  return { ctx, req };
}

describe(TokenAuthGuard.name, () => {
  const writer = issueToken('acme', [Scope.WriteProfiles]);
  const reader = issueToken('acme', [Scope.ReadProfiles]);
  const guard = new TokenAuthGuard(new Reflector(), new StaticTokenStore([writer.record, reader.record]));

  it('lets a token with the route scope through and leaves its principal on the request', async () => {
    const { ctx, req } = context('write', `Bearer ${writer.token}`);
    await expect(guard.canActivate(ctx)).resolves.toBe(true);
    expect(Object.getOwnPropertySymbols(req).map((s) => req[s])).toEqual([expect.objectContaining({ tenant: 'acme', tokenId: writer.record.id })]);
  });

  it('answers unauthenticated without a token and permission_denied without the scope', async () => {
    await expect(guard.canActivate(context('write').ctx)).rejects.toSatisfy((e) => isFirnError(e, 'unauthenticated'));
    await expect(guard.canActivate(context('write', 'Bearer firn_000000000000_nope').ctx)).rejects.toSatisfy((e) => isFirnError(e, 'unauthenticated'));
    await expect(guard.canActivate(context('write', `Bearer ${reader.token}`).ctx)).rejects.toSatisfy((e) => isFirnError(e, 'permission_denied'));
    await expect(guard.canActivate(context('any', `Bearer ${reader.token}`).ctx)).resolves.toBe(true);
  });

  it('refuses a route that declares no scope (fails closed)', async () => {
    await expect(guard.canActivate(context('undeclared', `Bearer ${writer.token}`).ctx)).rejects.toThrow(/has no @RequireScope/);
  });
});
