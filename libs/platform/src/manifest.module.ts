import { Global, Inject, Injectable, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import type { Bus } from '@firn/bus';
import { ManifestLog } from '@firn/manifest';
import type { Logger } from '@firn/observability';
import { LOGGER } from '@firn/server-runtime';
import type { ObjectStore } from '@firn/storage';
import { BUS, OBJECT_STORE } from './platform.module';

export const MANIFEST_LOG = Symbol('firn.manifest-log');

/** Closes the manifest view after every component has flushed (shutdown hooks run after beforeShutdown). */
@Injectable()
class ManifestLogLifecycle implements OnApplicationShutdown {
  constructor(@Inject(MANIFEST_LOG) private readonly manifest: ManifestLog) {}

  async onApplicationShutdown(): Promise<void> {
    await this.manifest.close();
  }
}

/**
 * This process's one view of the manifest, rebuilt from object storage + the NATS log at start
 * and followed live; shared by every component of the process (ingester, querier, ...).
 */
@Global()
@Module({})
export class ManifestModule {
  /** `snapshotEvery`: write a tenant snapshot after this many of its deltas (writers only). */
  static forRoot(opts: { snapshotEvery?: number } = {}): DynamicModule {
    return {
      module: ManifestModule,
      providers: [
        {
          provide: MANIFEST_LOG,
          inject: [BUS, OBJECT_STORE, LOGGER],
          useFactory: (bus: Bus, store: ObjectStore, log: Logger) => ManifestLog.open({ bus, store, log, snapshotEvery: opts.snapshotEvery }),
        },
        ManifestLogLifecycle,
      ],
      exports: [MANIFEST_LOG],
    };
  }
}
