import { Global, Inject, Injectable, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import type { TenantLimitsSource } from '@firn/limits';
import type { TenantDirectory, TokenStore } from '@firn/tenancy';
import type { Infra } from './infra';

/** Injection tokens for dependencies. A component injects only what it declared it needs. */
export const OBJECT_STORE = Symbol('firn.object-store');
export const BUS = Symbol('firn.bus');
export const CACHE = Symbol('firn.cache');
export const TOKEN_STORE = Symbol('firn.token-store');
/** Tenant and token management (null when tokens come from a read-only file). */
export const TENANT_DIRECTORY = Symbol('firn.tenant-directory');
/** Per-tenant limits (config defaults + reloadable overrides). */
export const TENANT_LIMITS = Symbol('firn.tenant-limits');
const CLOSERS = Symbol('firn.platform-closers');

export interface PlatformExtras {
  tokens?: TokenStore;
  directory?: TenantDirectory;
  limits?: TenantLimitsSource;
  /** Stopped when the application shuts down, before dependencies close (e.g. the token watch). */
  closers?: Array<() => Promise<void> | void>;
}

@Injectable()
class PlatformLifecycle implements OnApplicationShutdown {
  constructor(@Inject(CLOSERS) private readonly closers: Array<() => Promise<void> | void>) {}

  async onApplicationShutdown(): Promise<void> {
    for (const c of this.closers) await c();
  }
}

@Global()
@Module({})
export class PlatformModule {
  static forRoot(infra: Infra, extra: PlatformExtras = {}): DynamicModule {
    const providers = [
      { provide: OBJECT_STORE, useValue: infra.store ?? null },
      { provide: BUS, useValue: infra.bus ?? null },
      { provide: CACHE, useValue: infra.cache ?? null },
      { provide: TOKEN_STORE, useValue: extra.tokens ?? null },
      { provide: TENANT_DIRECTORY, useValue: extra.directory ?? null },
      { provide: TENANT_LIMITS, useValue: extra.limits ?? null },
    ];
    return {
      module: PlatformModule,
      providers: [...providers, { provide: CLOSERS, useValue: extra.closers ?? [] }, PlatformLifecycle],
      exports: providers.map((p) => p.provide),
    };
  }
}
