import { isValidLabelName } from '@firn/profiles';
import type { ProcessInfo } from '../proc/process-table';
import { relabel, type RelabelConfig } from '@firn/profiles';

/** Kubernetes names of a container, when the agent can find them. */
export interface PodRef {
  namespace: string;
  pod: string;
  container: string;
}

/** Optional lookup of pod names by pod UID and container id (kubelet or API server). */
export interface PodResolver {
  lookup(podUid: string, containerId: string | undefined): PodRef | undefined;
}

export interface LabelResolverOptions {
  nodeName: string;
  relabelConfigs: readonly RelabelConfig[];
  pods?: PodResolver;
}

const MAX_VALUE = 2048;
const MAX_CACHE = 50_000;

/**
 * The series labels of a process: node, pid, comm, executable, container/pod facts, then the
 * operator's relabel rules. Labels starting with `__` (e.g. `__meta_cgroup`) are visible to the
 * rules and removed afterwards, as in Prometheus. Results are cached per process identity.
 */
export class LabelResolver {
  private readonly cache = new Map<string, Array<[string, string]> | null>();

  constructor(private readonly opts: LabelResolverOptions) {}

  /** Sorted labels, or null when a keep/drop rule drops this process. */
  labelsFor(pid: number, comm: string, info: ProcessInfo | undefined): Array<[string, string]> | null {
    const key = `${pid}\0${comm}\0${info?.identity ?? ''}`;
    const hit = this.cache.get(key);
    if (hit !== undefined) return hit;
    let cacheable = true;
    const labels = new Map<string, string>([
      ['node', this.opts.nodeName],
      ['pid', String(pid)],
      ['comm', comm],
    ]);
    if (info) {
      labels.set('executable', info.exe);
      labels.set('__meta_cgroup', info.cgroup.path);
      if (info.cgroup.containerId) labels.set('container_id', info.cgroup.containerId);
      if (info.cgroup.runtime) labels.set('__meta_container_runtime', info.cgroup.runtime);
      if (info.cgroup.podUid) {
        labels.set('pod_uid', info.cgroup.podUid);
        const ref = this.opts.pods?.lookup(info.cgroup.podUid, info.cgroup.containerId);
        if (ref) {
          labels.set('namespace', ref.namespace);
          labels.set('pod', ref.pod);
          labels.set('container', ref.container);
        }
        // Not known yet (a pod newer than the resolver's list): ask again next window.
        if (this.opts.pods && (!ref || (info.cgroup.containerId && !ref.container))) cacheable = false;
      }
    }
    const out = relabel(labels, this.opts.relabelConfigs);
    const result = out
      ? [...out]
          .filter(([k, v]) => !k.startsWith('__') && isValidLabelName(k) && v !== '')
          .map(([k, v]): [string, string] => [k, v.length > MAX_VALUE ? v.slice(0, MAX_VALUE) : v])
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      : null;
    if (!cacheable) return result;
    if (this.cache.size >= MAX_CACHE) this.cache.clear();
    this.cache.set(key, result);
    return result;
  }
}
