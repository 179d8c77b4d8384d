import { describe, expect, it } from 'vitest';
import { create } from '@bufbuild/protobuf';
import { ManifestState } from '@firn/manifest';
import { firnManifestV1 } from '@firn/proto';
import { tenantFromTrustedSource, tenantPrefix } from '@firn/tenancy';
import { validateLevels, type LevelPolicy } from './levels';
import { expiredSegments, planCompactions } from './planner';

const MIN = 60_000;
const t1 = tenantFromTrustedSource('t1');
const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);
const LEVELS: LevelPolicy[] = validateLevels([
  { level: 1, windowMs: 5 * MIN, minSegments: 4, minBytes: 1e9, settleMs: MIN, bucketMs: 0 },
  { level: 2, windowMs: 60 * MIN, minSegments: 3, minBytes: 1e9, settleMs: 5 * MIN, bucketMs: 10_000 },
]);

let seq = 0;
function seg(view: ManifestState, id: string, level: number, minMs: number, maxMs = minMs + 1000, bytes = 100): void {
  const meta = create(firnManifestV1.SegmentMetaSchema, {
    id,
    tenantId: t1,
    level,
    objectKey: `${tenantPrefix(t1)}segments/L${level}/2026-01-01/${id}/`,
    minTimeUnixNano: BigInt(minMs) * 1_000_000n,
    maxTimeUnixNano: BigInt(maxMs) * 1_000_000n,
    bytes: BigInt(bytes),
  });
  view.applyDelta(create(firnManifestV1.ManifestDeltaSchema, { tenantId: t1, added: [meta] }), ++seq);
}

describe(planCompactions.name, () => {
  it('waits for an open window until enough segments arrive, then compacts it to L1', () => {
    const view = new ManifestState();
    for (let i = 0; i < 3; i++) seg(view, `l0-${i}`, 0, T0 + i * 2000);
    expect(planCompactions(view, t1, LEVELS, T0 + 10_000)).toEqual([]);
    seg(view, 'l0-3', 0, T0 + 8000);
    const jobs = planCompactions(view, t1, LEVELS, T0 + 10_000);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({ level: 1, windowStartMs: T0, windowEndMs: T0 + 5 * MIN, reason: 'count', leaseKey: `t1.w${T0}` });
    expect(jobs[0].inputs.map((s) => s.id)).toEqual(['l0-0', 'l0-1', 'l0-2', 'l0-3']);
  });

  it('compacts a closed window once it has settled, even with few segments', () => {
    const view = new ManifestState();
    seg(view, 'a', 0, T0);
    seg(view, 'b', 0, T0 + 1000);
    expect(planCompactions(view, t1, LEVELS, T0 + 5 * MIN + MIN - 1)).toEqual([]);
    const jobs = planCompactions(view, t1, LEVELS, T0 + 6 * MIN);
    expect(jobs.map((j) => [j.level, j.reason, j.inputs.length])).toEqual([[1, 'age', 2]]);
  });

  it('re-merges a window block with late segments and leaves a lone block alone', () => {
    const view = new ManifestState();
    seg(view, 'blk', 1, T0, T0 + 4 * MIN);
    expect(planCompactions(view, t1, LEVELS, T0 + 10 * MIN)).toEqual([]);
    seg(view, 'late', 0, T0 + 3 * MIN);
    const jobs = planCompactions(view, t1, LEVELS, T0 + 10 * MIN);
    expect(jobs.map((j) => [j.level, j.inputs.map((s) => s.id).sort()])).toEqual([[1, ['blk', 'late']]]);
  });

  it('gives a due hour every finer segment in it and plans no overlapping L1 job', () => {
    const view = new ManifestState();
    for (let w = 0; w < 12; w++) seg(view, `l1-${w}`, 1, T0 + w * 5 * MIN, T0 + w * 5 * MIN + 4 * MIN);
    for (let i = 0; i < 5; i++) seg(view, `l0-${i}`, 0, T0 + 55 * MIN + i * 1000);
    const jobs = planCompactions(view, t1, LEVELS, T0 + 56 * MIN);
    expect(jobs.map((j) => [j.level, j.reason, j.inputs.length])).toEqual([[2, 'count', 17]]);
    const ids = jobs.flatMap((j) => j.inputs.map((s) => s.id));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('counts only the level just below toward a level trigger (an open hour of L0 stays at L1)', () => {
    const view = new ManifestState();
    for (let i = 0; i < 4; i++) seg(view, `l0-${i}`, 0, T0 + 10 * MIN + i * 1000);
    const jobs = planCompactions(view, t1, LEVELS, T0 + 11 * MIN);
    expect(jobs.map((j) => j.level)).toEqual([1]);
  });

  it('uses one lease key for every window of the same tenant hour', () => {
    const view = new ManifestState();
    for (let i = 0; i < 4; i++) seg(view, `a${i}`, 0, T0 + i * 1000);
    for (let i = 0; i < 4; i++) seg(view, `b${i}`, 0, T0 + 30 * MIN + i * 1000);
    for (let i = 0; i < 4; i++) seg(view, `c${i}`, 0, T0 + 60 * MIN + i * 1000);
    const keys = planCompactions(view, t1, LEVELS, T0 + 61 * MIN).map((j) => j.leaseKey);
    expect(keys).toEqual([`t1.w${T0}`, `t1.w${T0}`, `t1.w${T0 + 60 * MIN}`]);
  });
});

describe(expiredSegments.name, () => {
  it('returns only segments wholly older than the retention, none for retention 0', () => {
    const view = new ManifestState();
    seg(view, 'old', 0, T0, T0 + 1000);
    seg(view, 'straddles', 0, T0 + 1000, T0 + 3 * MIN);
    seg(view, 'new', 0, T0 + 5 * MIN);
    expect(expiredSegments(view, t1, 2 * MIN, T0 + 4 * MIN).map((s) => s.id)).toEqual(['old']);
    expect(expiredSegments(view, t1, 0, T0 + 400 * MIN)).toEqual([]);
  });
});

describe(validateLevels.name, () => {
  it('rejects windows that do not nest and levels out of order', () => {
    expect(() => validateLevels([{ ...LEVELS[0], windowMs: 7 * MIN }, LEVELS[1]])).toThrow(/multiple/);
    expect(() => validateLevels([LEVELS[1]])).toThrow(/1\.\.n/);
    expect(() => validateLevels([{ ...LEVELS[0], bucketMs: 7 * MIN }])).toThrow(/divide/);
  });
});
