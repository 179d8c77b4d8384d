import type { LabelMatcher, ManifestView } from '@firn/manifest';
import { compareStrings, labelColumnName, labelNameOfColumn, openSegmentObject } from '@firn/segments';
import type { ObjectStore } from '@firn/storage';
import type { TenantId } from '@firn/tenancy';
import { throwIfAborted } from './abort';
import { distinctStrings } from './arrow-columns';
import { mapBounded } from './bounded';
import { planSegments } from './plan';
import { segmentObjects, type SegmentMeta } from './segment-objects';
import { labelReader, scanSegmentRows } from './segment-rows';

export interface LabelQuery {
  /** [startMs, endMs) */
  startMs: number;
  endMs: number;
  profileType?: string;
  matchers?: readonly LabelMatcher[];
}

export interface LabelScanOptions {
  /** Segments read at once when summaries do not suffice. Default 2. */
  concurrency?: number;
  signal?: AbortSignal;
}

/*
 * Summaries are per segment, so without matchers they answer at segment granularity in time: a
 * segment overlapping the range contributes all its labels even if only some rows fall inside.
 * Scans (needed for matchers, or a profile type sharing its segment with others) are row-exact.
 */

/** The summary alone is exact for this query when no other profile type shares the segment. */
function summaryUsable(seg: SegmentMeta, q: LabelQuery): boolean {
  if ((q.matchers?.length ?? 0) > 0) return false;
  return q.profileType === undefined || (seg.profileTypes.length === 1 && seg.profileTypes[0] === q.profileType);
}

/** What the manifest answers of a label query, and the segments that must be read for the rest. */
export interface LabelPlan {
  /** Names (or values) known from the manifest summaries; may contain ''. */
  known: Set<string>;
  /** Segments to read: scanLabelNames / scanLabelValues; may be split across queriers. */
  toScan: SegmentMeta[];
}

/** Label names from the summaries where they are exact for the query; the other segments to read. */
export function labelNamesPlan(view: ManifestView, tenant: TenantId, q: LabelQuery): LabelPlan {
  const known = new Set<string>();
  const toScan: SegmentMeta[] = [];
  for (const seg of planSegments(view, tenant, q)) {
    // Every label name of a segment is in its summary, truncated or not (truncation cuts values).
    if (summaryUsable(seg, q) && seg.labels.length > 0) for (const l of seg.labels) known.add(l.name);
    else toScan.push(seg);
  }
  return { known, toScan };
}

/** Values of `name` from the summaries where they are exact and complete; the other segments to read. */
export function labelValuesPlan(view: ManifestView, tenant: TenantId, name: string, q: LabelQuery): LabelPlan {
  const known = new Set<string>();
  const toScan: SegmentMeta[] = [];
  for (const seg of planSegments(view, tenant, q)) {
    if (!summaryUsable(seg, q) || seg.labels.length === 0) {
      toScan.push(seg);
      continue;
    }
    const s = seg.labels.find((l) => l.name === name);
    if (!s) continue; // complete summaries list every label name: this one is absent
    if (s.truncated) toScan.push(seg);
    else for (const v of s.values) known.add(v);
  }
  return { known, toScan };
}

/** Label names of the selected rows of `segments` (trusted to be the tenant's), unsorted; may contain ''. */
export async function scanLabelNames(store: ObjectStore, segments: readonly SegmentMeta[], q: LabelQuery, opts: LabelScanOptions = {}): Promise<Set<string>> {
  const names = new Set<string>();
  await mapBounded(
    segments,
    opts.concurrency ?? 2,
    async (seg) => {
      if (summaryUsable(seg, q)) {
        for (const n of await footerLabelNames(store, seg, opts.signal)) names.add(n);
        return;
      }
      await scanSegmentRows(
        store,
        seg,
        rowFilter(q),
        { columns: [], labels: 'all' },
        ({ batch, rows }) => {
          for (const field of batch.schema.fields) {
            const name = labelNameOfColumn(field.name);
            if (name === undefined || names.has(name)) continue;
            const read = labelReader(batch, name);
            if (rows.some((i) => read(i) !== '')) names.add(name);
          }
        },
        opts.signal,
      );
    },
    opts.signal,
  );
  return names;
}

