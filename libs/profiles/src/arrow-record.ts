import { Field, RecordBatch, Schema, Struct, makeData, type Data } from 'apache-arrow';

/**
 * One record batch of `length` rows from built column data, its schema from `fields` (in column
 * order) and `metadata`. Cheaper than `new Table({ name: vector })`, which wraps every column in
 * a vector, redistributes chunks and infers the schema.
 */
export function recordBatchOf(fields: Field[], columns: Data[], length: number, metadata?: Map<string, string>): RecordBatch {
  const schema = new Schema(fields, metadata);
  return new RecordBatch(schema, makeData({ type: new Struct(fields), length, nullCount: 0, children: columns }));
}
