/** What a store knows about one object. `etag` is backend-specific and only for diagnostics. */
export interface ObjectInfo {
  key: string;
  size: number;
  lastModified: Date;
  etag?: string;
}

/** One page of a listing; pass `nextCursor` back to get the next page. Absent on the last page. */
export interface ListPage {
  objects: ObjectInfo[];
  nextCursor?: string;
}

export interface PutOptions {
  contentType?: string;
}

export interface ListOptions {
  /** Opaque cursor from a previous page of the same prefix. */
  cursor?: string;
  /** Page size, 1..1000 (S3's own ceiling). Defaults to 1000. */
  limit?: number;
}

/**
 * The object storage every component uses. Keys are '/'-separated (see object-key.ts).
 *
 * Guarantees all adapters give:
 * - `put` is atomic: a reader sees the old object, the new one, or nothing; never a prefix of it.
 * - `list` returns keys in byte-wise (UTF-8) lexicographic order, each exactly once across pages.
 * - Expected failures are FirnErrors: not_found, invalid_argument, unavailable.
 *
 * There is deliberately no conditional put: several S3-compatible servers ignore If-None-Match,
 * so correctness must never depend on it (see README).
 */
export interface ObjectStore {
  /** Where the data lives, for logs and status pages; never contains secrets. */
  readonly description: string;
  put(key: string, body: Uint8Array, opts?: PutOptions): Promise<void>;
  /** Throws FirnError not_found if the object does not exist. */
  get(key: string): Promise<Buffer>;
  /**
   * Up to `length` bytes starting at `offset`; shorter (possibly empty) when the range runs past
   * the end. not_found if missing, invalid_argument for negative or non-integer numbers.
   */
  getRange(key: string, offset: number, length: number): Promise<Buffer>;
  head(key: string): Promise<ObjectInfo | undefined>;
  list(prefix: string, opts?: ListOptions): Promise<ListPage>;
  listAll(prefix: string): AsyncIterable<ObjectInfo>;
  /** Idempotent: deleting a missing key succeeds. */
  delete(key: string): Promise<void>;
  /** Readiness probe: throws FirnError unavailable when the backend cannot be used. */
  check(): Promise<void>;
  close(): Promise<void>;
}

/** Walks every page of a listing; adapters implement `listAll` with this so paging lives in one place. */
export async function* listAllPages(list: (cursor: string | undefined) => Promise<ListPage>): AsyncIterable<ObjectInfo> {
  let cursor: string | undefined;
  do {
    const page = await list(cursor);
    yield* page.objects;
    cursor = page.nextCursor;
  } while (cursor !== undefined);
}
