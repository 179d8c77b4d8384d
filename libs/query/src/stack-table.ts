import type { RecordBatch } from 'apache-arrow';
import { FirnError } from '@firn/errors';
import type { Frame } from '@firn/profiles';
import {
  decodeStacksBatch,
  forEachFrameIdStack,
  isStacksSchema,
  openSegmentObject,
  readFrameTable,
  SCHEMA_METADATA_KEY,
  STACKS_SCHEMA_ID,
  StackColumn,
  type FrameTable,
  type ParquetReader,
  type ParquetReadOptions,
} from '@firn/segments';
import type { ObjectStore } from '@firn/storage';
import { throwIfAborted } from './abort';
import { requireColumn, stringsOf } from './arrow-columns';
import type { PartialStack } from './merge-stacks';
import { segmentObjects, type SegmentMeta } from './segment-objects';
import type { StackCatalog } from './stack-catalog';
import { decodeFramesOfRows } from './stack-frames';

/** Frames of stacks the caller already holds (e.g. its accumulator), so they need no decoding. */
export type KnownFrames = (key: string) => Frame[] | undefined;

/**
 * Reads the stacks a scan needs from stacks.parquet: stack ids are dense and in row order, so
 * only the row groups covering `ids` are fetched (ranged reads). Keys are read first; frames are
 * fetched and decoded only for stacks `known` cannot supply. `ids` must be ascending, distinct.
 */
export async function readStacksById(
  store: ObjectStore,
  seg: SegmentMeta,
  ids: Uint32Array,
  signal?: AbortSignal,
  known?: KnownFrames,
): Promise<Map<number, PartialStack>> {
  const out = new Map<number, PartialStack>();
  if (ids.length === 0) return out;
  throwIfAborted(signal);
  const reader = await openSegmentObject(store, segmentObjects(seg).stacks);
  try {
    throwIfAborted(signal);
    const layout = reader.layout();
    const v2 = isFrameIdLayout(layout.keyValueMetadata[SCHEMA_METADATA_KEY], seg);
    // v2 stacks hold frame ids into the object's frame table (row 0), read once if frames are needed.
    let frameTable: Promise<FrameTable> | undefined;
    const frames = (): Promise<FrameTable | undefined> => (v2 ? (frameTable ??= readFrameTable(reader)) : Promise.resolve(undefined));
    const wanted = new Uint8Array(ids[ids.length - 1] + 1);
    for (const id of ids) wanted[id] = 1;
    let groups = rowGroupsCovering(
      layout.rowGroups.map((g) => g.rows),
      ids,
    );
    if (known) {
      await keysInto(reader, groups, wanted, known, out, signal);
      if (out.size === ids.length) return out;
      const rest = Uint32Array.from(ids.filter((id) => !out.has(id)));
      groups = rowGroupsCovering(
        layout.rowGroups.map((g) => g.rows),
        rest,
      );
    }
    await decodeInto(reader, groups, frames, wanted, out, signal);
    if (out.size < ids.length && groups.length < layout.rowGroups.length) {
      // stack_id != row index: a file written differently than ours. Fall back to every row group.
      await decodeInto(reader, undefined, frames, wanted, out, signal);
    }
    if (out.size < ids.length) {
      const missing = [...ids].find((id) => !out.has(id));
      throw FirnError.invalidArgument(`segment ${JSON.stringify(seg.id)}: samples reference stack_id ${missing} missing from the stacks object`);
    }
    return out;
  } finally {
    reader.close();
  }
}

/** Whether a stacks object is v2 (frame ids into its frame table) rather than v1; refuses any other schema. */
function isFrameIdLayout(schema: string | undefined, seg: SegmentMeta): boolean {
  if (!isStacksSchema(schema)) {
    throw FirnError.invalidArgument(`segment ${JSON.stringify(seg.id)}: stacks object is ${JSON.stringify(schema ?? null)}, not ${STACKS_SCHEMA_ID} (or v1)`);
  }
  return schema === STACKS_SCHEMA_ID;
}

/** Row groups holding any of `ids` (ascending), assuming stack_id = row index. */
function rowGroupsCovering(groupRows: readonly number[], ids: Uint32Array): number[] {
  const groups: number[] = [];
  let start = 0;
  let j = 0;
  groupRows.forEach((rows, gi) => {
    const end = start + rows;
    while (j < ids.length && ids[j] < start) j++;
    if (j < ids.length && ids[j] < end) groups.push(gi);
    start = end;
  });
  return groups;
}

