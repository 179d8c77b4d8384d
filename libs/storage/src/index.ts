export type { ListOptions, ListPage, ObjectInfo, ObjectStore, PutOptions } from './object-store';
export { LocalDirStore } from './local-dir-store';
export { S3Store } from './s3-store';
export { createObjectStore, type ObjectStoreConfig } from './create-object-store';
