import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { FirnError } from '@firn/errors';
import { MAX_KEY_BYTES, validateListLimit, validateObjectKey, validateObjectPrefix, validateRange } from './object-key';
import { listAllPages, type ListOptions, type ListPage, type ObjectInfo, type ObjectStore, type PutOptions } from './object-store';
import { withRetry } from './retry';
import { isInvalidRange, isNetworkError, isNoSuchKey, toFirnError } from './s3-errors';

export interface S3StoreOptions {
  /** Custom endpoint for S3-compatible servers (MinIO, R2, Ceph, s3rver); omit for AWS. */
  endpoint?: string;
  region: string;
  bucket: string;
  /** Every key is stored under `<prefix>/`; lets several deployments share a bucket. */
  prefix?: string;
  /** Both or neither; without them the SDK's default credential chain is used. */
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Path-style URLs (`endpoint/bucket/key`) work with every S3-compatible server. Default true. */
  forcePathStyle?: boolean;
  /** Attempts per request including the first, with exponential backoff. Default 5. */
  maxAttempts?: number;
  /** Connect timeout, time to response headers, and socket idle timeout. Default 30 000. */
  requestTimeoutMs?: number;
}

const DEFAULT_MAX_ATTEMPTS = 5;
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/** The SDK retries failed requests, but not a connection that drops while we read the body. */
class BodyStreamError extends Error {
  constructor(readonly original: unknown) {
    super('response body stream failed', { cause: original });
  }
}

/**
 * Builds the client while muting the one warning AWS SDK v3 prints on Node 20
 * ("NodeVersionSupportWarning": future SDK releases will want Node >= 22). Node 20 is supported by
 * the version we pin, and the warning would otherwise land in every process's stderr. Only that
 * warning, only during construction (where the SDK emits it, synchronously); all others pass.
 */
function createClientQuietly(make: () => S3Client): S3Client {
  const original = process.emitWarning;
  const filtered = function (this: unknown, warning: string | Error, ...rest: unknown[]): void {
    const text = typeof warning === 'string' ? warning : warning.message;
    if (text.startsWith('NodeVersionSupportWarning')) return;
    (original as (...args: unknown[]) => void).call(process, warning, ...rest);
  };
  process.emitWarning = filtered as typeof process.emitWarning;
  try {
    return make();
  } finally {
    process.emitWarning = original;
  }
}

function describeEndpoint(endpoint: string): string {
  try {
    const url = new URL(endpoint);
    url.username = '';
    url.password = '';
    return url.origin;
  } catch {
    throw FirnError.invalidArgument(`S3 endpoint ${JSON.stringify(endpoint)} is not a URL`);
  }
}

/** `bytes a-b/size` → { start: a, total: size }; undefined when the reply was not a partial one. */
function parseContentRange(contentRange: string | undefined): { start: number; total?: number } | undefined {
  const m = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(contentRange ?? '');
  if (!m) return undefined;
  return { start: Number(m[1]), total: m[2] === '*' ? undefined : Number(m[2]) };
}

interface Fetched {
  bytes: Buffer;
  /** Offset of `bytes[0]` in the object. */
  start: number;
}

/** Object store on any S3-compatible API. Conditional writes are never used (see README). */
export class S3Store implements ObjectStore {
  readonly description: string;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly keyPrefix: string;
  private readonly maxAttempts: number;