async function keysInto(
  reader: ParquetReader,
  rowGroups: number[],
  wanted: Uint8Array,
  known: KnownFrames,
  out: Map<number, PartialStack>,
  signal: AbortSignal | undefined,
): Promise<void> {
  if (rowGroups.length === 0) return;
  const table = await reader.read({ columns: [StackColumn.stackId, StackColumn.stackKey], rowGroups });
  throwIfAborted(signal);
  for (const batch of table.batches) {
    const ids = requireColumn(batch, StackColumn.stackId, 'stacks object').values as Uint32Array;
    const keys = stringsOf(requireColumn(batch, StackColumn.stackKey, 'stacks object'));
    for (let i = 0; i < batch.numRows; i++) {
      const id = ids[i];
      if (id >= wanted.length || wanted[id] !== 1) continue;
      const key = keys(i);
      const frames = known(key);
      if (frames) out.set(id, { key, frames });
    }
  }
}

async function decodeInto(
  reader: ParquetReader,
  rowGroups: number[] | undefined,
  frameTableOf: () => Promise<FrameTable | undefined>,
  wanted: Uint8Array,
  out: Map<number, PartialStack>,
  signal: AbortSignal | undefined,
): Promise<void> {
  if (rowGroups && rowGroups.length === 0) return;
  const frameTable = await frameTableOf();
  throwIfAborted(signal);
  const frames = frameTable ? StackColumn.frameIds : StackColumn.frames;
  const table = await reader.read({ columns: [StackColumn.stackId, StackColumn.stackKey, frames], rowGroups });
  throwIfAborted(signal);
  for (const batch of table.batches) decodeBatch(batch, frames, frameTable, wanted, out);
}

function decodeBatch(batch: RecordBatch, frames: string, frameTable: FrameTable | undefined, wanted: Uint8Array, out: Map<number, PartialStack>): void {
  const what = 'stacks object';
  for (const c of [StackColumn.stackId, StackColumn.stackKey, frames]) requireColumn(batch, c, what);
  decodeStacksBatch(
    batch,
    (id, key, fs) => out.set(id, { key, frames: fs }),
    (id) => id < wanted.length && wanted[id] === 1 && !out.has(id),
    frameTable,
  );
}

/** A segment a query read, and its stack_id → catalog id map (where frames can be found). */
export interface MappedSegment {
  seg: SegmentMeta;
  map: Int32Array;
}

async function openStacks(store: ObjectStore, seg: SegmentMeta): Promise<{ reader: ParquetReader; groupRows: number[]; rows: number; v2: boolean }> {
  const reader = await openSegmentObject(store, segmentObjects(seg).stacks);
  try {
    const layout = reader.layout();
    const v2 = isFrameIdLayout(layout.keyValueMetadata[SCHEMA_METADATA_KEY], seg);
    return { reader, groupRows: layout.rowGroups.map((g) => g.rows), rows: layout.rows, v2 };
  } catch (err) {
    reader.close();
    throw err;
  }
}

/**
 * Maps the stack ids of one segment to catalog ids, reading only the keys of stack ids never
 * mapped (the row groups covering them); frames are left to fillFrames. Returns the segment's
 * map (index = stack_id). `ids` must be ascending and distinct.
 */
export async function mapStacks(store: ObjectStore, seg: SegmentMeta, ids: Uint32Array, catalog: StackCatalog, signal?: AbortSignal): Promise<Int32Array> {
  const key = segmentObjects(seg).stacks;
  const last = ids.length > 0 ? ids[ids.length - 1] : -1;
  const unmapped = (m: Int32Array): Uint32Array => ids.filter((id) => id >= m.length || m[id] < 0);
  const known = catalog.segmentMap(key);
  if (known && last < known.length && unmapped(known).length === 0) return known;
  throwIfAborted(signal);
  const { reader, groupRows, rows } = await openStacks(store, seg);
  try {
    throwIfAborted(signal);
    const map = catalog.ensureSegmentMap(key, Math.max(rows, last + 1));
    let need = unmapped(map);
    if (need.length === 0) return map;
    await mapKeysInto(reader, rowGroupsCovering(groupRows, need), map, catalog, signal);
    need = unmapped(map);
    if (need.length > 0) {
      // stack_id != row index: a file written differently than ours. Fall back to every row group.
      await mapKeysInto(reader, undefined, map, catalog, signal);
      need = unmapped(map);
    }
    if (need.length > 0) {
      throw FirnError.invalidArgument(`segment ${JSON.stringify(seg.id)}: samples reference stack_id ${need[0]} missing from the stacks object`);
    }
    return map;
  } finally {
    reader.close();
  }
}

async function mapKeysInto(
  reader: ParquetReader,
  rowGroups: number[] | undefined,
  map: Int32Array,
  catalog: StackCatalog,
  signal: AbortSignal | undefined,
): Promise<void> {
  if (rowGroups && rowGroups.length === 0) return;
  const table = await reader.read({ columns: [StackColumn.stackId, StackColumn.stackKey], rowGroups });
  throwIfAborted(signal);
  for (const batch of table.batches) {
    const ids = requireColumn(batch, StackColumn.stackId, 'stacks object').values as Uint32Array;
    catalog.internKeys(requireColumn(batch, StackColumn.stackKey, 'stacks object'), ids, map);
  }
}

