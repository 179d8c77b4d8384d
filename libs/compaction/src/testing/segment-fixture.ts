import { create } from '@bufbuild/protobuf';
import type { ManifestView } from '@firn/manifest';
import { SampleBatchBuilder, type Frame } from '@firn/profiles';
import { firnManifestV1 } from '@firn/proto';
import { buildSegment, keysOfDir, newSegmentId, readSegment, segmentDay, segmentKeys, segmentMeta, totalsBySeriesAndStack, writeSegment } from '@firn/segments';
import type { ObjectStore } from '@firn/storage';
import type { TenantId } from '@firn/tenancy';
import { mulberry32 } from '@firn/testing';

// Test-only helpers: L0 segments written the way the ingester writes them, and totals read back.

export const CPU = 'parca_agent:samples:count:cpu:nanoseconds:delta';
export const ALLOC = 'memory:alloc_space:bytes:space:bytes';

export interface FixtureRow {
  pt: string;
  labels: Array<[string, string]>;
  stack: Frame[];
  value: number;
  ts: number;
  /** Span profiles: the row's span id (16 lowercase hex digits). */
  span?: string;
}

export function frame(fn: string, line = 1): Frame {
  return {
    buildId: 'b1d',
    mappingFile: '/app/bin',
    address: BigInt(0x1000 + fn.length * 16 + line),
    functionName: fn,
    fileName: `${fn}.go`,
    line,
    inlined: false,
  };
}

let counter = 0;

/** Builds and writes one level-0 segment; returns its manifest entry (with ingest coverage). */
export async function writeL0(
  store: ObjectStore,
  tenant: TenantId,
  rows: readonly FixtureRow[],
  opts: { covered?: [number, number]; id?: string; stacksLayout?: 'v1' | 'v2' } = {},
): Promise<firnManifestV1.SegmentMeta> {
  const b = new SampleBatchBuilder();
  for (const r of rows) b.add(r.pt, r.labels, r.stack, r.value, r.ts, 10_000_000_000, 52_631_578, r.span);
  const built = buildSegment([b.build()], { stacksLayout: opts.stacksLayout });
  const id = opts.id ?? newSegmentId(Date.now() + counter++);
  const keys = segmentKeys(tenant, 0, id, segmentDay(built.meta.minTimeMs));
  await writeSegment(store, keys, built);
  const covered = opts.covered
    ? [create(firnManifestV1.SequenceRangeSchema, { stream: 'FIRN_INGEST', first: BigInt(opts.covered[0]), last: BigInt(opts.covered[1]) })]
    : [];
  return segmentMeta(built.meta, { id, tenant, level: 0, keys, covered, createdAtMs: Date.now() });
}

export function addDelta(tenant: TenantId, added: firnManifestV1.SegmentMeta[], removed: string[] = []): firnManifestV1.ManifestDelta {
  return create(firnManifestV1.ManifestDeltaSchema, { tenantId: tenant, added, removed });
}

/** Σ value per `${profileType}|${series}|${stackKey}` over the given segments. */
export async function totalsOf(store: ObjectStore, metas: ReadonlyArray<Pick<firnManifestV1.SegmentMeta, 'objectKey'>>): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const m of metas) {
    const { samples, stacks } = await readSegment(store, keysOfDir(m.objectKey));
    for (const [k, v] of await totalsBySeriesAndStack(samples, stacks)) out.set(k, (out.get(k) ?? 0) + v);
  }
  return out;
}

/** Totals over every valid segment of a tenant in a view. */
export function validTotals(store: ObjectStore, view: ManifestView, tenant: TenantId): Promise<Map<string, number>> {
  return totalsOf(
    store,
    view.validSegments(tenant).map((e) => e.meta),
  );
}

export function sorted(m: Map<string, number>): Array<[string, number]> {
  return [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Deterministic rows: `seconds` of data for a few pods and stacks starting at `startMs`. */
export function rowsFor(seed: number, startMs: number, seconds: number, opts: { pods?: number; stacks?: number; stepMs?: number } = {}): FixtureRow[] {
  const rnd = mulberry32(seed);
  const fns = ['main', 'serve', 'handle', 'parse', 'alloc', 'hash', 'write', 'read'];
  const stacks: Frame[][] = [];
  for (let i = 0; i < (opts.stacks ?? 10); i++) {
    const depth = 1 + Math.floor(rnd() * 5);
    const st: Frame[] = [];
    for (let d = 0; d < depth; d++) st.push(frame(fns[Math.floor(rnd() * fns.length)], 1 + Math.floor(rnd() * 3)));
    st.push(frame('main', 0));
    stacks.push(st);
  }
  const rows: FixtureRow[] = [];
  const step = opts.stepMs ?? 1000;
  for (let t = 0; t < seconds * 1000; t += step) {
    for (let p = 0; p < (opts.pods ?? 3); p++) {
      if (rnd() < 0.3) continue;
      const labels: Array<[string, string]> =
        p === 0
          ? [['pod', `pod-${p}`]]
          : [
              ['namespace', p % 2 ? 'prod' : 'dev'],
              ['pod', `pod-${p}`],
            ];
      rows.push({
        pt: rnd() < 0.7 ? CPU : ALLOC,
        labels,
        stack: stacks[Math.floor(rnd() * stacks.length)],
        value: 1 + Math.floor(rnd() * 100),
        ts: startMs + t,
      });
    }
  }
  return rows;
}
