import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seriesKeyOf } from './label-order';
import { readSegmentStacks, totalsBySeriesAndStack } from './segment-reader';
import { labelNameOfColumn } from './segment-schema';
import { buildSegment, type BuiltSegment } from './segment-writer';
import { stackKey } from '@firn/profiles';
import { mixedBatches, NATIVE, INLINED, spanBatch } from './testing/mixed-batches';
import { fleetBatches } from './testing/synthetic-batches';

// DuckDB is the independent reader: if it agrees with our own reader on totals, both the files and
// our decoding are right (and operators can query segments with stock tools).

type Row = Record<string, string | number | boolean | null>;

describe(`${buildSegment.name} output read by DuckDB`, () => {
  let dir: string;
  let instance: DuckDBInstance | undefined;
  let db: DuckDBConnection | undefined;
  let built: BuiltSegment;
  let samplesPath: string;
  let stacksPath: string;

  async function query(sql: string): Promise<Row[]> {
    if (!db) throw new Error('DuckDB not connected');
    const reader = await db.runAndReadAll(sql);
    return reader.getRowObjectsJson() as Row[];
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'firn-segments-duckdb-'));
    built = buildSegment(mixedBatches(), { rowGroupRows: 4 });
    samplesPath = join(dir, 'samples.parquet');
    stacksPath = join(dir, 'stacks.parquet');
    await writeFile(samplesPath, built.samples);
    await writeFile(stacksPath, built.stacks);
    instance = await DuckDBInstance.create(':memory:');
    db = await instance.connect();
  });

  afterAll(async () => {
    db?.closeSync();
    instance?.closeSync();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('joins samples to stacks and gets the same totals per (profile type, labels, stack key)', async () => {
    const columns = (await query(`DESCRIBE SELECT * FROM read_parquet('${samplesPath}')`)).map((r) => String(r.column_name));
    const labelCols = columns.filter((c) => labelNameOfColumn(c) !== undefined);
    expect(labelCols).toEqual(['labels.namespace', 'labels.pod', 'labels.region']);
    const select = labelCols.map((c) => `s."${c}"`).join(', ');
    const rows = await query(`
      SELECT s.profile_type, ${select}, k.stack_key, CAST(sum(s.value) AS VARCHAR) AS total
      FROM read_parquet('${samplesPath}') s JOIN read_parquet('${stacksPath}') k USING (stack_id)
      GROUP BY ALL`);
    const sqlTotals = new Map<string, number>();
    for (const r of rows) {
      const labels: Array<[string, string]> = [];
      for (const c of labelCols) if (r[c] !== null) labels.push([labelNameOfColumn(c) ?? '', String(r[c])]);
      sqlTotals.set(`${r.profile_type}|${seriesKeyOf(labels)}|${r.stack_key}`, Number(r.total));
    }
    const ours = await totalsBySeriesAndStack(built.samples, built.stacks);
    expect(sqlTotals.size).toBeGreaterThan(4);
    expect(Object.fromEntries(sqlTotals)).toEqual(Object.fromEntries(ours));
  });

  it('reads frames as STRUCT lists with exact uint64 addresses, inline flags and unicode (frame ids into the frame table)', async () => {
    const [desc] = await query(`SELECT column_type FROM (DESCRIBE SELECT frame_table FROM read_parquet('${stacksPath}'))`);
    expect(desc.column_type).toBe(
      'STRUCT(build_id VARCHAR, mapping_file VARCHAR, address UBIGINT, function_name VARCHAR, file_name VARCHAR, line BIGINT, inlined BOOLEAN)[]',
    );
    // Row 0 holds the table; a stack's frames are its frame ids (0-based) looked up in it.
    const [rows] = await query(`SELECT count(*) AS n, count(frame_table) AS tables FROM read_parquet('${stacksPath}')`);
    expect(rows).toEqual({ n: String((await readSegmentStacks(built.stacks)).size), tables: '1' });
    const stacksWithFrames = `(SELECT stack_key, list_transform(frame_ids, i -> ft.t[i + 1]) AS frames
      FROM read_parquet('${stacksPath}'), (SELECT frame_table AS t FROM read_parquet('${stacksPath}') WHERE frame_table IS NOT NULL) ft)`;
    const native = await query(`
      SELECT CAST(f.address AS VARCHAR) AS address, f.build_id, f.mapping_file
      FROM (SELECT unnest(frames) AS f FROM ${stacksWithFrames} WHERE stack_key = '${stackKey(NATIVE)}')`);
    expect(native.map((r) => r.address)).toEqual(['18446744073709551360', '0', String(0x29d90)]);
    const inlined = await query(`
      SELECT frames[1].function_name AS fn, frames[1].inlined AS inl, frames[2].inlined AS inl2, len(frames) AS depth
      FROM ${stacksWithFrames} WHERE stack_key = '${stackKey(INLINED)}'`);
    expect(inlined).toEqual([{ fn: 'inner_ünïcode_😀', inl: true, inl2: false, depth: '3' }]);
  });

  it('sees zstd everywhere, timestamp statistics per row group, and dictionary-encoded labels', async () => {
    const meta = await query(`
      SELECT row_group_id, path_in_schema, compression, encodings,
             stats_min_value, stats_max_value, row_group_num_rows
      FROM parquet_metadata('${samplesPath}')`);
    expect(new Set(meta.map((r) => r.compression))).toEqual(new Set(['ZSTD']));
    const ts = meta.filter((r) => r.path_in_schema === 'timestamp');
    expect(ts).toHaveLength(3); // 10 rows in row groups of 4
    expect(Math.min(...ts.map((r) => Number(r.stats_min_value)))).toBe(built.meta.minTimeMs);
    expect(Math.max(...ts.map((r) => Number(r.stats_max_value)))).toBe(built.meta.maxTimeMs);
    for (const r of meta.filter((m) => String(m.path_in_schema).startsWith('labels.') || m.path_in_schema === 'profile_type')) {
      expect(String(r.encodings)).toContain('RLE_DICTIONARY');
    }
    const kv = await query(`SELECT decode(key) AS k, decode(value) AS v FROM parquet_kv_metadata('${samplesPath}') WHERE decode(key) = 'firn.schema'`);
    expect(kv).toEqual([{ k: 'firn.schema', v: 'segment.samples.v1' }]);
  });

  it('reads the compacted layout (rows by stack, delta-packed stack_id) with the same totals', async () => {
    const blocks = buildSegment(mixedBatches(), { rowGroupRows: 4, rowOrder: 'stack', stackOrder: 'frames' });
    const s = join(dir, 'block-samples.parquet');
    const k = join(dir, 'block-stacks.parquet');
    await writeFile(s, blocks.samples);
    await writeFile(k, blocks.stacks);
    const rows = await query(`
      SELECT s.profile_type, k.stack_key, CAST(sum(s.value) AS VARCHAR) AS total
      FROM read_parquet('${s}') s JOIN read_parquet('${k}') k USING (stack_id) GROUP BY ALL`);
    const byStackKey = new Map<string, number>();
    for (const [key, v] of await totalsBySeriesAndStack(blocks.samples, blocks.stacks)) {
      const [pt, , sk] = key.split('|');
      byStackKey.set(`${pt}|${sk}`, (byStackKey.get(`${pt}|${sk}`) ?? 0) + v);
    }
    expect(Object.fromEntries(rows.map((r) => [`${r.profile_type}|${r.stack_key}`, Number(r.total)]))).toEqual(Object.fromEntries(byStackKey));
    const enc = await query(`SELECT DISTINCT encodings FROM parquet_metadata('${s}') WHERE path_in_schema = 'stack_id'`);
    expect(enc.map((r) => String(r.encodings))).toEqual([expect.stringContaining('DELTA_BINARY_PACKED')]);
    const kv = await query(`SELECT decode(value) AS v FROM parquet_kv_metadata('${s}') WHERE decode(key) = 'firn.sort'`);
    expect(kv).toEqual([{ v: 'profile_type,series,stack_id,timestamp' }]);
  });

  it('reads span profiles: span_id is a VARCHAR column, NULL for rows without a span', async () => {
    const spans = buildSegment([spanBatch()], { rowGroupRows: 2 });
    const s = join(dir, 'span-samples.parquet');
    await writeFile(s, spans.samples);
    const rows = await query(`SELECT span_id, CAST(sum(value) AS VARCHAR) AS total FROM read_parquet('${s}') GROUP BY ALL ORDER BY span_id NULLS FIRST`);
    expect(rows).toEqual([
      { span_id: null, total: '1' },
      { span_id: '00000000000000aa', total: '7' },
      { span_id: 'b0b0b0b0b0b0b0b0', total: '2' },
    ]);
  });

  it('agrees on totals for a fleet-like segment with many row groups', async () => {
    const fleet = buildSegment(
      fleetBatches({ seed: 7, agents: 4, podsPerAgent: 8, distinctStacks: 500, samplesPerPodWindow: 47, windows: 3, startMs: 1_700_000_000_000 }),
      { rowGroupRows: 1000 },
    );
    const s = join(dir, 'fleet-samples.parquet');
    const k = join(dir, 'fleet-stacks.parquet');
    await writeFile(s, fleet.samples);
    await writeFile(k, fleet.stacks);
    const [row] = await query(`
      SELECT CAST(sum(value) AS VARCHAR) AS total, count(*) AS n, count(DISTINCT stack_id) AS stacks,
             count(DISTINCT k.stack_key) AS keys
      FROM read_parquet('${s}') JOIN read_parquet('${k}') k USING (stack_id)`);
    expect(Number(row.total)).toBe(4 * 8 * 3 * 47);
    expect(Number(row.n)).toBe(fleet.meta.rows);
    expect(Number(row.stacks)).toBe(Number(row.keys));
    const ours = await totalsBySeriesAndStack(fleet.samples, fleet.stacks);
    const [perNode] = await query(`SELECT count(DISTINCT "labels.node") AS nodes FROM read_parquet('${s}')`);
    expect(Number(perNode.nodes)).toBe(4);
    expect([...ours.values()].reduce((a, b) => a + b, 0)).toBe(Number(row.total));
  });
});
