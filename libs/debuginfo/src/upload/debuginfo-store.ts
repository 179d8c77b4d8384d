import { createHash, randomUUID } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { ErrorCode, FirnError, isFirnError } from '@firn/errors';
import type { ObjectStore } from '@firn/storage';
import { tenantPrefix, type TenantId } from '@firn/tenancy';

/** The kinds of file stored per build id (Parca's DebuginfoType, by name). */
export type DebuginfoKind = 'debuginfo' | 'executable' | 'sources' | 'source-map';

export interface UploadMeta {
  v: 1;
  buildId: string;
  kind: DebuginfoKind;
  state: 'uploading' | 'uploaded';
  uploadId: string;
  /** The agent's hash of the file (opaque to us). */
  hash: string;
  /** Size the agent declared at InitiateUpload. */
  size: number;
  startedAtMs: number;
  finishedAtMs?: number;
  /** Set when the Upload stream completed: parts stored, bytes, our own sha256. */
  parts?: number;
  storedBytes?: number;
  sha256?: string;
}

export interface DebuginfoStoreOptions {
  store: ObjectStore;
  /** Largest file accepted (declared size and streamed bytes). */
  maxUploadBytes: number;
  /** An upload still "uploading" after this long is stale and may be started again. */
  staleUploadMs: number;
  /** Bytes per stored part; memory per upload stays about this size. Default 8 MiB. */
  partBytes?: number;
  now?: () => number;
}

export interface ShouldUploadRequest {
  buildId: string;
  kind: DebuginfoKind;
  hash: string;
  force: boolean;
}

export interface ShouldUploadAnswer {
  should: boolean;
  reason: string;
}

// Parca's reason texts, so agents and operators see the same explanations.
export const REASON = {
  inDebuginfod: 'Debuginfo exists in debuginfod, therefore no upload is necessary.',
  firstTimeSeen: 'First time we see this Build ID, and it does not exist in debuginfod, therefore please upload!',
  uploadStale: 'A previous upload was started but not finished and is now stale, so it can be retried.',
  uploadInProgress: 'A previous upload is still in-progress and not stale yet (only stale uploads can be retried).',
  alreadyExists: 'Debuginfo already exists and is not marked as invalid, therefore no new upload is needed.',
  alreadyExistsForced:
    "Debuginfo already exists and is not marked as invalid, therefore wouldn't have accepted a new upload, but accepting it because it's requested to be forced.",
} as const;

/**
 * Per-tenant debuginfo uploads in object storage (Parca's upload protocol):
 *   tenants/<t>/debuginfo/<build id>/<kind>/meta.json                 state, upload id, hash, sizes
 *   tenants/<t>/debuginfo/<build id>/<kind>/<upload id>/part-000000    the file, in parts
 * The file is stored in parts so an upload never needs more memory than one part, and a new
 * upload never overwrites the bytes a finished one points at: meta.json switches atomically.
 */
export class DebuginfoStore {
  private readonly partBytes: number;
  private readonly now: () => number;

  constructor(private readonly opts: DebuginfoStoreOptions) {
    this.partBytes = opts.partBytes ?? 8 * 1024 * 1024;
    this.now = opts.now ?? Date.now;
  }

  async meta(tenant: TenantId, buildId: string, kind: DebuginfoKind): Promise<UploadMeta | undefined> {
    let body: Buffer;
    try {
      body = await this.opts.store.get(metaKey(tenant, buildId, kind));
    } catch (err) {
      if (isFirnError(err, ErrorCode.NotFound)) return undefined;
      throw err;
    }
    return JSON.parse(body.toString('utf8')) as UploadMeta;
  }

  /** `inDebuginfod` is asked only when the tenant has no upload of its own. */
  async shouldUpload(tenant: TenantId, req: ShouldUploadRequest, inDebuginfod: () => Promise<boolean>): Promise<ShouldUploadAnswer> {
    const meta = await this.meta(tenant, req.buildId, req.kind);
    if (!meta) {
      if (req.kind === 'debuginfo' && (await inDebuginfod())) return { should: false, reason: REASON.inDebuginfod };
      return { should: true, reason: REASON.firstTimeSeen };
    }
    if (meta.state === 'uploading') {
      if (this.isStale(meta)) return { should: true, reason: REASON.uploadStale };
      return { should: false, reason: REASON.uploadInProgress };
    }
    if (req.force) return { should: true, reason: REASON.alreadyExistsForced };
    return { should: false, reason: REASON.alreadyExists };
  }

  /** Reserves an upload: failed_precondition when shouldUpload says no, invalid_argument over the size limit. */
  async initiate(tenant: TenantId, req: ShouldUploadRequest & { size: number }, inDebuginfod: () => Promise<boolean>): Promise<UploadMeta> {
    if (!(req.size >= 0) || req.size > this.opts.maxUploadBytes) {
      throw FirnError.invalidArgument(`upload size ${req.size} exceeds the maximum of ${this.opts.maxUploadBytes} bytes`, { limit: 'maxUploadBytes' });
    }
    const answer = await this.shouldUpload(tenant, req, inDebuginfod);
    if (!answer.should) throw new FirnError(ErrorCode.AlreadyExists, answer.reason);
    const meta: UploadMeta = {
      v: 1,
      buildId: req.buildId,
      kind: req.kind,
      state: 'uploading',
      uploadId: randomUUID(),
      hash: req.hash,
      size: req.size,
      startedAtMs: this.now(),
    };
    await this.putMeta(tenant, meta);
    return meta;
  }

