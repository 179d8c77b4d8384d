import { Global, Module, type DynamicModule } from '@nestjs/common';
import type { TokenStore } from '@firn/tenancy';
import type { Infra } from './infra';

/** Injection tokens for dependencies. A component injects only what it declared it needs. */
export const OBJECT_STORE = Symbol('firn.object-store');
export const BUS = Symbol('firn.bus');
export const CACHE = Symbol('firn.cache');
export const TOKEN_STORE = Symbol('firn.token-store');

@Global()
@Module({})
export class PlatformModule {
  static forRoot(infra: Infra, extra: { tokens?: TokenStore } = {}): DynamicModule {
    const providers = [
      { provide: OBJECT_STORE, useValue: infra.store ?? null },
      { provide: BUS, useValue: infra.bus ?? null },
      { provide: CACHE, useValue: infra.cache ?? null },
      { provide: TOKEN_STORE, useValue: extra.tokens ?? null },
    ];
    return { module: PlatformModule, providers, exports: providers.map((p) => p.provide) };
  }
}
