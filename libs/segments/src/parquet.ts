import { tableFromIPC, tableToIPC, type Table } from 'apache-arrow';
import * as pw from 'parquet-wasm/node';
import { FirnError } from '@firn/errors';

// The only file that touches parquet-wasm: everything else sees apache-arrow Tables and bytes.

export interface ParquetWriteOptions {
  /** Maximum rows per row group. */
  rowGroupRows: number;
  /** Parquet key-value metadata (also kept in the embedded Arrow schema). */
  metadata: Record<string, string>;
  /** Columns whose values are (nearly) unique, where a dictionary page would only cost bytes. */
  plainColumns?: readonly string[];
  /**
   * Non-dictionary encodings per top-level column; dictionary encoding is turned off for them.
   * `delta` = DELTA_BINARY_PACKED (integers: sorted or clustered ids), `plain` = PLAIN.
   */
  columnEncodings?: Readonly<Record<string, ColumnEncoding>>;
  /**
   * Min/max statistics: per chunk and page (default), or none. Without them the writer still
   * writes the offset index, so ranged reads of a few rows still skip pages.
   */
  statistics?: 'page' | 'none';
}

export type ColumnEncoding = 'delta' | 'plain';

const ENCODINGS: Record<ColumnEncoding, pw.Encoding> = {
  delta: pw.Encoding.DELTA_BINARY_PACKED,
  plain: pw.Encoding.PLAIN,
};

const CREATED_BY = 'firn segments (parquet-wasm 0.8)';

/**
 * Bytes of parquet-wasm's WebAssembly linear memory in this process. It only ever grows (to the
 * high-water mark of what reads and writes held at once, plus allocator fragmentation) and is
 * outside the JS heap, so process RSS growth with a flat heap shows up here first.
 */
export function parquetWasmMemoryBytes(): number {
  return pw.wasmMemory().buffer.byteLength;
}

/** Arrow → Parquet: zstd, dictionary encoding, chunk + page statistics unless turned off, the page index. */
export function writeParquetTable(table: Table, opts: ParquetWriteOptions): Uint8Array {
  let builder = new pw.WriterPropertiesBuilder()
    .setCompression(pw.Compression.ZSTD)
    .setDictionaryEnabled(true)
    .setStatisticsEnabled(opts.statistics === 'none' ? pw.EnabledStatistics.None : pw.EnabledStatistics.Page)
    .setMaxRowGroupSize(opts.rowGroupRows)
    .setCreatedBy(CREATED_BY)
    .setKeyValueMetadata(new Map(Object.entries(opts.metadata)));
  for (const col of opts.plainColumns ?? []) builder = builder.setColumnDictionaryEnabled(col, false);
  for (const [col, enc] of Object.entries(opts.columnEncodings ?? {})) {
    builder = builder.setColumnDictionaryEnabled(col, false).setColumnEncoding(col, ENCODINGS[enc]);
  }
  // writeParquet consumes (frees) both the wasm table and the properties.
  const wasmTable = pw.Table.fromIPCStream(tableToIPC(table, 'stream'));
  return pw.writeParquet(wasmTable, builder.build());
}

/**
 * parquet-wasm's default of 1024 rows per batch yields arrow-js tables of many tiny batches; one
 * batch per (default-sized) row group is markedly faster to decode and to iterate.
 */
const READ_BATCH_ROWS = 65_536;

/** Whole-file read of in-memory bytes (optionally only some row groups). */
export function readParquetTable(bytes: Uint8Array, opts: { rowGroups?: number[] } = {}): Table {
  try {
    const wasmTable = pw.readParquet(bytes, { batchSize: READ_BATCH_ROWS, ...(opts.rowGroups ? { rowGroups: opts.rowGroups } : {}) });
    return tableFromIPC(wasmTable.intoIPCStream());
  } catch (err) {
    throw new FirnError('invalid_argument', `not a readable Parquet file: ${errorText(err)}`, { cause: err });
  }
}

/**
 * What parquet-wasm's async reader needs from a "Blob": a size and ranged slices. parquet-wasm
 * only calls `size`, `slice(start, end)` and `arrayBuffer()`, so an object store can serve it with
 * ranged GETs (footer first, then only the projected column chunks of the chosen row groups).
 */
