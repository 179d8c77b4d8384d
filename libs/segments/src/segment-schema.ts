import { Bool, Dictionary, Field, Int32, Int64, List, Struct, Uint64, Utf8 } from 'apache-arrow';

/** Parquet key-value metadata (and Arrow schema metadata) naming the layout of each object. */
export const SCHEMA_METADATA_KEY = 'firn.schema';
export const SAMPLES_SCHEMA_ID = 'segment.samples.v1';
/**
 * stacks.parquet as written: each stack's frames are `frame_ids` into the segment's table of
 * distinct frames, held once in `frame_table` on row 0 (see StackColumn).
 */
export const STACKS_SCHEMA_ID = 'segment.stacks.v2';
/** stacks.parquet as written before v2 (still read): every stack's frames in full, in `frames`. */
export const STACKS_V1_SCHEMA_ID = 'segment.stacks.v1';

/** Whether a stacks object's `firn.schema` is one this code reads. */
export function isStacksSchema(id: string | undefined): boolean {
  return id === STACKS_SCHEMA_ID || id === STACKS_V1_SCHEMA_ID;
}
/**
 * Row order of samples.parquet (see SAMPLES_SORT). Informational: readers must not assume more
 * than (profile_type, series) order; files written before it existed are `time` order.
 */
export const SORT_METADATA_KEY = 'firn.sort';
/** Order of stack ids in stacks.parquet: `key` (stack_key) or `frames` (frames root first). */
export const STACK_ORDER_METADATA_KEY = 'firn.stack_order';

export const SAMPLES_SORT = {
  time: 'profile_type,series,timestamp,stack_id',
  stack: 'profile_type,series,stack_id,timestamp',
} as const;

/** One nullable dictionary-encoded column per label name: `labels.<name>`. */
export const LABEL_COLUMN_PREFIX = 'labels.';

export const SampleColumn = {
  profileType: 'profile_type',
  seriesId: 'series_id',
  stackId: 'stack_id',
  value: 'value',
  timestamp: 'timestamp',
  duration: 'duration',
  period: 'period',
  /** Optional (only in segments holding span profiles): the row's span id, null = none. */
  spanId: 'span_id',
} as const;

export const StackColumn = {
  stackId: 'stack_id',
  stackKey: 'stack_key',
  /** v2: List<UInt32>, leaf first: indexes into the frame table. */
  frameIds: 'frame_ids',
  /**
   * v2: List<frame struct>, the segment's distinct frames, on row 0 only (null on every other
   * row): a segment's stacks share most of their frames, so each is written and decoded once.
   */
  frameTable: 'frame_table',
  /** v1: List<frame struct>, each stack's frames in full, leaf first. */
  frames: 'frames',
} as const;

export const FrameField = {
  buildId: 'build_id',
  mappingFile: 'mapping_file',
  address: 'address',
  functionName: 'function_name',
  fileName: 'file_name',
  line: 'line',
  inlined: 'inlined',
} as const;

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function isValidLabelName(name: string): boolean {
  return LABEL_NAME.test(name);
}

export function labelColumnName(name: string): string {
  return LABEL_COLUMN_PREFIX + name;
}

/** The label name of a `labels.<name>` column, or undefined for any other column. */
export function labelNameOfColumn(column: string): string | undefined {
  return column.startsWith(LABEL_COLUMN_PREFIX) ? column.slice(LABEL_COLUMN_PREFIX.length) : undefined;
}

const dictString = () => new Dictionary(new Utf8(), new Int32());

/**
 * Field order of the frame struct; the reader relies on names, not positions. Frame strings are
 * Arrow dictionaries so readers decode each distinct string once (Parquet dictionary-encodes them
 * either way; DuckDB sees VARCHAR).
 */
export function frameStructType(): Struct {
  return new Struct([
    new Field(FrameField.buildId, dictString(), false),
    new Field(FrameField.mappingFile, dictString(), false),
    new Field(FrameField.address, new Uint64(), false),
    new Field(FrameField.functionName, dictString(), false),
    new Field(FrameField.fileName, dictString(), false),
    new Field(FrameField.line, new Int64(), false),
    new Field(FrameField.inlined, new Bool(), false),
  ]);
}

/** `frame_table` (and v1's `frames`): List<Struct<…>>. DuckDB reads it as STRUCT(...)[] (verified in tests). */
export function framesListType(): List<Struct> {
  return new List(new Field('item', frameStructType(), false));
}