/** Values of label `name` in the selected rows of `segments` (trusted), unsorted; may contain ''. */
export async function scanLabelValues(
  store: ObjectStore,
  segments: readonly SegmentMeta[],
  name: string,
  q: LabelQuery,
  opts: LabelScanOptions = {},
): Promise<Set<string>> {
  const values = new Set<string>();
  await mapBounded(
    segments,
    opts.concurrency ?? 2,
    async (seg) => {
      if (summaryUsable(seg, q)) {
        for (const v of await dictionaryValues(store, seg, name, opts.signal)) values.add(v);
        return;
      }
      await scanSegmentRows(
        store,
        seg,
        rowFilter(q),
        { columns: [], labels: [name] },
        ({ batch, rows }) => {
          const read = labelReader(batch, name);
          for (const i of rows) values.add(read(i));
        },
        opts.signal,
      );
    },
    opts.signal,
  );
  return values;
}

/** Sorted (code-point order), deduplicated, without ''. */
export function sortedLabelSet(...sets: ReadonlyArray<Iterable<string>>): string[] {
  const all = new Set<string>();
  for (const s of sets) for (const v of s) all.add(v);
  all.delete('');
  return [...all].sort(compareStrings);
}

/** Label names present in the selection, sorted (code-point order), deduplicated. */
export async function labelNames(view: ManifestView, store: ObjectStore, tenant: TenantId, q: LabelQuery, opts: LabelScanOptions = {}): Promise<string[]> {
  const plan = labelNamesPlan(view, tenant, q);
  return sortedLabelSet(plan.known, await scanLabelNames(store, plan.toScan, q, opts));
}

/** Values of label `name` in the selection, sorted (code-point order), deduplicated, no ''. */
export async function labelValues(
  view: ManifestView,
  store: ObjectStore,
  tenant: TenantId,
  name: string,
  q: LabelQuery,
  opts: LabelScanOptions = {},
): Promise<string[]> {
  const plan = labelValuesPlan(view, tenant, name, q);
  return sortedLabelSet(plan.known, await scanLabelValues(store, plan.toScan, name, q, opts));
}

/** Profile types of the segments overlapping [startMs, endMs), from the manifest alone. */
export function profileTypes(view: ManifestView, tenant: TenantId, q: { startMs: number; endMs: number }): string[] {
  const types = new Set<string>();
  for (const seg of planSegments(view, tenant, q)) for (const t of seg.profileTypes) types.add(t);
  return sortedLabelSet(types);
}

function rowFilter(q: LabelQuery): { profileType?: string; matchers: readonly LabelMatcher[]; startMs: number; endMs: number } {
  return { profileType: q.profileType, matchers: q.matchers ?? [], startMs: q.startMs, endMs: q.endMs };
}

/** Label names from the column list in the footer: no column data is read. */
async function footerLabelNames(store: ObjectStore, seg: SegmentMeta, signal: AbortSignal | undefined): Promise<string[]> {
  throwIfAborted(signal);
  const reader = await openSegmentObject(store, segmentObjects(seg).samples);
  try {
    const cols = reader.layout().rowGroups[0]?.columns ?? [];
    return cols.map((c) => labelNameOfColumn(c.path)).filter((n): n is string => n !== undefined);
  } finally {
    reader.close();
  }
}

/** The distinct values of one label column: its (per row group) dictionaries, no row scan. */
async function dictionaryValues(store: ObjectStore, seg: SegmentMeta, name: string, signal: AbortSignal | undefined): Promise<string[]> {
  throwIfAborted(signal);
  const column = labelColumnName(name);
  const reader = await openSegmentObject(store, segmentObjects(seg).samples);
  try {
    const cols = reader.layout().rowGroups[0]?.columns ?? [];
    if (!cols.some((c) => c.path === column)) return [];
    const table = await reader.read({ columns: [column] });
    const out = new Set<string>();
    for (const batch of table.batches) {
      const d = batch.getChild(column)?.data[0];
      if (d) for (const v of distinctStrings(d)) out.add(v);
    }
    return [...out];
  } finally {
    reader.close();
  }
}
