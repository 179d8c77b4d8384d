import { describe, expect, it } from 'vitest';
import { FirnError } from '@firn/errors';
import { createObjectStore, type ObjectStoreConfig } from './create-object-store';
import { LocalDirStore } from './local-dir-store';
import { S3Store } from './s3-store';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err instanceof FirnError ? err.code : 'not a FirnError';
  }
}

describe(createObjectStore.name, () => {
  it('builds the adapter the config names, without connecting', async () => {
    const local = createObjectStore({ kind: 'local', dir: '/var/lib/firn/objects' });
    expect(local).toBeInstanceOf(LocalDirStore);
    expect(local.description).toBe('file:///var/lib/firn/objects');

    const s3 = createObjectStore({
      kind: 's3',
      endpoint: 'http://user:pw@127.0.0.1:9000/',
      region: 'us-east-1',
      bucket: 'profiles',
      prefix: 'prod',
      accessKeyId: 'AKIAEXAMPLE',
      secretAccessKey: 'very-secret',
    });
    expect(s3).toBeInstanceOf(S3Store);
    expect(s3.description).toBe('s3://profiles/prod/ @ http://127.0.0.1:9000');
    await s3.close();
  });

  it('rejects unknown kinds and inconsistent S3 settings with invalid_argument', () => {
    expect(codeOf(() => createObjectStore({ kind: 'ftp' } as unknown as ObjectStoreConfig))).toBe('invalid_argument');
    expect(codeOf(() => createObjectStore({ kind: 's3', region: 'r', bucket: 'b', accessKeyId: 'only-half' }))).toBe('invalid_argument');
    expect(codeOf(() => createObjectStore({ kind: 's3', region: 'r', bucket: '' }))).toBe('invalid_argument');
    expect(codeOf(() => createObjectStore({ kind: 's3', region: 'r', bucket: 'b', endpoint: 'not a url' }))).toBe('invalid_argument');
    expect(codeOf(() => createObjectStore({ kind: 's3', region: 'r', bucket: 'b', prefix: '../escape' }))).toBe('invalid_argument');
    expect(codeOf(() => createObjectStore({ kind: 's3', region: 'r', bucket: 'b', maxAttempts: 0 }))).toBe('invalid_argument');
    expect(codeOf(() => createObjectStore({ kind: 's3', region: 'r', bucket: 'b', requestTimeoutMs: -1 }))).toBe('invalid_argument');
  });
});