  constructor(opts: S3StoreOptions) {
    if (!opts.bucket) throw FirnError.invalidArgument('S3 bucket must not be empty');
    if (!opts.region) throw FirnError.invalidArgument('S3 region must not be empty');
    if ((opts.accessKeyId === undefined) !== (opts.secretAccessKey === undefined)) {
      throw FirnError.invalidArgument('S3 accessKeyId and secretAccessKey must be given together');
    }
    const prefix = (opts.prefix ?? '').replace(/\/+$/, '');
    if (prefix !== '') validateObjectKey(prefix);
    this.bucket = opts.bucket;
    this.keyPrefix = prefix === '' ? '' : `${prefix}/`;
    this.maxAttempts = opts.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    if (!Number.isSafeInteger(this.maxAttempts) || this.maxAttempts < 1) {
      throw FirnError.invalidArgument(`S3 maxAttempts must be a positive integer, got ${opts.maxAttempts}`);
    }
    const timeout = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    if (!Number.isSafeInteger(timeout) || timeout < 1) {
      throw FirnError.invalidArgument(`S3 requestTimeoutMs must be a positive integer, got ${opts.requestTimeoutMs}`);
    }
    const where = opts.endpoint === undefined ? `(${opts.region})` : `@ ${describeEndpoint(opts.endpoint)}`;
    this.description = `s3://${this.bucket}/${this.keyPrefix} ${where}`;

    this.client = createClientQuietly(
      () =>
        new S3Client({
          region: opts.region,
          endpoint: opts.endpoint,
          forcePathStyle: opts.forcePathStyle ?? true,
          credentials:
            opts.accessKeyId !== undefined && opts.secretAccessKey !== undefined
              ? { accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey }
              : undefined,
          maxAttempts: this.maxAttempts,
          retryMode: 'standard',
          // Newer SDKs add CRC checksums by default; several S3-compatible servers reject or
          // ignore them, so only send/verify them where the API requires it.
          requestChecksumCalculation: 'WHEN_REQUIRED',
          responseChecksumValidation: 'WHEN_REQUIRED',
          requestHandler: new NodeHttpHandler({
            connectionTimeout: timeout,
            requestTimeout: timeout,
            throwOnRequestTimeout: true,
            socketTimeout: timeout,
            httpAgent: { keepAlive: true },
            httpsAgent: { keepAlive: true },
          }),
        }),
    );
  }

