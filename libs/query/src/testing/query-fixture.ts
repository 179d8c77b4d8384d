import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { ManifestState } from '@firn/manifest';
import { matchesLabels, SampleBatchBuilder, type Frame, type Label, type LabelMatcher } from '@firn/profiles';
import { firnManifestV1 } from '@firn/proto';
import { buildSegment, segmentDay, segmentKeys, segmentMeta, writeSegment, type BuildSegmentOptions } from '@firn/segments';
import { LocalDirStore, type ListOptions, type ListPage, type ObjectInfo, type ObjectStore, type PutOptions } from '@firn/storage';
import { tenantFromTrustedSource, type TenantId } from '@firn/tenancy';

// Test-only: segments built from known rows, a manifest over them, and brute-force answers.

export const CPU = 'parca_agent:samples:count:cpu:nanoseconds:delta';
export const MEM = 'memory:alloc_space:bytes:space:bytes';
export const T0 = Date.UTC(2024, 4, 1, 12, 0, 0);

export interface Row {
  pt: string;
  labels: Label[];
  stack: Frame[];
  value: number;
  ts: number;
  durationNs: number;
  /** Span profiles: the row's span id (16 lowercase hex digits). */
  span?: string;
  /** Sampling period; default 10 ms. */
  periodNs?: number;
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

/** Content key of a stack (independent of any hashing scheme). */
export function framesKey(frames: readonly Frame[]): string {
  return JSON.stringify(frames.map((f) => [f.buildId, f.mappingFile, String(f.address), f.functionName, f.fileName, f.line, f.inlined]));
}

import { mulberry32 } from '@firn/testing';

/** Seeded data, so every run builds the same segments. */
export const seeded = mulberry32;

/** An ObjectStore wrapper that counts what reads fetch. */
export class CountingStore implements ObjectStore {
  bytesRead = 0;
  requests = 0;
  /** Bytes read per object key. */
  readonly bytesByKey = new Map<string, number>();
  /** Puts per object key. */
  readonly putsByKey = new Map<string, number>();

  constructor(private readonly inner: ObjectStore) {}

  get description(): string {
    return this.inner.description;
  }

  reset(): void {
    this.bytesRead = 0;
    this.requests = 0;
    this.bytesByKey.clear();
    this.putsByKey.clear();
  }

  private count(key: string, bytes: number): void {
    this.requests++;
    this.bytesRead += bytes;
    this.bytesByKey.set(key, (this.bytesByKey.get(key) ?? 0) + bytes);
  }

  put(key: string, body: Uint8Array, opts?: PutOptions): Promise<void> {
    this.putsByKey.set(key, (this.putsByKey.get(key) ?? 0) + 1);
    return this.inner.put(key, body, opts);
  }

  async get(key: string): Promise<Buffer> {
    const b = await this.inner.get(key);
    this.count(key, b.length);
    return b;
  }

  async getRange(key: string, offset: number, length: number): Promise<Buffer> {
    const b = await this.inner.getRange(key, offset, length);
    this.count(key, b.length);
    return b;
  }

  head(key: string): Promise<ObjectInfo | undefined> {
    return this.inner.head(key);
  }

  list(prefix: string, opts?: ListOptions): Promise<ListPage> {
    return this.inner.list(prefix, opts);
  }

  listAll(prefix: string): AsyncIterable<ObjectInfo> {
    return this.inner.listAll(prefix);
  }

  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }

