export type { ListOptions, ListPage, ObjectInfo, ObjectStore, PutOptions } from './object-store';
export { listAllPages } from './object-store';
export { MAX_KEY_BYTES, MAX_LIST_LIMIT, compareKeys, validateObjectKey, validateObjectPrefix } from './object-key';
export { LocalDirStore, type LocalDirStoreOptions } from './local-dir-store';
export { S3Store, type S3StoreOptions } from './s3-store';
export { createObjectStore, type ObjectStoreConfig } from './create-object-store';
