import type { RecordBatch } from 'apache-arrow';
import { FirnError } from '@firn/errors';
import type { Frame } from '@firn/profiles';
import { decodeStacksBatch, openSegmentObject, SCHEMA_METADATA_KEY, STACKS_SCHEMA_ID, StackColumn, type ParquetReader } from '@firn/segments';
import type { ObjectStore } from '@firn/storage';
import { throwIfAborted } from './abort';
import { requireColumn, stringsOf } from './arrow-columns';
import type { PartialStack } from './merge-stacks';
import { segmentObjects, type SegmentMeta } from './segment-objects';
import type { StackCatalog } from './stack-catalog';

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
    if (layout.keyValueMetadata[SCHEMA_METADATA_KEY] !== STACKS_SCHEMA_ID) {
      throw FirnError.invalidArgument(`segment ${JSON.stringify(seg.id)}: stacks object is not ${STACKS_SCHEMA_ID}`);
    }
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
    await decodeInto(reader, groups, wanted, out, signal);
    if (out.size < ids.length && groups.length < layout.rowGroups.length) {
      // stack_id != row index: a file written differently than ours. Fall back to every row group.
      await decodeInto(reader, undefined, wanted, out, signal);
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
  wanted: Uint8Array,
  out: Map<number, PartialStack>,
  signal: AbortSignal | undefined,
): Promise<void> {
  if (rowGroups && rowGroups.length === 0) return;
  const table = await reader.read({ columns: [StackColumn.stackId, StackColumn.stackKey, StackColumn.frames], rowGroups });
  throwIfAborted(signal);
  for (const batch of table.batches) decodeBatch(batch, wanted, out);
}

function decodeBatch(batch: RecordBatch, wanted: Uint8Array, out: Map<number, PartialStack>): void {
  const what = 'stacks object';
  for (const c of [StackColumn.stackId, StackColumn.stackKey, StackColumn.frames]) requireColumn(batch, c, what);
  decodeStacksBatch(
    batch,
    (id, key, frames) => out.set(id, { key, frames }),
    (id) => id < wanted.length && wanted[id] === 1 && !out.has(id),
  );
}

/**
 * Maps the stack ids of one segment to catalog ids, reading stacks.parquet only for what the
 * catalog lacks: keys of stack ids never mapped (only the row groups covering them), frames of
 * stacks the catalog has no frames for. Returns the segment's map (index = stack_id).
 * `ids` must be ascending and distinct.
 */
export async function resolveStacks(store: ObjectStore, seg: SegmentMeta, ids: Uint32Array, catalog: StackCatalog, signal?: AbortSignal): Promise<Int32Array> {
  const key = segmentObjects(seg).stacks;
  const last = ids.length > 0 ? ids[ids.length - 1] : -1;
  let map = catalog.segmentMap(key);
  const unmapped = (m: Int32Array | undefined): Uint32Array => (m ? ids.filter((id) => id >= m.length || m[id] < 0) : ids);
  const frameless = (m: Int32Array): Uint32Array => ids.filter((id) => catalog.frames[m[id]] === undefined);
  if (map && last < map.length && unmapped(map).length === 0 && frameless(map).length === 0) return map;
  throwIfAborted(signal);
  const reader = await openSegmentObject(store, key);
  try {
    throwIfAborted(signal);
    const layout = reader.layout();
    if (layout.keyValueMetadata[SCHEMA_METADATA_KEY] !== STACKS_SCHEMA_ID) {
      throw FirnError.invalidArgument(`segment ${JSON.stringify(seg.id)}: stacks object is not ${STACKS_SCHEMA_ID}`);
    }
    const groupRows = layout.rowGroups.map((g) => g.rows);
    map = catalog.ensureSegmentMap(key, Math.max(layout.rows, last + 1));
    let need = unmapped(map);
    // A tenant's first query: keys and frames in one read. Later, keys first, frames only for
    // the stacks still new (most stacks recur across segments).
    const readAll = need.length > 0 && catalog.size === 0;
    if (need.length > 0) {
      const columns = readAll ? [StackColumn.stackId, StackColumn.stackKey, StackColumn.frames] : [StackColumn.stackId, StackColumn.stackKey];
      await mapInto(reader, rowGroupsCovering(groupRows, need), columns, map, catalog, signal, ids);
      need = unmapped(map);
      if (need.length > 0) {
        // stack_id != row index: a file written differently than ours. Fall back to every row group.
        await mapInto(reader, undefined, columns, map, catalog, signal, ids);
        need = unmapped(map);
      }
      if (need.length > 0) {
        throw FirnError.invalidArgument(`segment ${JSON.stringify(seg.id)}: samples reference stack_id ${need[0]} missing from the stacks object`);
      }
    }
    const noFrames = frameless(map);
    if (noFrames.length > 0) {
      await mapInto(
        reader,
        rowGroupsCovering(groupRows, noFrames),
        [StackColumn.stackId, StackColumn.stackKey, StackColumn.frames],
        map,
        catalog,
        signal,
        noFrames,
      );
      if (frameless(map).length > 0)
        await mapInto(reader, undefined, [StackColumn.stackId, StackColumn.stackKey, StackColumn.frames], map, catalog, signal, noFrames);
    }
    return map;
  } finally {
    reader.close();
  }
}

/**
 * Maps every row read to its catalog id; with the frames column also stores the frames of
 * stacks that lack them (only of `framesOf` when given).
 */
async function mapInto(
  reader: ParquetReader,
  rowGroups: number[] | undefined,
  columns: string[],
  map: Int32Array,
  catalog: StackCatalog,
  signal: AbortSignal | undefined,
  framesOf?: Uint32Array,
): Promise<void> {
  if (rowGroups && rowGroups.length === 0) return;
  const table = await reader.read({ columns, rowGroups });
  throwIfAborted(signal);
  const withFrames = columns.includes(StackColumn.frames);
  let want: Uint8Array | undefined;
  if (framesOf && framesOf.length > 0) {
    want = new Uint8Array(framesOf[framesOf.length - 1] + 1);
    for (const id of framesOf) want[id] = 1;
  }
  for (const batch of table.batches) {
    const ids = requireColumn(batch, StackColumn.stackId, 'stacks object').values as Uint32Array;
    const keys = stringsOf(requireColumn(batch, StackColumn.stackKey, 'stacks object'));
    for (let i = 0; i < batch.numRows; i++) {
      const id = ids[i];
      if (id < map.length && map[id] < 0) map[id] = catalog.intern(keys(i));
    }
    if (!withFrames) continue;
    requireColumn(batch, StackColumn.frames, 'stacks object');
    decodeStacksBatch(
      batch,
      (id, _key, frames) => catalog.setFrames(map[id], frames),
      (id) => id < map.length && map[id] >= 0 && catalog.frames[map[id]] === undefined && (!want || (id < want.length && want[id] === 1)),
    );
  }
}
