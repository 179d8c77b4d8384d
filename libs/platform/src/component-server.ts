import type { DynamicModule } from '@nestjs/common';
import type { ConfigDefinition, ConfigOf, SettingsDef } from '@firn/config';
import type { BaseServerConfig, RuntimeContext, ServerSpec } from '@firn/server-runtime';
import { openInfra, type Infra, type InfraConfig } from './infra';

export interface ComponentServerOptions<D extends SettingsDef> {
  component: string;
  config: ConfigDefinition<D>;
  /** Which dependencies this component needs, from its config. */
  infra(cfg: ConfigOf<D> & BaseServerConfig): InfraConfig;
  /** The Nest modules to run once dependencies are open. */
  modules(infra: Infra, cfg: ConfigOf<D> & BaseServerConfig, ctx: RuntimeContext): Promise<DynamicModule[]> | DynamicModule[];
  /** Largest accepted RPC message, from config. */
  readMaxBytes?(cfg: ConfigOf<D> & BaseServerConfig): number;
}

/** A single-component process: open what it needs, run its module, close dependencies last. */
export function componentServer<D extends SettingsDef>(opts: ComponentServerOptions<D>): ServerSpec<D> {
  return {
    component: opts.component,
    config: opts.config,
    async setup(cfg, ctx) {
      const infra = await openInfra(opts.infra(cfg), { log: ctx.log, readiness: ctx.readiness });
      try {
        return { modules: await opts.modules(infra, cfg, ctx), close: () => infra.close(), readMaxBytes: opts.readMaxBytes?.(cfg) };
      } catch (err) {
        await infra.close();
        throw err;
      }
    },
  };
}
