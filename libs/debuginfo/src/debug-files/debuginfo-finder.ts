import type { TenantId } from '@firn/tenancy';
import type { DebuginfodCache } from './debuginfod-cache';
import type { DebuginfodFileKind } from './debuginfod-client';
import type { DebuginfoKind, DebuginfoStore, UploadMeta } from '../upload/debuginfo-store';
import type { DiskCache } from './disk-cache';

/** Paths to give the symbol reader: debug info (DWARF/symbols) and, when known, the executable. */
export interface DebugFiles {
  debugPath: string;
  binaryPath?: string;
  source: 'upload' | 'debuginfod';
}

export type FindResult = { status: 'found'; files: DebugFiles } | { status: 'not_found' } | { status: 'unavailable'; reason: string };

/**
 * Where the symbolizer gets a build id's debug info: the tenant's own upload first (a tenant
 * never sees another tenant's uploads), then debuginfod (public, shared). Files end up in the
 * local disk cache; an upload's file name carries its upload id, so a new upload is picked up.
 */
export class DebuginfoFinder {
  constructor(
    private readonly deps: {
      uploads: DebuginfoStore;
      debuginfod: DebuginfodCache;
      disk: DiskCache;
    },
  ) {}

  async find(tenant: TenantId, buildId: string): Promise<FindResult> {
    const [debug, exe] = await Promise.all([this.fromUpload(tenant, buildId, 'debuginfo'), this.fromUpload(tenant, buildId, 'executable')]);
    if (debug || exe)
      return { status: 'found', files: { debugPath: (debug ?? exe) as string, ...(debug && exe ? { binaryPath: exe } : {}), source: 'upload' } };
    const d = await this.fromDebuginfod(buildId, 'debuginfo');
    if (d.status === 'found') return { status: 'found', files: { debugPath: d.path, source: 'debuginfod' } };
    const e = await this.fromDebuginfod(buildId, 'executable');
    if (e.status === 'found') return { status: 'found', files: { debugPath: e.path, source: 'debuginfod' } };
    if (d.status === 'unavailable') return d;
    return e.status === 'unavailable' ? e : { status: 'not_found' };
  }

  private async fromUpload(tenant: TenantId, buildId: string, kind: DebuginfoKind): Promise<string | undefined> {
    const meta: UploadMeta | undefined = await this.deps.uploads.meta(tenant, buildId, kind);
    if (!meta || meta.state !== 'uploaded') return undefined;
    return this.deps.disk.getOrFill(`u-${tenant}-${buildId}-${kind}-${meta.uploadId}`, (out) => this.deps.uploads.copyTo(tenant, meta, out));
  }

  private async fromDebuginfod(
    buildId: string,
    kind: DebuginfodFileKind,
  ): Promise<{ status: 'found'; path: string } | { status: 'not_found' } | { status: 'unavailable'; reason: string }> {
    const name = `d-${buildId}-${kind}`;
    let miss: { status: 'not_found' } | { status: 'unavailable'; reason: string } | undefined;
    const path = await this.deps.disk
      .getOrFill(name, async (out) => {
        const r = await this.deps.debuginfod.get(buildId, kind);
        if (r.status !== 'found') {
          miss = r;
          throw new NotCached();
        }
        await out.write(r.data);
      })
      .catch((err: unknown) => {
        if (err instanceof NotCached) return undefined;
        throw err;
      });
    if (path !== undefined) return { status: 'found', path };
    return miss ?? { status: 'not_found' };
  }
}

class NotCached extends Error {}
