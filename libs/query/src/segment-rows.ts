import type { RecordBatch, Table } from 'apache-arrow';
import { FirnError } from '@firn/errors';
import { compileMatchers, type CompiledMatcher, type LabelMatcher } from '@firn/manifest';
import {
  labelColumnName,
  labelNameOfColumn,
  openSegmentObject,
  SAMPLES_SCHEMA_ID,
  SampleColumn,
  SCHEMA_METADATA_KEY,
  type ParquetReader,
} from '@firn/segments';
import type { ObjectStore } from '@firn/storage';
import { throwIfAborted } from './abort';
import { batchColumn, dictionaryPredicate, halves, int64At, requireColumn, stringsOf } from './arrow-columns';
import { segmentObjects, type SegmentMeta } from './segment-objects';

/** Which rows of samples.parquet a scan keeps. */
export interface RowFilter {
  /** Exact profile type id; all profile types when undefined. */
  profileType?: string;
  /** Prometheus semantics: a label missing from a row (or the whole segment) has value ''. */
  matchers: readonly LabelMatcher[];
  /** [startMs, endMs): inclusive start, exclusive end, ms since epoch. */
  startMs: number;
  endMs: number;
  /** Span profiles: only rows of these span ids (16 lowercase hex digits); all rows when undefined. */
  spanIds?: readonly string[];
}

export interface RowColumns {
  /** Non-label columns the visitor reads (e.g. stack_id, value). */
  columns: readonly string[];
  /** Label names the visitor reads, or 'all' for every label column of the segment. */
  labels?: readonly string[] | 'all';
}

/** One decoded batch and the indexes of its rows that passed the filter (ascending). */
export interface SelectedRows {
  batch: RecordBatch;
  rows: Uint32Array;
}

export interface RowScanInfo {
  /** Label names of the segment (from its columns), sorted. */
  labelNames: string[];
  rowGroups: number;
  /** Row groups whose data columns were decoded (0 when nothing matched). */
  rowGroupsRead: number;
}

/** Reads a label from a batch: '' when the row lacks it or the segment has no such column. */
export function labelReader(batch: RecordBatch, name: string): (i: number) => string {
  const d = batchColumn(batch, labelColumnName(name));
  return d ? stringsOf(d) : () => '';
}

/** A reader per label name: of `names`, or of every label column the batch has. */
export function labelReaders(batch: RecordBatch, names?: readonly string[]): Array<readonly [string, (i: number) => string]> {
  const all = names ?? batch.schema.fields.map((f) => labelNameOfColumn(f.name)).filter((n): n is string => n !== undefined);
  return all.map((n) => [n, labelReader(batch, n)] as const);
}

interface CompiledFilter {
  profileType?: string;
  /** Undefined when every row of the segment lies in the range (the manifest says so). */
  startMs?: number;
  endMs?: number;
  /** Matchers on label columns the segment has; the rest were decided up front. */
  columnMatchers: CompiledMatcher[];
  spanIds?: ReadonlySet<string>;
}

function selectRows(batch: RecordBatch, f: CompiledFilter): Uint32Array {
  const n = batch.numRows;
  // Int32 halves: an element of a BigInt64Array is a new BigInt (an allocation per row).
  const ts = f.startMs === undefined ? undefined : halves(requireColumn(batch, SampleColumn.timestamp, 'samples object').values as BigInt64Array);
  const start = f.startMs ?? -Infinity;
  const end = f.endMs ?? Infinity;
  const preds: Array<(i: number) => boolean> = [];
  if (f.profileType !== undefined) {
    const pt = f.profileType;
    preds.push(dictionaryPredicate(requireColumn(batch, SampleColumn.profileType, 'samples object'), (v) => v === pt));
  }
  for (const m of f.columnMatchers) {
    preds.push(dictionaryPredicate(requireColumn(batch, labelColumnName(m.name), 'samples object'), m.accepts));
  }
  if (f.spanIds) {
    const spans = f.spanIds;
    preds.push(dictionaryPredicate(requireColumn(batch, SampleColumn.spanId, 'samples object'), (v) => spans.has(v)));
  }
  const out = new Uint32Array(n);
  let k = 0;
  if (!ts && preds.length === 0) {
    for (let i = 0; i < n; i++) out[i] = i;
    return out;
  }
  rows: for (let i = 0; i < n; i++) {
    if (ts) {
      const t = int64At(ts, i);
      if (t < start || t >= end) continue;
    }
    for (const p of preds) if (!p(i)) continue rows;
    out[k++] = i;
  }
  return out.subarray(0, k);
}

/** Whether every row of the segment lies in [startMs, endMs), by the manifest's time range. */
export function segmentWithin(seg: SegmentMeta, startMs: number, endMs: number): boolean {
  return Number(seg.minTimeUnixNano / 1_000_000n) >= startMs && Number(seg.maxTimeUnixNano / 1_000_000n) < endMs;
}

function union(...lists: ReadonlyArray<readonly string[]>): string[] {
  return [...new Set(lists.flat())];
}

/**
 * Streams the rows of one segment's samples.parquet that pass `filter`, decoding only the columns
 * needed, through ranged reads. With several row groups it reads the filter columns first and then
 * the data columns of the row groups that have a match, so row groups of other profile types or
 * series cost only their (small, dictionary-encoded) filter columns.
 */