  check(): Promise<void> {
    return this.inner.check();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

export class QueryFixture {
  readonly rows: Row[] = [];
  readonly view = new ManifestState();
  readonly metas: firnManifestV1.SegmentMeta[] = [];
  private seq = 0;

  private constructor(
    readonly dir: string,
    readonly store: CountingStore,
    readonly tenant: TenantId,
  ) {}

  /** Segments go to `store` when given (e.g. an S3 store), else to a temp dir. */
  static async create(tenant: TenantId = tenantFromTrustedSource('t1'), store?: ObjectStore): Promise<QueryFixture> {
    const dir = await mkdtemp(join(tmpdir(), 'firn-query-'));
    return new QueryFixture(dir, new CountingStore(store ?? new LocalDirStore({ dir })), tenant);
  }

  async cleanup(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }

  /**
   * Builds, writes and registers one segment from `rows` (also kept for brute force). `rollup:
   * false` deletes its series rollup, as if written before rollups existed.
   */
  async addSegment(rows: Row[], opts: BuildSegmentOptions & { id?: string; rollup?: false } = {}): Promise<firnManifestV1.SegmentMeta> {
    const b = new SampleBatchBuilder();
    for (const r of rows) b.add(r.pt, r.labels, r.stack, r.value, r.ts, r.durationNs, r.periodNs ?? 10_000_000, r.span);
    const built = buildSegment([b.build()], opts);
    const id = opts.id ?? `segment${String(this.metas.length).padStart(4, '0')}`;
    const keys = segmentKeys(this.tenant, 0, id, segmentDay(built.meta.minTimeMs));
    await writeSegment(this.store, keys, built);
    if (opts.rollup === false) await this.store.delete(keys.series);
    const meta = segmentMeta(built.meta, { id, tenant: this.tenant, level: 0, keys });
    this.view.applyDelta(create(firnManifestV1.ManifestDeltaSchema, { tenantId: this.tenant, added: [meta] }), ++this.seq);
    this.rows.push(...rows);
    this.metas.push(meta);
    return meta;
  }

  /** Brute force: Σ value per stack (by content) of rows matching the query. */
  expectedTotals(
    pt: string,
    matchers: LabelMatcher[],
    startMs: number,
    endMs: number,
    rows: readonly Row[] = this.rows,
    spans?: readonly string[],
  ): Map<string, number> {
    const out = new Map<string, number>();
    for (const r of rows) {
      if (r.pt !== pt || r.ts < startMs || r.ts >= endMs || !matchesLabels(matchers, r.labels)) continue;
      if (spans && !spans.includes(r.span ?? '')) continue;
      const k = framesKey(r.stack);
      out.set(k, (out.get(k) ?? 0) + r.value);
    }
    return out;
  }
}

/** A mixed data set: two profile types, series with and without some labels, 60 s of rows. */
export function mixedRows(seed: number, opts: { startMs?: number; seconds?: number; pods?: number; stacks?: number } = {}): Row[] {
  const rnd = seeded(seed);
  const start = opts.startMs ?? T0;
  const stacks: Frame[][] = [];
  const fns = ['main', 'serve', 'handle', 'parse', 'alloc', 'hash', 'write', 'read'];
  for (let i = 0; i < (opts.stacks ?? 12); i++) {
    const depth = 1 + Math.floor(rnd() * 5);
    const s: Frame[] = [];
    for (let d = 0; d < depth; d++) s.push(frame(fns[Math.floor(rnd() * fns.length)], 1 + Math.floor(rnd() * 3)));
    s.push(frame('main', 0));
    stacks.push(s);
  }
  const series: Label[][] = [];
  for (let p = 0; p < (opts.pods ?? 4); p++) {
    const pod = `pod-${String.fromCharCode(97 + p)}`;
    series.push([['pod', pod]]);
    series.push([
      ['namespace', p % 2 ? 'prod' : 'dev'],
      ['pod', pod],
    ]);
    if (p === 0)
      series.push([
        ['namespace', 'prod'],
        ['pod', pod],
        ['zone', 'z1'],
      ]);
  }
  // One row per (profile type, series, stack, timestamp), as a segment stores them.
  const byKey = new Map<string, Row>();
  for (let s = 0; s < (opts.seconds ?? 60); s++) {
    for (const labels of series) {
      if (rnd() < 0.5) continue;
      const pt = rnd() < 0.7 ? CPU : MEM;
      const n = 1 + Math.floor(rnd() * 3);
      for (let k = 0; k < n; k++) {
        const si = Math.floor(rnd() * stacks.length);
        const value = 1 + Math.floor(rnd() * 100);
        const ts = start + s * 1000;
        const key = `${pt}|${JSON.stringify(labels)}|${si}|${ts}`;
        const row = byKey.get(key);
        if (row) row.value += value;
        else byKey.set(key, { pt, labels, stack: stacks[si], value, ts, durationNs: 1_000_000_000 });
      }
    }
  }
  return [...byKey.values()];
}
