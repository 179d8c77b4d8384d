import { ErrorCode, isFirnError } from '@firn/errors';
import type { ObjectStore } from '@firn/storage';
import type { DebuginfodClient, DebuginfodFileKind, DebuginfodResult } from './debuginfod-client';

/** Object key of a file fetched from debuginfod: public data, shared by every tenant. */
export function debuginfodObjectKey(buildId: string, kind: DebuginfodFileKind): string {
  return `debuginfod/${buildId}/${kind}`;
}

/**
 * debuginfod files kept in object storage, so each is downloaded once per cluster rather than
 * once per symbolizer replica or restart.
 */
export class DebuginfodCache {
  constructor(
    private readonly store: ObjectStore,
    private readonly client: DebuginfodClient | undefined,
  ) {}

  async get(buildId: string, kind: DebuginfodFileKind): Promise<DebuginfodResult> {
    if (!servable(buildId)) return { status: 'not_found' };
    const key = debuginfodObjectKey(buildId, kind);
    try {
      return { status: 'found', data: await this.store.get(key), server: 'object-storage' };
    } catch (err) {
      if (!isFirnError(err, ErrorCode.NotFound)) throw err;
    }
    if (!this.client) return { status: 'not_found' };
    const r = await this.client.fetch(buildId, kind);
    if (r.status === 'found') await this.store.put(key, r.data, { contentType: 'application/octet-stream' });
    return r;
  }

  /** Whether debuginfod (or our copy of it) has debug info for the build id. */
  async has(buildId: string): Promise<boolean> {
    if (!servable(buildId)) return false;
    if (await this.store.head(debuginfodObjectKey(buildId, 'debuginfo'))) return true;
    if (!this.client || this.client.servers.length === 0) return false;
    return (await this.get(buildId, 'debuginfo')).status === 'found';
  }
}

/**
 * debuginfod indexes GNU build ids only: an agent's content hash (`h-…`, files without a build id,
 * e.g. Go binaries from Go's internal linker) can only come from an upload, so nobody is asked.
 */
function servable(buildId: string): boolean {
  return !buildId.startsWith('h-');
}