export interface ParquetByteSource {
  readonly size: number;
  slice(start: number, end: number): { arrayBuffer(): Promise<ArrayBuffer> };
}

export function bytesSource(bytes: Uint8Array): ParquetByteSource {
  return {
    size: bytes.byteLength,
    slice: (start, end) => ({
      arrayBuffer: async () => {
        const part = bytes.subarray(start, end);
        return part.buffer.slice(part.byteOffset, part.byteOffset + part.byteLength) as ArrayBuffer;
      },
    }),
  };
}

export interface ColumnChunkInfo {
  /** Dotted Parquet path, e.g. `labels.pod` or `frame_table.list.item.address`. */
  path: string;
  compression: string;
  encodings: string[];
  compressedBytes: number;
  uncompressedBytes: number;
  values: number;
}

export interface RowGroupInfo {
  rows: number;
  compressedBytes: number;
  columns: ColumnChunkInfo[];
}

export interface ParquetLayout {
  rows: number;
  rowGroups: RowGroupInfo[];
  keyValueMetadata: Record<string, string>;
}

export interface ParquetReadOptions {
  /** Top-level column names (as in the file) to decode; default all. */
  columns?: string[];
  /** Row group indexes to decode; default all. */
  rowGroups?: number[];
  /**
   * Rows to skip from the start of the chosen row groups, then at most `limit` rows: pages
   * before and after them are not decoded, so a few rows of a large column cost a fraction of it.
   */
  offset?: number;
  limit?: number;
}

/**
 * An open Parquet file read through ranged requests. Call `close()` to release its wasm memory.
 * Note: parquet-wasm 0.8 exposes no column statistics (min/max) through this API.
 */
export class ParquetReader {
  private constructor(private readonly file: pw.ParquetFile) {}

  static async open(source: ParquetByteSource): Promise<ParquetReader> {
    try {
      // Typed as Blob, but only size/slice/arrayBuffer are used (see ParquetByteSource).
      return new ParquetReader(await pw.ParquetFile.fromFile(source as unknown as Blob));
    } catch (err) {
      throw new FirnError('invalid_argument', `not a readable Parquet file: ${errorText(err)}`, { cause: err });
    }
  }

  layout(): ParquetLayout {
    const md = this.file.metadata();
    try {
      const fileMd = md.fileMetadata();
      const kv: Record<string, string> = {};
      for (const [k, v] of fileMd.keyValueMetadata()) kv[String(k)] = String(v);
      const rowGroups = md.rowGroups().map((rg) => {
        const info: RowGroupInfo = {
          rows: rg.numRows(),
          compressedBytes: rg.compressedSize(),
          columns: rg.columns().map((c) => {
            const col: ColumnChunkInfo = {
              path: c.columnPath().join('.'),
              compression: pw.Compression[c.compression()] ?? String(c.compression()),
              encodings: c.encodings().map((e) => pw.Encoding[e] ?? String(e)),
              compressedBytes: c.compressedSize(),
              uncompressedBytes: c.uncompressedSize(),
              values: c.numValues(),
            };
            c.free();
            return col;
          }),
        };
        rg.free();
        return info;
      });
      const rows = fileMd.numRows();
      fileMd.free();
      return { rows, rowGroups, keyValueMetadata: kv };
    } finally {
      md.free();
    }
  }

  async read(opts: ParquetReadOptions = {}): Promise<Table> {
    const options: pw.ReaderOptions = { batchSize: READ_BATCH_ROWS };
    if (opts.columns) options.columns = opts.columns;
    if (opts.rowGroups) options.rowGroups = opts.rowGroups;
    if (opts.offset !== undefined) options.offset = opts.offset;
    if (opts.limit !== undefined) options.limit = opts.limit;
    let wasmTable: pw.Table;
    try {
      wasmTable = await this.file.read(options);
    } catch (err) {
      throw new FirnError('invalid_argument', `cannot read Parquet columns/row groups: ${errorText(err)}`, { cause: err });
    }
    return tableFromIPC(wasmTable.intoIPCStream());
  }

  close(): void {
    this.file.free();
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