/**
 * Gives every stack of `stacks` (catalog ids) its frames, reading them from the segments a query
 * mapped: a stack's frames are the same in every segment holding it, so the segments are chosen
 * greedily (most missing stacks first) and most queries read the frames of a few segments
 * instead of all. Stacks whose frames the catalog already holds cost nothing.
 */
export async function fillFrames(
  store: ObjectStore,
  catalog: StackCatalog,
  stacks: Uint32Array,
  mapped: readonly MappedSegment[],
  signal?: AbortSignal,
): Promise<void> {
  let missing = stacks.filter((id) => catalog.frames[id] === undefined);
  const candidates = [...new Map(mapped.map((m) => [segmentObjects(m.seg).stacks, m])).values()];
  while (missing.length > 0) {
    throwIfAborted(signal);
    const mark = new Uint8Array(catalog.size);
    for (const id of missing) mark[id] = 1;
    let best = -1;
    let bestCount = 0;
    candidates.forEach(({ map }, ci) => {
      let n = 0;
      for (let i = 0; i < map.length; i++) if (map[i] >= 0 && mark[map[i]] === 1) n++;
      if (n > bestCount) [best, bestCount] = [ci, n];
    });
    if (best < 0) throw FirnError.internal(`stack ${catalog.keys[missing[0]]} has no frames and no segment of the query holds it`);
    const [{ seg, map }] = candidates.splice(best, 1);
    await framesOf(store, seg, map, mark, catalog, signal);
    missing = missing.filter((id) => catalog.frames[id] === undefined);
  }
}

/** Row-range reads per segment before one read of the whole frames column is cheaper. */
const MAX_RANGE_READS = 3;
/** Wanted rows this close together share one range read. */
const RANGE_GAP_ROWS = 256;

/** Ascending rows as [offset, limit] ranges, rows closer than RANGE_GAP_ROWS merged. */
function rowRuns(rows: readonly number[]): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const r of rows) {
    const last = out[out.length - 1];
    if (last && r - (last[0] + last[1]) < RANGE_GAP_ROWS) last[1] = r - last[0] + 1;
    else out.push([r, 1]);
  }
  return out;
}

/** Decodes the frames of the stacks of one segment that `mark` (by catalog id) asks for. */
async function framesOf(
  store: ObjectStore,
  seg: SegmentMeta,
  map: Int32Array,
  mark: Uint8Array,
  catalog: StackCatalog,
  signal: AbortSignal | undefined,
): Promise<void> {
  const locals: number[] = [];
  for (let i = 0; i < map.length; i++) if (map[i] >= 0 && mark[map[i]] === 1) locals.push(i);
  const { reader, groupRows, rows, v2 } = await openStacks(store, seg);
  try {
    throwIfAborted(signal);
    const want = (id: number): boolean => id < map.length && map[id] >= 0 && mark[map[id]] === 1 && catalog.frames[map[id]] === undefined;
    // v2: the frame table (row 0) once, each frame used made the catalog's shared frame once.
    let sharedTable: FrameTable | undefined;
    if (v2) {
      const frameTable = await readFrameTable(reader);
      throwIfAborted(signal);
      const shared: Array<Frame | undefined> = [];
      sharedTable = (id) => {
        const f = frameTable(id);
        return f && (shared[id] ??= catalog.sharedFrame(f));
      };
    }
    const decode = async (opts: ParquetReadOptions): Promise<void> => {
      const table = await reader.read({ columns: [StackColumn.stackId, sharedTable ? StackColumn.frameIds : StackColumn.frames], ...opts });
      throwIfAborted(signal);
      for (const batch of table.batches) {
        const ids = requireColumn(batch, StackColumn.stackId, 'stacks object').values as Uint32Array;
        const onStack = (row: number, frames: Frame[]): void => catalog.setSharedFrames(map[ids[row]], frames);
        if (sharedTable) {
          requireColumn(batch, StackColumn.frameIds, 'stacks object');
          forEachFrameIdStack(batch, sharedTable, onStack, (row) => want(ids[row]));
        } else {
          decodeFramesOfRows(
            batch,
            (row) => want(ids[row]),
            (f) => catalog.sharedFrame(f),
            onStack,
          );
        }
      }
    };
    // Stack ids are row indexes: a few wanted stacks are read as row ranges, which decode only
    // the pages holding them (most segments are read for a few rare stacks).
    const runs = rowRuns(locals);
    if (runs.length <= MAX_RANGE_READS && locals.length <= rows / 8) {
      for (const [offset, limit] of runs) await decode({ offset, limit });
    } else {
      await decode({ rowGroups: rowGroupsCovering(groupRows, Uint32Array.from(locals)) });
    }
    // stack_id != row index: a file written differently than ours. Fall back to every row.
    if (locals.some((id) => want(id))) await decode({});
  } finally {
    reader.close();
  }
}
