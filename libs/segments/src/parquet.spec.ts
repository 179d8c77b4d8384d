import { describe, expect, it } from 'vitest';
import { isFirnError } from '@firn/errors';
import { bytesSource, ParquetReader, readParquetTable } from './parquet';
import { buildSegment } from './segment-writer';
import { mixedBatches } from './testing/mixed-batches';

describe(ParquetReader.name, () => {
  it('exposes the layout: row groups, zstd, dictionary encodings, key-value metadata', async () => {
    const built = buildSegment(mixedBatches(), { rowGroupRows: 4 });
    const reader = await ParquetReader.open(bytesSource(built.samples));
    try {
      const layout = reader.layout();
      expect(layout.rows).toBe(built.meta.rows);
      expect(layout.rowGroups.map((g) => g.rows)).toEqual([4, 4, 2]);
      expect(layout.keyValueMetadata['firn.schema']).toBe('segment.samples.v1');
      for (const col of layout.rowGroups[0].columns) expect(col.compression).toBe('ZSTD');
      const pod = layout.rowGroups[0].columns.find((c) => c.path === 'labels.pod');
      expect(pod?.encodings).toContain('RLE_DICTIONARY');
    } finally {
      reader.close();
    }
  });

  it('decodes only the projected columns of the chosen row groups', async () => {
    const built = buildSegment(mixedBatches(), { rowGroupRows: 4 });
    const reader = await ParquetReader.open(bytesSource(built.samples));
    try {
      const t = await reader.read({ columns: ['labels.pod', 'value'], rowGroups: [2] });
      expect(t.schema.fields.map((f) => f.name)).toEqual(['labels.pod', 'value']);
      expect(t.numRows).toBe(2);
      await expect(reader.read({ columns: ['nope'] })).rejects.toSatisfy((e) => isFirnError(e, 'invalid_argument'));
    } finally {
      reader.close();
    }
  });

  it('rejects bytes that are not Parquet', async () => {
    await expect(ParquetReader.open(bytesSource(new Uint8Array([1, 2, 3])))).rejects.toSatisfy((e) => isFirnError(e, 'invalid_argument'));
    expect(() => readParquetTable(new Uint8Array(16))).toThrow(/not a readable Parquet file/);
  });
});
