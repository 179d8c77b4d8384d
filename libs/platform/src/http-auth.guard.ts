import { Inject, Injectable, SetMetadata, createParamDecorator, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { IncomingMessage } from 'node:http';
import { ErrorCode, FirnError } from '@firn/errors';
import { authenticate, requireScope, type Principal, type Scope, type TokenStore } from '@firn/tenancy';
import { TOKEN_STORE } from './platform.module';

const SCOPE_KEY = 'firn:required-scope';
/** Where the guard leaves the authenticated caller on the request. */
const PRINCIPAL = Symbol('firn.principal');

type AuthedRequest = IncomingMessage & { [PRINCIPAL]?: Principal };

/**
 * The scope a plain-HTTP route needs; `undefined` = any valid token. Every route behind
 * TokenAuthGuard must declare one (a route without it is refused, so forgetting it fails closed).
 */
export const RequireScope = (scope: Scope | undefined): MethodDecorator & ClassDecorator => SetMetadata(SCOPE_KEY, scope ?? 'any');

/**
 * The plain-HTTP counterpart of `authInterceptor` (RPC services): authenticates the bearer token
 * before the handler runs (and before a body is read), checks the route's `@RequireScope`, and
 * leaves the principal for `@AuthPrincipal()`. The tenant of a request comes only from here.
 */
@Injectable()
export class TokenAuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(TOKEN_STORE) private readonly tokens: TokenStore,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const scope = this.reflector.getAllAndOverride<string | undefined>(SCOPE_KEY, [ctx.getHandler(), ctx.getClass()]);
    if (scope === undefined) throw FirnError.internal(`route ${ctx.getClass().name}.${ctx.getHandler().name} has no @RequireScope`);
    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    const header = req.headers.authorization;
    const principal = await authenticate(this.tokens, Array.isArray(header) ? header[0] : header);
    if (scope !== 'any') requireScope(principal, scope as Scope);
    req[PRINCIPAL] = principal;
    return true;
  }
}

/** The caller TokenAuthGuard authenticated (a handler parameter decorator). */
export const AuthPrincipal = createParamDecorator((_: unknown, ctx: ExecutionContext): Principal => {
  const p = ctx.switchToHttp().getRequest<AuthedRequest>()[PRINCIPAL];
  if (!p) throw new FirnError(ErrorCode.Unauthenticated, 'unauthenticated');
  return p;
});