  /** Stores the streamed bytes of a reserved upload. */
  async upload(
    tenant: TenantId,
    ref: { buildId: string; kind: DebuginfoKind; uploadId: string },
    chunks: AsyncIterable<Uint8Array>,
  ): Promise<{ size: number }> {
    const meta = await this.reserved(tenant, ref);
    const limit = meta.size > 0 ? Math.min(meta.size, this.opts.maxUploadBytes) : this.opts.maxUploadBytes;
    const sha = createHash('sha256');
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let total = 0;
    let parts = 0;
    const flush = async (): Promise<void> => {
      if (pendingBytes === 0) return;
      const body = Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
      await this.opts.store.put(partKey(tenant, ref.buildId, ref.kind, ref.uploadId, parts), body, { contentType: 'application/octet-stream' });
      parts++;
    };
    for await (const chunk of chunks) {
      total += chunk.byteLength;
      if (total > limit) {
        throw new FirnError(
          ErrorCode.ResourceExhausted,
          `upload of ${ref.buildId} is larger than ${limit} bytes (${meta.size > 0 ? 'the declared size' : 'maxUploadBytes'})`,
          { details: { limit: 'maxUploadBytes' } },
        );
      }
      sha.update(chunk);
      pending.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      pendingBytes += chunk.byteLength;
      if (pendingBytes >= this.partBytes) await flush();
    }
    await flush();
    await this.putMeta(tenant, { ...meta, parts, storedBytes: total, sha256: sha.digest('hex') });
    return { size: total };
  }

  /** Makes the upload the build id's file; the previous upload's parts are removed. */
  async markFinished(tenant: TenantId, ref: { buildId: string; kind: DebuginfoKind; uploadId: string }): Promise<UploadMeta> {
    const meta = await this.reserved(tenant, ref);
    if (meta.parts === undefined)
      throw new FirnError(ErrorCode.FailedPrecondition, `upload ${ref.uploadId} of ${ref.buildId} has no data yet (call Upload first)`);
    const done: UploadMeta = { ...meta, state: 'uploaded', finishedAtMs: this.now() };
    await this.putMeta(tenant, done);
    await this.removeOtherUploads(tenant, ref).catch(() => undefined);
    return done;
  }

  /** Appends a finished upload's bytes to `out`, part by part. */
  async copyTo(tenant: TenantId, meta: UploadMeta, out: FileHandle): Promise<void> {
    for (let i = 0; i < (meta.parts ?? 0); i++) {
      await out.write(await this.opts.store.get(partKey(tenant, meta.buildId, meta.kind, meta.uploadId, i)));
    }
  }

  private async reserved(tenant: TenantId, ref: { buildId: string; kind: DebuginfoKind; uploadId: string }): Promise<UploadMeta> {
    const meta = await this.meta(tenant, ref.buildId, ref.kind);
    if (!meta || meta.uploadId !== ref.uploadId)
      throw FirnError.notFound(`no upload ${ref.uploadId} for build id ${ref.buildId} (${ref.kind}); call InitiateUpload first`);
    if (meta.state !== 'uploading') throw new FirnError(ErrorCode.FailedPrecondition, `upload ${ref.uploadId} of ${ref.buildId} is already finished`);
    return meta;
  }

  private isStale(meta: UploadMeta): boolean {
    return this.now() - meta.startedAtMs > this.opts.staleUploadMs;
  }

  private async putMeta(tenant: TenantId, meta: UploadMeta): Promise<void> {
    await this.opts.store.put(metaKey(tenant, meta.buildId, meta.kind), Buffer.from(JSON.stringify(meta), 'utf8'), { contentType: 'application/json' });
  }

  private async removeOtherUploads(tenant: TenantId, ref: { buildId: string; kind: DebuginfoKind; uploadId: string }): Promise<void> {
    const dir = kindPrefix(tenant, ref.buildId, ref.kind);
    for await (const o of this.opts.store.listAll(dir)) {
      const rest = o.key.slice(dir.length);
      if (rest !== 'meta.json' && !rest.startsWith(`${ref.uploadId}/`)) await this.opts.store.delete(o.key);
    }
  }
}

function kindPrefix(tenant: TenantId, buildId: string, kind: DebuginfoKind): string {
  return `${tenantPrefix(tenant)}debuginfo/${buildId}/${kind}/`;
}

function metaKey(tenant: TenantId, buildId: string, kind: DebuginfoKind): string {
  return `${kindPrefix(tenant, buildId, kind)}meta.json`;
}

function partKey(tenant: TenantId, buildId: string, kind: DebuginfoKind, uploadId: string, part: number): string {
  return `${kindPrefix(tenant, buildId, kind)}${uploadId}/part-${String(part).padStart(6, '0')}`;
}
