import type { TenantId } from '@firn/tenancy';

/** Queries and querier CPU of one tenant; CPU in microseconds so sums stay exact integers. */
export interface QueryTotals {
  queries: number;
  cpuMicros: number;
}

export function addTotals(a: QueryTotals, b: QueryTotals): QueryTotals {
  return { queries: a.queries + b.queries, cpuMicros: a.cpuMicros + b.cpuMicros };
}

export function subTotals(a: QueryTotals, b: QueryTotals): QueryTotals {
  return { queries: a.queries - b.queries, cpuMicros: a.cpuMicros - b.cpuMicros };
}

export const ZERO: QueryTotals = { queries: 0, cpuMicros: 0 };

/**
 * Counts queries per tenant and apportions the process's CPU time to them. Node has no per-
 * request CPU clock, so the meter reads `process.cpuUsage()` whenever a query starts or ends
 * and splits the CPU used since the previous reading evenly between the queries running in
 * that interval. A query running alone gets exactly the process CPU of its run (including scan
 * worker threads and whatever else the process did meanwhile, e.g. the manifest follower);
 * concurrent queries share.
 */
export class QueryMeter {
  private readonly running = new Map<number, TenantId>();
  private readonly cumulative = new Map<TenantId, QueryTotals>();
  private last: number;
  private nextId = 0;

  constructor(private readonly cpuMicrosNow: () => number = processCpuMicros) {
    this.last = cpuMicrosNow();
  }

  /** Counts a query of `tenant` and starts charging it CPU; call the returned function when it ends. */
  begin(tenant: TenantId): () => void {
    this.settle();
    const id = this.nextId++;
    this.running.set(id, tenant);
    this.bump(tenant, 1, 0);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.settle();
      this.running.delete(id);
    };
  }

  /** Cumulative totals per tenant since this meter was created (CPU settled up to now). */
  totals(): Map<TenantId, QueryTotals> {
    this.settle();
    return new Map([...this.cumulative].map(([t, v]) => [t, { ...v }]));
  }

  private settle(): void {
    const now = this.cpuMicrosNow();
    const used = Math.max(0, now - this.last);
    this.last = now;
    if (used === 0 || this.running.size === 0) return;
    // Whole microseconds: the remainder goes to the first queries, so nothing is lost or made up.
    const n = this.running.size;
    const share = Math.floor(used / n);
    let rest = used - share * n;
    for (const tenant of this.running.values()) {
      this.bump(tenant, 0, share + (rest > 0 ? 1 : 0));
      if (rest > 0) rest--;
    }
  }

  private bump(tenant: TenantId, queries: number, cpuMicros: number): void {
    const t = this.cumulative.get(tenant) ?? { queries: 0, cpuMicros: 0 };
    t.queries += queries;
    t.cpuMicros += cpuMicros;
    this.cumulative.set(tenant, t);
  }
}

function processCpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}
