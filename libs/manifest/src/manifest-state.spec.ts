import { create, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { firnManifestV1 } from '@firn/proto';
import { tenantFromTrustedSource, type TenantId } from '@firn/tenancy';
import { compileMatchers, summaryMayMatch, type LabelMatcher, type MatchOp } from './label-match';
import { ManifestState, type SegmentQuery } from './manifest-state';

type SegmentMeta = firnManifestV1.SegmentMeta;
type ManifestDelta = firnManifestV1.ManifestDelta;

const t1 = tenantFromTrustedSource('t1');
const TENANTS = [t1, tenantFromTrustedSource('t2')];
const IDS = ['s0', 's1', 's2', 's3', 's4', 's5', 's6', 's7'];
const STREAMS = ['A', 'B'];
const LABEL_NAMES = ['a', 'b'];
const LABEL_VALUES = ['x', 'y', 'z', ''];
const PROFILE_TYPES = ['cpu', 'mem'];

interface Op {
  delta: ManifestDelta;
  seq: number;
}

type Row = Record<string, string>;

/** A segment plus the rows it "contains", so label pruning can be checked against ground truth. */
interface GenSegment {
  meta: SegmentMeta;
  rows: Row[];
}

function summaryOf(rows: Row[], truncate: string[]): firnManifestV1.LabelSummary[] {
  const out: firnManifestV1.LabelSummary[] = [];
  for (const name of LABEL_NAMES) {
    const values = [...new Set(rows.map((r) => r[name]).filter((v) => v !== ''))].sort();
    if (values.length === 0) continue;
    const truncated = truncate.includes(name);
    out.push(create(firnManifestV1.LabelSummarySchema, { name, values: truncated ? values.slice(0, 1) : values, truncated }));
  }
  return out;
}

const arbRange = fc.record({
  stream: fc.constantFrom(...STREAMS),
  first: fc.integer({ min: 0, max: 30 }),
  len: fc.integer({ min: 0, max: 6 }),
});

const arbSegment = (tenant: TenantId): fc.Arbitrary<GenSegment> =>
  fc
    .record({
      id: fc.constantFrom(...IDS),
      level: fc.constantFrom(0, 0, 0, 1),
      minMs: fc.integer({ min: 0, max: 100 }),
      spanMs: fc.integer({ min: 0, max: 30 }),
      profileTypes: fc.subarray(PROFILE_TYPES),
      rows: fc.array(fc.record({ a: fc.constantFrom(...LABEL_VALUES), b: fc.constantFrom(...LABEL_VALUES) }), { minLength: 1, maxLength: 4 }),
      truncate: fc.subarray(LABEL_NAMES),
      ranges: fc.array(arbRange, { maxLength: 3 }),
      rowsCount: fc.integer({ min: 1, max: 1000 }),
    })
    .map((g) => ({
      rows: g.rows,
      meta: create(firnManifestV1.SegmentMetaSchema, {
        id: g.id,
        tenantId: tenant,
        level: g.level,
        minTimeUnixNano: BigInt(g.minMs) * 1_000_000n,
        maxTimeUnixNano: BigInt(g.minMs + g.spanMs) * 1_000_000n + 999_999n,
        profileTypes: g.profileTypes,
        labels: summaryOf(g.rows, g.truncate),
        rows: BigInt(g.rowsCount),
        covered:
          g.level === 0
            ? g.ranges.map((r) => create(firnManifestV1.SequenceRangeSchema, { stream: r.stream, first: BigInt(r.first), last: BigInt(r.first + r.len) }))
            : [],
      }),
    }));

const arbDelta: fc.Arbitrary<{ delta: ManifestDelta; segments: GenSegment[] }> = fc
  .constantFrom(...TENANTS)
  .chain((tenant) =>
    fc.record({
      tenant: fc.constant(tenant),
      added: fc.array(arbSegment(tenant), { maxLength: 3 }),
      removed: fc.array(fc.constantFrom(...IDS), { maxLength: 2 }),
    }),
  )
  .map(({ tenant, added, removed }) => ({
    segments: added,
    delta: create(firnManifestV1.ManifestDeltaSchema, { tenantId: tenant, added: added.map((s) => s.meta), removed }),
  }));

/** Deltas with arbitrary (possibly colliding) seqs: the CRDT laws must hold even then. */
const arbOps = fc.array(
  fc.record({ d: arbDelta, seq: fc.integer({ min: 1, max: 40 }) }).map(({ d, seq }) => ({ delta: d.delta, seq })),
  { maxLength: 12 },
);

/** Deltas as the stream delivers them: unique increasing seqs. */
const arbLog = fc.array(arbDelta, { maxLength: 14 }).map((ds) => ({
  ops: ds.map((d, i) => ({ delta: d.delta, seq: i + 1 })),
  segments: ds.flatMap((d) => d.segments),
}));

function build(ops: readonly Op[]): ManifestState {
  const s = new ManifestState();
  for (const op of ops) s.applyDelta(op.delta, op.seq);
  return s;
}

function validIds(s: ManifestState, tenant: TenantId): string[] {
  return s
    .validSegments(tenant)
    .map((e) => e.meta.id)
    .sort();
}

function hex(meta: SegmentMeta): string {
  return Buffer.from(toBinary(firnManifestV1.SegmentMetaSchema, meta)).toString('hex');
}

/** The documented tie-break for one id added twice at one seq: the smaller encoding without label summaries, then the smaller full encoding. */
function addedBefore(a: SegmentMeta, b: SegmentMeta): boolean {
  const sa = hex(create(firnManifestV1.SegmentMetaSchema, { ...a, labels: [] }));
  const sb = hex(create(firnManifestV1.SegmentMetaSchema, { ...b, labels: [] }));
  return sa !== sb ? sa < sb : hex(a) < hex(b);
}

function rangesOverlap(a: SegmentMeta, b: SegmentMeta): boolean {
  if (a.level !== 0 || b.level !== 0) return false;
  return a.covered.some((x) => b.covered.some((y) => x.stream === y.stream && x.first <= y.last && y.first <= x.last));
}

/** The validity rule written as plainly as possible, independent of the indexed implementation. */
function referenceValid(ops: readonly Op[], tenant: TenantId): Array<{ meta: SegmentMeta; seq: number }> {
  const adds = new Map<string, { meta: SegmentMeta; seq: number }>();
  const removed = new Set<string>();
  for (const { delta, seq } of ops) {
    if (delta.tenantId !== tenant) continue;
    delta.removed.forEach((id) => removed.add(id));
    for (const meta of delta.added) {
      const old = adds.get(meta.id);
      if (!old || seq < old.seq || (seq === old.seq && addedBefore(meta, old.meta))) adds.set(meta.id, { meta, seq });
    }
  }
  const ordered = [...adds.values()].sort((a, b) => a.seq - b.seq || (a.meta.id < b.meta.id ? -1 : 1));
  const winners: SegmentMeta[] = [];
  for (const e of ordered) {
    if (!winners.some((w) => rangesOverlap(w, e.meta))) winners.push(e.meta);
  }
  return ordered.filter((e) => winners.includes(e.meta) && !removed.has(e.meta.id));
}

function shuffled<T>(xs: readonly T[], keys: readonly number[]): T[] {
  return xs
    .map((x, i) => ({ x, k: keys[i % Math.max(keys.length, 1)] ?? 0, i }))
    .sort((a, b) => a.k - b.k || a.i - b.i)
    .map((p) => p.x);
}

const arbMatcher: fc.Arbitrary<LabelMatcher> = fc.record({
  name: fc.constantFrom('a', 'b', 'c'),
  op: fc.constantFrom<MatchOp>('=', '!=', '=~', '!~'),
  value: fc.constantFrom('x', 'y', '', 'x|y', '.*', '.+', 'z.*', '[a-x]'),
});

const arbQuery: fc.Arbitrary<SegmentQuery> = fc
  .record({
    startMs: fc.integer({ min: -10, max: 140 }),
    len: fc.integer({ min: 0, max: 60 }),
    profileType: fc.option(fc.constantFrom(...PROFILE_TYPES, 'other'), { nil: undefined }),
    matchers: fc.array(arbMatcher, { maxLength: 3 }),
  })
  .map((q) => ({ startMs: q.startMs, endMs: q.startMs + q.len, profileType: q.profileType, matchers: q.matchers }));

function meta(
  id: string,
  seq: number,
  ranges: Array<[string, number, number]>,
  extra: MessageInitShape<typeof firnManifestV1.SegmentMetaSchema> = {},
): ManifestDelta {
  return create(firnManifestV1.ManifestDeltaSchema, {
    tenantId: t1,
    added: [
      create(firnManifestV1.SegmentMetaSchema, {
        id,
        tenantId: t1,
        maxTimeUnixNano: BigInt(seq) * 1_000_000n,
        covered: ranges.map(([stream, first, last]) => create(firnManifestV1.SequenceRangeSchema, { stream, first: BigInt(first), last: BigInt(last) })),
        ...extra,
      }),
    ],
  });
}

function removal(...ids: string[]): ManifestDelta {
  return create(firnManifestV1.ManifestDeltaSchema, { tenantId: t1, removed: ids });
}

describe(ManifestState.name, () => {
  describe('CRDT laws', () => {
    it('merge is commutative', () => {
      fc.assert(
        fc.property(arbOps, arbOps, (a, b) => {
          const ab = ManifestState.merge(build(a), build(b));
          const ba = ManifestState.merge(build(b), build(a));
          expect(ab.canonical()).toBe(ba.canonical());
          for (const t of TENANTS) expect(validIds(ab, t)).toEqual(validIds(ba, t));
        }),
      );
    });

    it('merge is associative', () => {
      fc.assert(
        fc.property(arbOps, arbOps, arbOps, (a, b, c) => {
          const [sa, sb, sc] = [build(a), build(b), build(c)];
          const left = ManifestState.merge(ManifestState.merge(sa, sb), sc);
          const right = ManifestState.merge(sa, ManifestState.merge(sb, sc));
          expect(left.canonical()).toBe(right.canonical());
          for (const t of TENANTS) expect(validIds(left, t)).toEqual(validIds(right, t));
        }),
      );
    });

    it('merge is idempotent', () => {
      fc.assert(
        fc.property(arbOps, (a) => {
          const s = build(a);
          const ss = ManifestState.merge(s, s);
          expect(ss.canonical()).toBe(s.canonical());
          for (const t of TENANTS) expect(validIds(ss, t)).toEqual(validIds(s, t));
        }),
      );
    });

    it('merging the states of two halves equals applying all deltas', () => {
      fc.assert(
        fc.property(arbOps, fc.integer({ min: 0, max: 12 }), (ops, cut) => {
          const merged = ManifestState.merge(build(ops.slice(0, cut)), build(ops.slice(cut)));
          expect(merged.canonical()).toBe(build(ops).canonical());
        }),
      );
    });
  });

  describe('validity', () => {
    it('gives the same valid set whatever order the deltas (with their seqs) are applied in', () => {
      fc.assert(
        fc.property(arbLog, fc.array(fc.integer(), { minLength: 1, maxLength: 14 }), fc.array(fc.integer({ min: 0, max: 40 })), ({ ops }, keys, coverProbe) => {
          const inOrder = build(ops);
          const anyOrder = build(shuffled(ops, keys));
          expect(anyOrder.canonical()).toBe(inOrder.canonical());
          for (const t of TENANTS) {
            expect(validIds(inOrder, t)).toEqual(validIds(anyOrder, t));
            expect(validIds(inOrder, t)).toEqual(
              referenceValid(ops, t)
                .map((e) => e.meta.id)
                .sort(),
            );
            for (const id of IDS) expect(inOrder.status(t, id)).toBe(anyOrder.status(t, id));
          }
          for (const stream of STREAMS) {
            for (const x of coverProbe) expect(inOrder.isCovered(stream, x)).toBe(anyOrder.isCovered(stream, x));
          }
        }),
      );
    });

    it('never lets two valid segments cover the same message, and never makes a removed segment valid', () => {
      fc.assert(
        fc.property(arbOps, (ops) => {
          const s = build(ops);
          for (const t of TENANTS) {
            const valid = s.validSegments(t);
            for (let i = 0; i < valid.length; i++) {
              for (let j = i + 1; j < valid.length; j++) expect(rangesOverlap(valid[i].meta, valid[j].meta)).toBe(false);
            }
            const removed = new Set(ops.filter((o) => o.delta.tenantId === t).flatMap((o) => o.delta.removed));
            for (const e of valid) expect(removed.has(e.meta.id)).toBe(false);
            for (const id of removed) expect(s.status(t, id)).toBe('removed');
          }
        }),
      );
    });

    it('isCovered answers exactly for the coverage of segments that won it', () => {
      fc.assert(
        fc.property(arbLog, ({ ops }) => {
          const s = build(ops);
          for (const stream of STREAMS) {
            for (let x = 0; x <= 40; x++) {
              const expected = TENANTS.some((t) =>
                // Winners are the valid ones plus removed winners: rebuild without removals to find them.
                referenceValid(
                  ops.map((o) => ({ seq: o.seq, delta: create(firnManifestV1.ManifestDeltaSchema, { ...o.delta, removed: [] }) })),
                  t,
                ).some((e) => e.meta.level === 0 && e.meta.covered.some((r) => r.stream === stream && r.first <= BigInt(x) && BigInt(x) <= r.last)),
              );
              expect(s.isCovered(stream, x)).toBe(expected);
            }
          }
        }),
      );
    });

    it('lets the earlier seq win a coverage conflict, whatever the ids', () => {
      const s = new ManifestState();
      s.applyDelta(meta('zzz', 1, [['ingest', 1, 10]]), 1);
      s.applyDelta(meta('aaa', 2, [['ingest', 5, 12]]), 2);
      s.applyDelta(meta('mmm', 3, [['ingest', 11, 20]]), 3);
      expect(s.status(t1, 'zzz')).toBe('valid');
      expect(s.status(t1, 'aaa')).toBe('conflict');
      // aaa lost, so it blocks nothing: mmm's 11..12 overlap with it does not count.
      expect(s.status(t1, 'mmm')).toBe('valid');
      expect(s.isCovered('ingest', 10)).toBe(true);
      expect(s.isCovered('ingest', 11)).toBe(true);
      expect(s.isCovered('ingest', 21)).toBe(false);
      expect(s.isCovered('other', 5)).toBe(false);
    });

    it('keeps a removed winner blocking, so retracting or compacting it never revives a loser', () => {
      const s = new ManifestState();
      s.applyDelta(meta('win', 1, [['ingest', 1, 10]]), 1);
      s.applyDelta(meta('lose', 2, [['ingest', 1, 10]]), 2);
      s.applyDelta(
        create(firnManifestV1.ManifestDeltaSchema, {
          tenantId: t1,
          removed: ['win'],
          added: [create(firnManifestV1.SegmentMetaSchema, { id: 'compacted', tenantId: t1, level: 1 })],
        }),
        3,
      );
      expect(s.status(t1, 'win')).toBe('removed');
      expect(s.status(t1, 'lose')).toBe('conflict');
      expect(s.status(t1, 'compacted')).toBe('valid');
      expect(s.isCovered('ingest', 5)).toBe(true);
      // Winners are what was ever stored: the removed winner and the block, never the loser.
      expect(
        s
          .winners(t1)
          .map((e) => e.meta.id)
          .sort(),
      ).toEqual(['compacted', 'win']);
    });

    it('keeps no label summaries for removed entries, whatever the order, and keeps everything usage and redeliveries need', () => {
      const labels = [create(firnManifestV1.LabelSummarySchema, { name: 'pod', values: ['p-1', 'p-2'] })];
      const add = create(firnManifestV1.ManifestDeltaSchema, {
        tenantId: t1,
        added: [
          create(firnManifestV1.SegmentMetaSchema, {
            id: 'seg',
            tenantId: t1,
            level: 0,
            objectKey: 'k/seg',
            rows: 7n,
            samples: 70n,
            labels,
            covered: [create(firnManifestV1.SequenceRangeSchema, { stream: 'ingest', first: 1n, last: 5n })],
          }),
        ],
      });
      const remove = create(firnManifestV1.ManifestDeltaSchema, { tenantId: t1, removed: ['seg'] });
      const addThenRemove = build([
        { delta: add, seq: 1 },
        { delta: remove, seq: 2 },
      ]);
      const removeThenAdd = build([
        { delta: remove, seq: 2 },
        { delta: add, seq: 1 },
      ]);
      const restored = ManifestState.merge(build([{ delta: add, seq: 1 }]), build([{ delta: remove, seq: 2 }]));
      for (const s of [addThenRemove, removeThenAdd, restored]) {
        expect(s.canonical()).toBe(addThenRemove.canonical());
        const e = s.entry(t1, 'seg');
        expect(e?.meta.labels).toEqual([]);
        expect(e?.meta).toMatchObject({ objectKey: 'k/seg', rows: 7n, samples: 70n });
        expect(s.winners(t1).map((w) => w.meta.id)).toEqual(['seg']);
        expect(s.isCovered('ingest', 3)).toBe(true);
      }
      expect(build([{ delta: add, seq: 1 }]).entry(t1, 'seg')?.meta.labels).toEqual(labels);
    });

    it('holds no label summaries for any removed entry, in any delta order and with colliding seqs', () => {
      fc.assert(
        fc.property(arbOps, (ops) => {
          const s = build(ops);
          const removed = new Set(ops.flatMap((o) => o.delta.removed.map((id) => `${o.delta.tenantId}/${id}`)));
          for (const t of TENANTS) {
            for (const id of IDS) {
              const e = s.entry(t, id);
              if (e && removed.has(`${t}/${id}`)) expect(e.meta.labels).toEqual([]);
            }
            for (const v of s.validSegments(t)) expect(removed.has(`${t}/${v.meta.id}`)).toBe(false);
          }
        }),
      );
    });

    it('ignores coverage on compaction output (level > 0)', () => {
      const s = new ManifestState();
      s.applyDelta(meta('l0', 1, [['ingest', 1, 10]]), 1);
      s.applyDelta(meta('l1', 2, [['ingest', 1, 10]], { level: 1 }), 2);
      expect(validIds(s, t1)).toEqual(['l0', 'l1']);
    });

    it('keeps the smaller seq when the same segment is added twice', () => {
      const s = new ManifestState();
      s.applyDelta(meta('a', 5, [['ingest', 1, 3]]), 5);
      s.applyDelta(meta('a', 9, [['ingest', 7, 9]]), 9);
      expect(s.entry(t1, 'a')?.seq).toBe(5);
      expect(s.isCovered('ingest', 8)).toBe(false);
      s.applyDelta(meta('a', 2, [['ingest', 20, 21]]), 2);
      expect(s.entry(t1, 'a')?.seq).toBe(2);
      expect(s.isCovered('ingest', 2)).toBe(false);
      expect(s.isCovered('ingest', 20)).toBe(true);
    });

    it('prune forgets coverage at or below the floor without changing validity', () => {
      const s = new ManifestState();
      s.applyDelta(meta('a', 1, [['ingest', 1, 10]]), 1);
      s.prune('ingest', 6);
      expect(s.isCovered('ingest', 6)).toBe(false);
      expect(s.isCovered('ingest', 7)).toBe(true);
      s.applyDelta(meta('b', 2, [['ingest', 3, 4]]), 2);
      expect(s.status(t1, 'b')).toBe('conflict');
      s.applyDelta(meta('c', 3, [['ingest', 2, 20]], { tenantId: t1 }), 3);
      // Out-of-order arrival forces a full recompute; the floor still applies afterwards.
      s.applyDelta(meta('early', 0, [['ingest', 30, 30]]), 0);
      expect(s.isCovered('ingest', 5)).toBe(false);
      expect(s.isCovered('ingest', 30)).toBe(true);
      expect(s.status(t1, 'c')).toBe('conflict');
    });

    it('refuses a delta naming an invalid tenant id, applying nothing', () => {
      const s = new ManifestState();
      const foreign = create(firnManifestV1.ManifestDeltaSchema, { ...meta('a', 1, [['ingest', 1, 10]]), tenantId: '../x' });
      expect(() => s.applyDelta(foreign, 1)).toThrow(/invalid tenant id/);
      expect(s.tenants()).toEqual([]);
      expect(s.isCovered('ingest', 5)).toBe(false);
    });
  });

  describe('segmentsOverlapping', () => {
    it('equals a brute-force filter over the valid set', () => {
      fc.assert(
        fc.property(arbLog, arbQuery, ({ ops }, query) => {
          const s = build(ops);
          const matchers = compileMatchers(query.matchers);
          for (const t of TENANTS) {
            const got = s.segmentsOverlapping(t, query).map((e) => e.meta.id);
            const want = referenceValid(ops, t)
              .filter(({ meta: m }) => {
                const minMs = Number(m.minTimeUnixNano / 1_000_000n);
                const maxMs = Number(m.maxTimeUnixNano / 1_000_000n);
                if (minMs > query.endMs || maxMs < query.startMs) return false;
                if (query.profileType !== undefined && m.profileTypes.length > 0 && !m.profileTypes.includes(query.profileType)) return false;
                return summaryMayMatch(m.labels, matchers);
              })
              .map((e) => e.meta.id);
            expect([...got].sort()).toEqual([...want].sort());
          }
        }),
      );
    });

    it('never prunes a segment that holds a matching row (label summaries are sound)', () => {
      fc.assert(
        fc.property(arbSegment(t1), fc.array(arbMatcher, { maxLength: 3 }), (seg, ms) => {
          const compiled = compileMatchers(ms);
          const someRowMatches = seg.rows.some((row) => compiled.every((m) => m.accepts(row[m.name] ?? '')));
          if (someRowMatches) expect(summaryMayMatch(seg.meta.labels, compiled)).toBe(true);
        }),
      );
    });

    it('prunes only on proof', () => {
      const labels = [
        create(firnManifestV1.LabelSummarySchema, { name: 'service', values: ['api', 'web'] }),
        create(firnManifestV1.LabelSummarySchema, { name: 'pod', values: ['p1'], truncated: true }),
      ];
      const may = (...ms: LabelMatcher[]): boolean => summaryMayMatch(labels, compileMatchers(ms));
      expect(may({ name: 'service', op: '=', value: 'api' })).toBe(true);
      expect(may({ name: 'service', op: '=', value: 'db' })).toBe(false);
      expect(may({ name: 'service', op: '=~', value: 'a.*' })).toBe(true);
      expect(may({ name: 'service', op: '=~', value: 'pi' })).toBe(false); // anchored: 'api' is not 'pi'
      expect(may({ name: 'service', op: '!~', value: 'api|web' })).toBe(true); // rows may lack the label
      expect(may({ name: 'pod', op: '=', value: 'p999' })).toBe(true); // truncated
      expect(may({ name: 'zone', op: '=', value: 'eu' })).toBe(false); // absent label is ''
      expect(may({ name: 'zone', op: '=', value: '' })).toBe(true);
      expect(may({ name: 'zone', op: '=~', value: 'eu|' })).toBe(true);
      expect(may({ name: 'zone', op: '=~', value: 'eu.*' })).toBe(false);
      expect(may({ name: 'zone', op: '!=', value: '' })).toBe(true);
      expect(may({ name: 'zone', op: '!~', value: '.*' })).toBe(true);
      expect(may({ name: '__name__', op: '=', value: 'process_cpu' })).toBe(true);
      expect(summaryMayMatch([], compileMatchers([{ name: 'service', op: '=', value: 'db' }]))).toBe(true);
      expect(() => compileMatchers([{ name: 'x', op: '=~', value: '(' }])).toThrow(/invalid regex/);
    });

    it('finds long segments that start well before the range', () => {
      const s = new ManifestState();
      s.applyDelta(meta('long', 1, [], { minTimeUnixNano: 0n, maxTimeUnixNano: 1_000_000_000n * 1_000_000n }), 1);
      s.applyDelta(meta('short', 2, [], { minTimeUnixNano: 500n * 1_000_000n, maxTimeUnixNano: 600n * 1_000_000n }), 2);
      expect(s.segmentsOverlapping(t1, { startMs: 10_000, endMs: 10_001 }).map((e) => e.meta.id)).toEqual(['long']);
      expect(s.segmentsOverlapping(t1, { startMs: 600, endMs: 700 }).map((e) => e.meta.id)).toEqual(['long', 'short']);
      expect(s.segmentsOverlapping(t1, { startMs: 700, endMs: 600 })).toEqual([]);
      expect(s.segmentsOverlapping(tenantFromTrustedSource('nobody'), { startMs: 0, endMs: 1 })).toEqual([]);
      s.applyDelta(removal('long'), 3);
      expect(s.segmentsOverlapping(t1, { startMs: 10_000, endMs: 10_001 })).toEqual([]);
    });
  });
});
