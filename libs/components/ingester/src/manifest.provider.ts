import { Inject, Injectable, type OnApplicationShutdown, type Provider } from '@nestjs/common';
import type { Bus } from '@firn/bus';
import { ManifestLog } from '@firn/manifest';
import type { Logger } from '@firn/observability';
import { BUS, OBJECT_STORE } from '@firn/platform';
import { LOGGER } from '@firn/server-runtime';
import type { ObjectStore } from '@firn/storage';

export const MANIFEST_LOG = Symbol('firn.manifest-log');

/** This process's view of the manifest: rebuilt from object storage + the NATS log at start. */
export const manifestLogProvider: Provider = {
  provide: MANIFEST_LOG,
  inject: [BUS, OBJECT_STORE, LOGGER],
  // Periodic snapshots bound cold-start replay; several ingesters may snapshot the same tenant
  // (distinct keys by seq), and only the newest two are kept.
  useFactory: (bus: Bus, store: ObjectStore, log: Logger) => ManifestLog.open({ bus, store, log, snapshotEvery: 200 }),
};

/** Closes the manifest view after every component has flushed (shutdown hooks run after beforeShutdown). */
@Injectable()
export class ManifestLogLifecycle implements OnApplicationShutdown {
  constructor(@Inject(MANIFEST_LOG) private readonly manifest: ManifestLog) {}

  async onApplicationShutdown(): Promise<void> {
    await this.manifest.close();
  }
}
