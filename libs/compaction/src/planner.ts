import type { ManifestView } from '@firn/manifest';
import type { firnManifestV1 } from '@firn/proto';
import type { TenantId } from '@firn/tenancy';
import { windowStart, type LevelPolicy } from './levels';

type SegmentMeta = firnManifestV1.SegmentMeta;

export type TriggerReason = 'count' | 'bytes' | 'age';

/** One block to write: these valid segments of one tenant and window, merged into `level`. */
export interface CompactionJob {
  tenant: TenantId;
  level: number;
  windowStartMs: number;
  windowEndMs: number;
  /**
   * The tenant and top-level window holding this window. Windows nest, so two jobs that could
   * share an input always share this key; leasing it keeps them from running at once.
   */
  leaseKey: string;
  inputs: SegmentMeta[];
  reason: TriggerReason;
}

const NS_PER_MS = 1_000_000n;

export function minMsOf(meta: SegmentMeta): number {
  return Number(meta.minTimeUnixNano / NS_PER_MS) - (meta.minTimeUnixNano % NS_PER_MS < 0n ? 1 : 0);
}

export function maxMsOf(meta: SegmentMeta): number {
  return Number(meta.maxTimeUnixNano / NS_PER_MS) - (meta.maxTimeUnixNano % NS_PER_MS < 0n ? 1 : 0);
}

/** Lease key of the top-level window holding `timeMs` (KV keys allow [-/_=.a-zA-Z0-9]). */
export function leaseKeyOf(tenant: TenantId, timeMs: number, topWindowMs: number): string {
  return `${tenant}.w${windowStart(timeMs, topWindowMs)}`;
}

/**
 * The compactions a tenant needs now (pure). Highest level first, so a window due for a coarse
 * block takes every finer segment in it instead of racing a finer job for them; each segment
 * goes to at most one job. A window of level n takes every valid segment of level ≤ n whose min
 * time falls in it (re-merging an earlier level-n block with late arrivals), and is due when:
 * - it holds ≥ minSegments segments of level n-1 (count), or ≥ minBytes of them (bytes), or
 * - it ended settleMs ago (age);
 * and it has ≥ 2 inputs, at least one below level n (a lone block is already compacted).
 * Only level n-1 counts toward count/bytes so an open hour full of L0 does not jump to L2.
 */
export function planCompactions(view: ManifestView, tenant: TenantId, levels: readonly LevelPolicy[], nowMs: number): CompactionJob[] {
  const segments = view.validSegments(tenant).map((e) => e.meta);
  const topWindowMs = levels[levels.length - 1].windowMs;
  const claimed = new Set<string>();
  const jobs: CompactionJob[] = [];
  for (let i = levels.length - 1; i >= 0; i--) {
    const p = levels[i];
    const windows = new Map<number, SegmentMeta[]>();
    for (const s of segments) {
      if (s.level > p.level || claimed.has(s.id)) continue;
      const ws = windowStart(minMsOf(s), p.windowMs);
      const list = windows.get(ws);
      if (list) list.push(s);
      else windows.set(ws, [s]);
    }
    for (const [ws, inputs] of [...windows].sort((a, b) => a[0] - b[0])) {
      if (inputs.length < 2 || !inputs.some((s) => s.level < p.level)) continue;
      let count = 0;
      let bytes = 0;
      for (const s of inputs) {
        if (s.level !== p.level - 1) continue;
        count++;
        bytes += Number(s.bytes);
      }
      const reason: TriggerReason | undefined =
        count >= p.minSegments ? 'count' : bytes >= p.minBytes ? 'bytes' : nowMs >= ws + p.windowMs + p.settleMs ? 'age' : undefined;
      if (!reason) continue;
      for (const s of inputs) claimed.add(s.id);
      jobs.push({ tenant, level: p.level, windowStartMs: ws, windowEndMs: ws + p.windowMs, leaseKey: leaseKeyOf(tenant, ws, topWindowMs), inputs, reason });
    }
  }
  return jobs.sort((a, b) => a.windowStartMs - b.windowStartMs || a.level - b.level);
}

/** Valid segments lying wholly before `nowMs - retentionMs` (none when retention is 0 = forever). */
export function expiredSegments(view: ManifestView, tenant: TenantId, retentionMs: number, nowMs: number): SegmentMeta[] {
  if (retentionMs <= 0) return [];
  const cutoff = nowMs - retentionMs;
  return view
    .validSegments(tenant)
    .map((e) => e.meta)
    .filter((m) => maxMsOf(m) < cutoff);
}
