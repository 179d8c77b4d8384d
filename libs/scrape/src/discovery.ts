import { readFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { parse as parseYaml } from 'yaml';
import { ErrorCode, FirnError } from '@firn/errors';
import type { FileSdConfig, KubernetesSdConfig, StaticConfig } from './scrape-config';

/** Targets found by one discovery mechanism, with the labels they share (Prometheus' target group). */
export interface TargetGroup {
  /** Where the group came from (a file, a pod), for the targets API. */
  source: string;
  targets: string[];
  labels: Record<string, string>;
}

/** A discovery mechanism: asked for its current groups on every refresh. */
export interface Discoverer {
  readonly refreshMs: number;
  groups(): Promise<TargetGroup[]>;
}

export class StaticDiscoverer implements Discoverer {
  readonly refreshMs = Number.POSITIVE_INFINITY;

  constructor(private readonly configs: readonly StaticConfig[]) {}

  async groups(): Promise<TargetGroup[]> {
    return this.configs.map((c, i) => ({ source: `static_configs[${i}]`, targets: c.targets, labels: c.labels }));
  }
}

/**
 * Prometheus file service discovery: JSON or YAML files holding `[{targets: [...], labels: {...}}]`,
 * re-read every refresh. A file that cannot be read or parsed keeps its last good groups (and
 * says why), so a half-written file never drops live targets.
 */
export class FileDiscoverer implements Discoverer {
  readonly refreshMs: number;
  private readonly lastGood = new Map<string, TargetGroup[]>();
  lastError: string | undefined;

  constructor(private readonly config: FileSdConfig) {
    this.refreshMs = config.refreshMs;
  }

  async groups(): Promise<TargetGroup[]> {
    const out: TargetGroup[] = [];
    this.lastError = undefined;
    for (const file of this.config.files) {
      try {
        const doc = parseYaml(await readFile(file, 'utf8')) as unknown;
        const groups = parseFileGroups(doc, file);
        this.lastGood.set(file, groups);
      } catch (err) {
        this.lastError = `${file}: ${(err as Error).message}`;
      }
      out.push(...(this.lastGood.get(file) ?? []));
    }
    return out;
  }
}

export function parseFileGroups(doc: unknown, file: string): TargetGroup[] {
  if (doc === null || doc === undefined) return [];
  if (!Array.isArray(doc)) throw FirnError.invalidArgument(`${file}: must be a list of {targets, labels}`);
  return doc.map((g, i) => {
    const o = (g ?? {}) as { targets?: unknown; labels?: unknown };
    if (!Array.isArray(o.targets) || !o.targets.every((t) => typeof t === 'string'))
      throw FirnError.invalidArgument(`${file}[${i}].targets must be a list of host:port strings`);
    const labels = (o.labels ?? {}) as Record<string, unknown>;
    if (typeof labels !== 'object' || Array.isArray(labels)) throw FirnError.invalidArgument(`${file}[${i}].labels must be a mapping`);
    return { source: `${file}[${i}]`, targets: o.targets as string[], labels: Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, String(v)])) };
  });
}

const IN_CLUSTER_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';
const IN_CLUSTER_CA = '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt';

interface Pod {
  metadata?: { name?: string; namespace?: string; uid?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: {
    nodeName?: string;
    containers?: Array<{ name?: string; image?: string; ports?: Array<{ containerPort?: number; name?: string; protocol?: string }> }>;
  };
  status?: { podIP?: string; phase?: string; hostIP?: string; conditions?: Array<{ type?: string; status?: string }> };
}

/** Prometheus' label-name sanitising for Kubernetes labels and annotations. */
function sanitize(name: string): string {
  return name.replace(/[^a-zA-Z0-9_]/g, '_');
}

/**
 * Kubernetes pod discovery through the API server (`GET /api/v1/[namespaces/<ns>/]pods`), with
 * Prometheus' `role: pod` meta labels: one target per declared container port (or one per pod
 * without ports, at the pod IP), `__meta_kubernetes_namespace`, `_pod_name`, `_pod_ip`,
 * `_pod_uid`, `_pod_node_name`, `_pod_phase`, `_pod_ready`, `_pod_container_name`,
 * `_pod_container_port_{number,name,protocol}`, `_pod_label_<name>`, `_pod_annotation_<name>`
 * (and their `…present_` forms). Pods without an IP, or finished, are left out.
 */
export class KubernetesDiscoverer implements Discoverer {
  readonly refreshMs: number;
  lastError: string | undefined;
  private last: TargetGroup[] = [];

  constructor(
    private readonly config: KubernetesSdConfig,
    private readonly env: { host?: string; port?: string } = {},
  ) {
    this.refreshMs = config.refreshMs;
  }

  async groups(): Promise<TargetGroup[]> {
    try {
      const pods: Pod[] = [];
      for (const ns of this.config.namespaces.length > 0 ? this.config.namespaces : ['']) pods.push(...(await this.listPods(ns)));
      this.last = pods.flatMap(podGroups);
      this.lastError = undefined;
    } catch (err) {
      // Keep the last good list: an API server hiccup must not stop scraping.
      this.lastError = (err as Error).message;
    }
    return this.last;
  }

