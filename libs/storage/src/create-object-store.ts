import { FirnError } from '@firn/errors';
import { LocalDirStore, type LocalDirStoreOptions } from './local-dir-store';
import type { ObjectStore } from './object-store';
import { S3Store, type S3StoreOptions } from './s3-store';

/** What a config file says about object storage; libs/config validates it into this shape. */
export type ObjectStoreConfig = ({ kind: 'local' } & LocalDirStoreOptions) | ({ kind: 's3' } & S3StoreOptions);

export function createObjectStore(config: ObjectStoreConfig): ObjectStore {
  switch (config.kind) {
    case 'local':
      return new LocalDirStore({ dir: config.dir });
    case 's3': {
      const { kind: _kind, ...opts } = config;
      return new S3Store(opts);
    }
    default: {
      // Config can come from untyped sources (files, env); fail with the value that was given.
      const kind: never = config;
      throw FirnError.invalidArgument(`unknown object store kind ${JSON.stringify((kind as { kind?: unknown }).kind)}`);
    }
  }
}