  async put(key: string, body: Uint8Array, opts: PutOptions = {}): Promise<void> {
    const Key = this.fullKey(key);
    try {
      // A single PUT is atomic on S3: readers see the old object or the new one, never a mix.
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key,
          Body: body,
          ContentLength: body.byteLength,
          ContentType: opts.contentType ?? 'application/octet-stream',
        }),
      );
    } catch (err) {
      throw toFirnError(err, this.what('put', key));
    }
  }

  async get(key: string): Promise<Buffer> {
    try {
      return (await this.fetch(key)).bytes;
    } catch (err) {
      throw this.getFailed(err, key);
    }
  }

  async getRange(key: string, offset: number, length: number): Promise<Buffer> {
    validateObjectKey(key);
    validateRange(key, offset, length);
    if (length === 0) {
      // An empty range can't be expressed in a Range header, but a missing object must still fail.
      if ((await this.head(key)) === undefined) throw this.notFound(key);
      return Buffer.alloc(0);
    }
    let reply: Fetched;
    try {
      reply = await this.fetch(key, { offset, length });
    } catch (err) {
      // 416 means the object exists and the range starts at or after its end: clamp to empty.
      if (isInvalidRange(err)) return Buffer.alloc(0);
      throw this.getFailed(err, key);
    }
    // Some servers answer a Range with more than asked (s3rver returns everything for 'bytes=0-0',
    // others ignore Range and reply 200), so cut the reply to what was requested.
    const skip = offset - reply.start;
    return reply.bytes.subarray(skip, skip + length);
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const Key = this.fullKey(key);
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key }));
      return { key, size: res.ContentLength ?? 0, lastModified: res.LastModified ?? new Date(0), etag: res.ETag };
    } catch (err) {
      if (isNoSuchKey(err)) return undefined;
      throw toFirnError(err, this.what('head', key));
    }
  }

  async list(prefix: string, opts: ListOptions = {}): Promise<ListPage> {
    validateObjectPrefix(prefix);
    const limit = validateListLimit(opts.limit);
    try {
      const res = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: this.keyPrefix + prefix,
          MaxKeys: limit,
          ContinuationToken: opts.cursor,
        }),
      );
      const objects: ObjectInfo[] = (res.Contents ?? []).map((o) => ({
        key: (o.Key ?? '').slice(this.keyPrefix.length),
        size: o.Size ?? 0,
        lastModified: o.LastModified ?? new Date(0),
        etag: o.ETag,
      }));
      return res.IsTruncated && res.NextContinuationToken ? { objects, nextCursor: res.NextContinuationToken } : { objects };
    } catch (err) {
      throw toFirnError(err, this.what('list', prefix));
    }
  }

  listAll(prefix: string): AsyncIterable<ObjectInfo> {
    return listAllPages((cursor) => this.list(prefix, { cursor }));
  }

  async delete(key: string): Promise<void> {
    const Key = this.fullKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key }));
    } catch (err) {
      if (isNoSuchKey(err)) return;
      throw toFirnError(err, this.what('delete', key));
    }
  }

  async check(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      const mapped = toFirnError(err, `object store ${this.description} is not usable`);
      // Whatever HeadBucket says (missing bucket, bad credentials, bad request), we can't serve.
      throw mapped.code === 'unavailable' ? mapped : FirnError.unavailable(mapped.message, err);
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  /**
   * GET with our own retry around reading the body, which the SDK's retries don't cover.
   * Throws the SDK's error unmapped so callers can tell 404 and 416 apart.
   */
  private async fetch(key: string, range?: { offset: number; length: number }): Promise<Fetched> {
    const Key = this.fullKey(key);
    const Range = range && `bytes=${range.offset}-${range.offset + range.length - 1}`;
    const attempt = async (): Promise<Fetched> => {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key, Range }));
      const partial = parseContentRange(res.ContentRange);
      if (range && partial?.total !== undefined && range.offset >= partial.total) {
        // The object ends before the range starts. s3rver answers such a request on an empty
        // object with 'Content-Length: 1' and no body, so don't wait for one.
        (res.Body as { destroy?: () => void } | undefined)?.destroy?.();
        return { bytes: Buffer.alloc(0), start: range.offset };
      }
      let bytes: Uint8Array;
      try {
        bytes = res.Body === undefined ? new Uint8Array(0) : await res.Body.transformToByteArray();
      } catch (err) {
        throw new BodyStreamError(err);
      }
      if (res.ContentLength !== undefined && bytes.byteLength !== res.ContentLength) {
        const short = new Error(`body had ${bytes.byteLength} bytes, Content-Length said ${res.ContentLength}`);
        throw new BodyStreamError(Object.assign(short, { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
      }
      return { bytes: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), start: partial?.start ?? 0 };
    };
    try {
      return await withRetry(attempt, {
        attempts: this.maxAttempts,
        shouldRetry: (err) => err instanceof BodyStreamError && isNetworkError(err.original),
      });
    } catch (err) {
      throw err instanceof BodyStreamError ? err.original : err;
    }
  }

  private getFailed(err: unknown, key: string): FirnError {
    return isNoSuchKey(err) ? this.notFound(key) : toFirnError(err, this.what('get', key));
  }

  private fullKey(key: string): string {
    const full = this.keyPrefix + validateObjectKey(key);
    if (Buffer.byteLength(full, 'utf8') > MAX_KEY_BYTES) {
      throw FirnError.invalidArgument(
        `object key ${JSON.stringify(key)} is too long with the store prefix ${JSON.stringify(this.keyPrefix)} (max ${MAX_KEY_BYTES} bytes)`,
      );
    }
    return full;
  }

  private notFound(key: string): FirnError {
    return FirnError.notFound(`object ${JSON.stringify(key)} not found in ${this.description}`, { key });
  }

  private what(op: string, key: string): string {
    return `S3 ${op} ${JSON.stringify(key)} in ${this.description}`;
  }
}
