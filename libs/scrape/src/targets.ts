import { createHash } from 'node:crypto';
import { isValidLabelName, relabel } from '@firn/profiles';
import type { TenantId } from '@firn/tenancy';
import type { TargetGroup } from './discovery';
import type { ProfileEndpoint, ScrapeConfig } from './scrape-config';

/** One endpoint to scrape, after relabeling. */
export interface Target {
  /** Stable identity (job + scheme + address + labels): the lease and status key. */
  id: string;
  job: string;
  tenant: TenantId;
  /** `http://host:port` (+ path prefix), without a trailing slash. */
  baseUrl: string;
  /** Labels stored with every profile (job, instance, static/relabeled labels); no `__` labels. */
  labels: Array<[string, string]>;
  profiles: ProfileEndpoint[];
  intervalMs: number;
  timeoutMs: number;
  /** Where discovery found it. */
  source: string;
}

/** A discovered target that relabeling dropped (shown by the targets API, as Prometheus does). */
export interface DroppedTarget {
  job: string;
  source: string;
  discoveredLabels: Record<string, string>;
}

/**
 * Prometheus' target building: the group's labels plus `__address__`, `__scheme__` and `job` go
 * through the job's `relabel_configs`; a target whose `__address__` ends empty or that a keep/drop
 * rule removes is dropped; `instance` defaults to the address; labels starting with `__` are then
 * removed, and so are names Firn cannot store.
 */
export function buildTargets(job: ScrapeConfig, groups: readonly TargetGroup[]): { active: Target[]; dropped: DroppedTarget[] } {
  const active: Target[] = [];
  const dropped: DroppedTarget[] = [];
  const seen = new Set<string>();
  for (const g of groups) {
    for (const address of g.targets) {
      const discovered = new Map<string, string>([...Object.entries(g.labels), ['__address__', address], ['__scheme__', job.scheme], ['job', job.jobName]]);
      const out = relabel(discovered, job.relabelConfigs);
      const addr = out?.get('__address__') ?? '';
      if (!out || addr === '') {
        dropped.push({ job: job.jobName, source: g.source, discoveredLabels: Object.fromEntries(discovered) });
        continue;
      }
      if (!out.has('instance')) out.set('instance', addr);
      const scheme = out.get('__scheme__') === 'https' ? 'https' : 'http';
      const labels = [...out].filter(([k, v]) => !k.startsWith('__') && v !== '' && isValidLabelName(k)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      const id = createHash('sha256')
        .update(JSON.stringify([job.tenant, job.jobName, scheme, addr, labels]))
        .digest('hex')
        .slice(0, 32);
      if (seen.has(id)) continue;
      seen.add(id);
      active.push({
        id,
        job: job.jobName,
        tenant: job.tenant,
        baseUrl: `${scheme}://${addr}${job.pathPrefix}`,
        labels,
        profiles: job.profiles,
        intervalMs: job.intervalMs,
        timeoutMs: job.timeoutMs,
        source: g.source,
      });
    }
  }
  return { active, dropped };
}