export async function scanSegmentRows(
  store: ObjectStore,
  seg: SegmentMeta,
  filter: RowFilter,
  want: RowColumns,
  visit: (s: SelectedRows) => void,
  signal?: AbortSignal,
): Promise<RowScanInfo> {
  const matchers = compileMatchers(filter.matchers);
  throwIfAborted(signal);
  const reader = await openSegmentObject(store, segmentObjects(seg).samples);
  try {
    throwIfAborted(signal);
    const layout = reader.layout();
    if (layout.keyValueMetadata[SCHEMA_METADATA_KEY] !== SAMPLES_SCHEMA_ID) {
      throw FirnError.invalidArgument(`segment ${JSON.stringify(seg.id)}: samples object is not ${SAMPLES_SCHEMA_ID}`);
    }
    const present = new Set(layout.rowGroups[0]?.columns.map((c) => c.path) ?? []);
    const labelNames = [...present]
      .map(labelNameOfColumn)
      .filter((n): n is string => n !== undefined)
      .sort();
    const info: RowScanInfo = { labelNames, rowGroups: layout.rowGroups.length, rowGroupsRead: 0 };
    if (layout.rowGroups.length === 0) return info;
    for (const c of want.columns) {
      if (!present.has(c)) throw FirnError.invalidArgument(`segment ${JSON.stringify(seg.id)}: samples object lacks column ${JSON.stringify(c)}`);
    }
    // A span selection reads the span column; a segment without one holds no span profiles.
    if (filter.spanIds && !present.has(SampleColumn.spanId)) return info;
    const columnMatchers: CompiledMatcher[] = [];
    for (const m of matchers) {
      if (present.has(labelColumnName(m.name))) columnMatchers.push(m);
      else if (!m.accepts('')) return info; // the label is absent from every row
    }
    // Columns the manifest already answers for are not read: the time range when the segment
    // lies inside it, the profile type when the segment holds only that one.
    const onlyType = filter.profileType === undefined || (seg.profileTypes.length === 1 && seg.profileTypes[0] === filter.profileType);
    const inRange = segmentWithin(seg, filter.startMs, filter.endMs);
    const f: CompiledFilter = {
      profileType: onlyType ? undefined : filter.profileType,
      startMs: inRange ? undefined : filter.startMs,
      endMs: inRange ? undefined : filter.endMs,
      columnMatchers,
      spanIds: filter.spanIds ? new Set(filter.spanIds) : undefined,
    };
    const filterCols = union(
      f.startMs !== undefined ? [SampleColumn.timestamp] : [],
      f.profileType !== undefined ? [SampleColumn.profileType] : [],
      columnMatchers.map((m) => labelColumnName(m.name)),
      f.spanIds ? [SampleColumn.spanId] : [],
    );
    const labelCols = (want.labels === 'all' ? labelNames : (want.labels ?? [])).map(labelColumnName).filter((c) => present.has(c));
    const dataCols = union(want.columns, labelCols);

    // Phase 1 can only skip row groups by profile type (sorted first) or by series (matchers):
    // without either there is nothing to skip, and a single read is cheaper.
    if (layout.rowGroups.length === 1 || (f.profileType === undefined && columnMatchers.length === 0 && !f.spanIds)) {
      const table = await reader.read({ columns: union(filterCols, dataCols) });
      throwIfAborted(signal);
      info.rowGroupsRead = layout.rowGroups.length;
      for (const batch of table.batches) {
        const rows = selectRows(batch, f);
        if (rows.length > 0) visit({ batch, rows });
      }
      return info;
    }
    return await twoPhase(
      reader,
      layout.rowGroups.map((g) => g.rows),
      f,
      filterCols,
      dataCols,
      info,
      visit,
      signal,
    );
  } finally {
    reader.close();
  }
}

async function twoPhase(
  reader: ParquetReader,
  groupRows: number[],
  f: CompiledFilter,
  filterCols: string[],
  dataCols: string[],
  info: RowScanInfo,
  visit: (s: SelectedRows) => void,
  signal: AbortSignal | undefined,
): Promise<RowScanInfo> {
  const starts: number[] = [];
  let total = 0;
  for (const r of groupRows) {
    starts.push(total);
    total += r;
  }
  const selected = new Uint8Array(total);
  const phase1 = await reader.read({ columns: filterCols });
  throwIfAborted(signal);
  let base = 0;
  for (const batch of phase1.batches) {
    for (const i of selectRows(batch, f)) selected[base + i] = 1;
    base += batch.numRows;
  }
  checkRows(phase1, total);
  const hits: number[] = [];
  groupRows.forEach((rows, g) => {
    if (selected.subarray(starts[g], starts[g] + rows).includes(1)) hits.push(g);
  });
  info.rowGroupsRead = hits.length;
  if (hits.length === 0) return info;

  const phase2 = await reader.read({ columns: dataCols, rowGroups: hits });
  throwIfAborted(signal);
  checkRows(
    phase2,
    hits.reduce((s, g) => s + groupRows[g], 0),
  );
  // Phase-2 rows are the chosen row groups back to back: walk them alongside the batches.
  let hit = 0;
  let inGroup = 0;
  for (const batch of phase2.batches) {
    const rows = new Uint32Array(batch.numRows);
    let k = 0;
    for (let i = 0; i < batch.numRows; i++) {
      while (inGroup >= groupRows[hits[hit]]) {
        hit++;
        inGroup = 0;
      }
      if (selected[starts[hits[hit]] + inGroup] === 1) rows[k++] = i;
      inGroup++;
    }
    if (k > 0) visit({ batch, rows: rows.subarray(0, k) });
  }
  return info;
}

function checkRows(table: Table, expected: number): void {
  if (table.numRows !== expected) {
    throw FirnError.internal(`samples object decoded to ${table.numRows} rows, its footer promises ${expected}`);
  }
}