  private async listPods(namespace: string): Promise<Pod[]> {
    const base =
      this.config.apiServer || (this.env.host ? `https://${this.env.host.includes(':') ? `[${this.env.host}]` : this.env.host}:${this.env.port ?? '443'}` : '');
    if (!base)
      throw new FirnError(ErrorCode.FailedPrecondition, 'kubernetes_sd_configs: no api_server and not running in a cluster (KUBERNETES_SERVICE_HOST unset)');
    const inCluster = !this.config.apiServer;
    const tokenFile = this.config.bearerTokenFile || (inCluster ? IN_CLUSTER_TOKEN : '');
    const caFile = this.config.caFile || (inCluster ? IN_CLUSTER_CA : '');
    const token = tokenFile ? (await readFile(tokenFile, 'utf8')).trim() : '';
    const ca = caFile ? await readFile(caFile) : undefined;
    const q = new URLSearchParams();
    if (this.config.labelSelector) q.set('labelSelector', this.config.labelSelector);
    const path = `${namespace ? `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods` : '/api/v1/pods'}${q.size ? `?${q}` : ''}`;
    const body = await getJson(new URL(path, base), { token, ca, insecure: this.config.insecureSkipVerify });
    const items = (body as { items?: unknown }).items;
    if (!Array.isArray(items)) throw FirnError.unavailable(`kubernetes API ${path}: answer has no items list`);
    return items as Pod[];
  }
}

function podGroups(pod: Pod): TargetGroup[] {
  const ip = pod.status?.podIP;
  const phase = pod.status?.phase ?? '';
  if (!ip || phase === 'Succeeded' || phase === 'Failed') return [];
  const ready = pod.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
  const host = ip.includes(':') ? `[${ip}]` : ip;
  const common: Record<string, string> = {
    __meta_kubernetes_namespace: pod.metadata?.namespace ?? '',
    __meta_kubernetes_pod_name: pod.metadata?.name ?? '',
    __meta_kubernetes_pod_ip: ip,
    __meta_kubernetes_pod_uid: pod.metadata?.uid ?? '',
    __meta_kubernetes_pod_node_name: pod.spec?.nodeName ?? '',
    __meta_kubernetes_pod_host_ip: pod.status?.hostIP ?? '',
    __meta_kubernetes_pod_phase: phase,
    __meta_kubernetes_pod_ready: String(ready),
  };
  for (const [k, v] of Object.entries(pod.metadata?.labels ?? {})) {
    common[`__meta_kubernetes_pod_label_${sanitize(k)}`] = v;
    common[`__meta_kubernetes_pod_labelpresent_${sanitize(k)}`] = 'true';
  }
  for (const [k, v] of Object.entries(pod.metadata?.annotations ?? {})) {
    common[`__meta_kubernetes_pod_annotation_${sanitize(k)}`] = v;
    common[`__meta_kubernetes_pod_annotationpresent_${sanitize(k)}`] = 'true';
  }
  const source = `pod/${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`;
  const out: TargetGroup[] = [];
  for (const c of pod.spec?.containers ?? []) {
    const container = { __meta_kubernetes_pod_container_name: c.name ?? '', __meta_kubernetes_pod_container_image: c.image ?? '' };
    const ports = (c.ports ?? []).filter((p) => (p.protocol ?? 'TCP') === 'TCP' && p.containerPort);
    for (const p of ports) {
      out.push({
        source,
        targets: [`${host}:${p.containerPort}`],
        labels: {
          ...common,
          ...container,
          __meta_kubernetes_pod_container_port_number: String(p.containerPort),
          __meta_kubernetes_pod_container_port_name: p.name ?? '',
          __meta_kubernetes_pod_container_port_protocol: p.protocol ?? 'TCP',
        },
      });
    }
  }
  // A pod without declared ports is one target at its IP; relabeling usually sets the port.
  if (out.length === 0) out.push({ source, targets: [host], labels: common });
  return out;
}

function getJson(url: URL, opts: { token: string; ca?: Buffer; insecure: boolean }): Promise<unknown> {
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'GET',
        headers: { accept: 'application/json', ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}) },
        ...(url.protocol === 'https:' ? { ca: opts.ca, rejectUnauthorized: !opts.insecure } : {}),
        timeout: 15_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > 64 * 1024 * 1024) req.destroy(new Error('pod list larger than 64 MiB'));
          else chunks.push(c);
        });
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200) return reject(FirnError.unavailable(`kubernetes API ${url.pathname}: HTTP ${res.statusCode}: ${text.slice(0, 200)}`));
          try {
            resolve(JSON.parse(text));
          } catch {
            reject(FirnError.unavailable(`kubernetes API ${url.pathname}: answer is not JSON`));
          }
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('kubernetes API request timed out')));
    req.on('error', (err) => reject(err instanceof FirnError ? err : FirnError.unavailable(`kubernetes API ${url.pathname}: ${err.message}`)));
    req.end();
  });
}
